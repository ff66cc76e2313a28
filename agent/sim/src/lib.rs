//! The simulated Hyper-V fleet.
#![forbid(unsafe_code)]

pub mod clock;
pub mod generate;
pub mod model;
