//! Shared test support: agent data builders and (for the end-to-end tests) the in-process
//! suite.

#![allow(dead_code)] // each test binary uses a different part

pub mod agent_data;
