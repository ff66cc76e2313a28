//! The jobs service (`aetherv-jobs`), being written.
#![forbid(unsafe_code)]

pub mod domain;
pub mod engine;
pub mod spec;
