//! The remote-tasks service (placeholder while the crate is written).
#![forbid(unsafe_code)]
