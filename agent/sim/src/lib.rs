//! `aetherv-hvsim`: a simulated fleet of Microsoft Hyper-V hosts that the product reaches
//! exactly as it reaches real ones. Each host is a real WinRM endpoint (the
//! `aetherv-winrm` server: NTLM with message encryption over HTTP, Basic or NTLM over
//! HTTPS) on its own loopback address, and answers `powershell.exe -EncodedCommand
//! <bootstrap>` by emulating the agent bootstrap and running the agent operation
//! (`aetherv-hyperv`'s types and schemas) on an in-memory Hyper-V model. It is used by the
//! integration tests of every service that touches hosts, by `aetherv up` and by the
//! benchmarks; it calls `aetherv-winrm` (server side) and `aetherv-hyperv` (protocol).
//!
//! - [`model`]: one host's Hyper-V (no I/O): VMs, disks, NICs, switches, volumes, the
//!   resource catalogue, power transitions on the simulated clock ([`clock`]).
//! - [`generate`]: hosts, clusters and VMs from a seed.
//! - [`agent`]: the process behind each WinRS command (bootstrap, request, knobs, output).
//! - [`changes`]: what each mutation of a model did to its VMs, for `inventory.watch`.
//! - [`SimFleet`] / [`SimHost`]: the in-process API — builder, knobs, inspection,
//!   out-of-band changes; [`control`] serves the same over HTTP + JSON.
//! - [`fleet_config`]: the TOML file remote-tasks reads; [`scenario`]: knobs at start.

#![forbid(unsafe_code)]

pub mod agent;
pub mod changes;
pub mod clock;
pub mod control;
pub mod credentials;
pub mod error;
pub mod fleet;
pub mod fleet_config;
pub mod generate;
pub mod host;
pub mod knobs;
pub mod model;
pub mod net;
pub mod oplog;
pub mod scenario;
pub mod validate;

pub use clock::{SimClock, SimInstant};
pub use error::Error;
pub use fleet::{Scheme, SimFleet, SimFleetBuilder};
pub use fleet_config::FleetConfig;
pub use generate::FleetSpec;
pub use host::SimHost;
pub use knobs::{FailNext, KnobsPatch, KnobsView, Malformed, MalformedMode, Responsiveness};
pub use model::vm_ops::{NewVm, VmChange};
pub use oplog::{OperationRecord, Outcome};
pub use scenario::Scenario;
