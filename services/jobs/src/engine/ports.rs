//! What the engine needs from the outside, as traits: an [`Executor`] that runs one agent
//! operation on a host (remote-tasks `Run`/`Cancel`), a [`Fleet`] that answers what the
//! pre-checks ask (inventory, and the host's catalogue through remote-tasks) and refreshes
//! a host after a change, and [`JobHooks`] told when a job is queued or finished
//! (notifications). The service wires the gRPC clients in; the domain tests wire scripted
//! ones.

use std::time::Duration;

use aetherv_hyperv::{HostId, Operation, ResourceCatalogue, VmId};
use aetherv_runtime::{ApiError, Secret};
use futures::future::BoxFuture;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::domain::Job;
use crate::domain::facts::{HostFacts, VmFacts};
use crate::domain::model::Level;
use crate::domain::plan::Category;

/// One operation to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The host.
    pub host: HostId,
    /// The operation.
    pub operation: Operation,
    /// remote-tasks category.
    pub category: Category,
    /// Its params (may hold secrets; prints masked).
    pub params: Secret<Value>,
    /// Correlation id for the agent's log (the job id).
    pub correlation_id: String,
    /// How long it may run once started.
    pub timeout: Duration,
    /// The caller the job was submitted by (`user:alice`), propagated to remote-tasks.
    pub requester: Option<String>,
}

/// Something that happened while an operation ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEvent {
    /// Queued in remote-tasks with this task id.
    Accepted {
        /// The task.
        task_id: String,
    },
    /// Sent to the host.
    Started,
    /// A log line of the agent.
    Log {
        /// Severity.
        level: Level,
        /// Text (not yet scrubbed).
        message: String,
    },
    /// A progress line of the agent.
    Progress {
        /// Step text.
        step: String,
        /// 0..100.
        percent: u32,
        /// Detail.
        message: String,
    },
}

/// Why an operation did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub enum RunError {
    /// remote-tasks did not accept it (queue full, shutting down, unreachable, invalid):
    /// nothing ran on the host.
    Refused(ApiError),
    /// It was accepted and failed (on the host, on the way, timed out or cancelled).
    Failed(ApiError),
}

/// Runs agent operations on hosts.
pub trait Executor: Send + Sync + 'static {
    /// Runs `request`, reporting events as they happen. When `cancel` fires, the operation
    /// is stopped on the host (or dropped from its queue) and the run ends with a
    /// CANCELLED failure — or with its result, if it finished first.
    fn run<'a>(
        &'a self,
        request: RunRequest,
        events: &'a (dyn Fn(RunEvent) + Send + Sync),
        cancel: CancellationToken,
    ) -> BoxFuture<'a, Result<Value, RunError>>;
}

/// What the pre-checks and refreshes need from inventory and the hosts.
pub trait Fleet: Send + Sync + 'static {
    /// A host; `None` when it is not configured.
    fn host<'a>(&'a self, host: &'a HostId) -> BoxFuture<'a, Result<Option<HostFacts>, ApiError>>;

    /// Every configured host's id.
    fn hosts(&self) -> BoxFuture<'_, Result<Vec<String>, ApiError>>;

    /// A VM; `None` when unknown.
    fn vm(&self, vm: VmId) -> BoxFuture<'_, Result<Option<VmFacts>, ApiError>>;

    /// The VM of that name on that host (names compare case-insensitively).
    fn vm_named<'a>(
        &'a self,
        host: &'a HostId,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<VmId>, ApiError>>;

    /// The host's resource catalogue, fresh from the host.
    fn catalogue<'a>(
        &'a self,
        host: &'a HostId,
    ) -> BoxFuture<'a, Result<ResourceCatalogue, ApiError>>;

    /// Refreshes the host in inventory and returns when done.
    fn refresh<'a>(&'a self, host: &'a HostId) -> BoxFuture<'a, Result<(), ApiError>>;
}

/// Told about a job's milestones: queued (also again after a retry) and finished.
pub trait JobHooks: Send + Sync + 'static {
    /// The job was queued, retried, or reached a final state.
    fn changed(&self, job: &Job);
}

/// Hooks that do nothing (no notifications configured).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl JobHooks for NoHooks {
    fn changed(&self, _: &Job) {}
}
