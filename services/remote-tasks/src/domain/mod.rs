//! The remote-tasks domain, free of tonic: categories and task ids, limits, the admission
//! scheduler, the per-task runner, failure classification, metrics, the Cancel registry
//! and the [`Tasks`] facade.

pub mod category;
pub mod failure;
pub mod limits;
pub mod metrics;
pub mod registry;
pub mod runner;
pub mod scheduler;
pub mod service;
pub mod task;

pub use category::{Category, PerCategory, TaskId, TaskIdError};
pub use limits::{CategoryLimit, Limits};
pub use service::{
    CancelError, CancelOutcome, HostInfo, RunInput, STREAM_BUFFER, Snapshot, SubmitError, Tasks,
};
pub use task::{EventKind, LogLevel, TaskEvent, TaskFailure, TaskResult};
