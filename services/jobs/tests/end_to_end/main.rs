//! End-to-end tests: the simulated fleet reached over real WinRM, the real remote-tasks,
//! inventory and notifications services and jobs, each on its own loopback port, driven
//! over gRPC (and by grpcurl). One binary (one link) for all of them.

#[path = "../support/mod.rs"]
mod support;

mod binary;
mod cancel_retry;
mod config_and_health;
mod deployment;
mod grpcurl;
mod lifecycle;
mod ordering;
mod service;
