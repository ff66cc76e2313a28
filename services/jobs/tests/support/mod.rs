//! Shared test support: scripted ports for the domain tests, and the in-process suite for
//! end-to-end tests.

#![allow(dead_code)] // each test binary uses a different part

pub mod domain;
pub mod suite;
