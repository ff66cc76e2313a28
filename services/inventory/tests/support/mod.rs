//! Shared test support: agent data builders and the in-process suite.

#![allow(dead_code)] // each test binary uses a different part

pub mod agent_data;
pub mod suite;
