//! Shared test support: the in-process suite for end-to-end tests.

#![allow(dead_code)] // each test binary uses a different part

pub mod suite;
