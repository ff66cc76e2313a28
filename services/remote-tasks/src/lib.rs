//! The remote-tasks service (being written).
#![forbid(unsafe_code)]

pub mod domain;
