//! Keeping the model fresh: the collector seam ([`collector`]), one host refresh with
//! coalescing and stale-result rejection ([`engine`]), the spread schedule ([`schedule`])
//! and its statistics ([`stats`]).

pub mod collector;
pub mod engine;
pub mod schedule;
pub mod stats;
