//! Keeping the model fresh: the collector seam ([`collector`]), one host refresh with
//! coalescing and stale-result rejection ([`engine`]), the spread schedule ([`schedule`])
//! and its statistics ([`stats`]), and the host watches that refresh a host as soon as it
//! reports a change ([`watch`]).

pub mod collector;
pub mod engine;
pub mod schedule;
pub mod stats;
pub mod watch;
