//! Tests without I/O: spec validation against the schemas, planning and the pre-checks,
//! and the engine's ordering, cancel, retry, redaction and bounds over scripted ports.
//! One binary (one link) for all of them.

#[path = "../support/mod.rs"]
mod support;

mod ordering;
mod planning;
mod spec_validation;
