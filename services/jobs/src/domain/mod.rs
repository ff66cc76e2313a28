//! The jobs domain, free of transport types: the job [`model`], the [`events`] log, the
//! [`store`] of jobs with its history bounds, the [`checks`] run before a job is queued
//! (over [`facts`] from inventory and the host's catalogue), [`plan`]ning a spec into
//! steps, and the fair [`locks`] that order jobs per VM and heavy steps per host.

pub mod checks;
pub mod events;
pub mod facts;
pub mod locks;
pub mod model;
pub mod plan;
pub mod store;

pub use model::{
    CreatedResource, Job, JobId, JobState, Level, OutputLine, ResourceKind, Step, StepState,
    Waiting, WaitingReason,
};
