//! The job model: ids, states, steps, output lines and what a job created. Plain data, no
//! transport types; `grpc::convert` maps it to `aetherv.jobs.v1`.

use std::collections::VecDeque;
use std::fmt;
use std::time::SystemTime;

use aetherv_hyperv::{HostId, Operation, VmId};
use aetherv_runtime::ApiError;
use serde_json::Value;

use crate::spec::JobType;

/// A job's id: `job-<lower-case uuid v4>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(String);

impl JobId {
    /// A fresh id.
    pub fn random() -> JobId {
        JobId(format!("job-{}", uuid::Uuid::new_v4()))
    }

    /// Parses `job-<uuid>`; `None` when it is not one.
    pub fn parse(text: &str) -> Option<JobId> {
        let uuid = text.strip_prefix("job-")?;
        let parsed = uuid::Uuid::try_parse(uuid).ok()?;
        (parsed.hyphenated().to_string() == uuid).then(|| JobId(text.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Accepted, not yet considered.
    Pending,
    /// Blocked (see [`Waiting`]).
    Waiting,
    /// A step runs.
    Running,
    /// Every step succeeded.
    Succeeded,
    /// A step failed.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl JobState {
    /// Succeeded, failed or cancelled.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Waiting => "waiting",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
}

/// What a waiting job waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitingReason {
    /// Another job on the same VM.
    VmBusy,
    /// A heavy step of another job on the host, or remote-tasks' queue for it is full.
    HostBusy,
    /// remote-tasks does not answer.
    HostNotReady,
}

/// Why a job waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The kind of blocker.
    pub reason: WaitingReason,
    /// For people: "job job-… holds vm web-01".
    pub text: String,
    /// The job that blocks this one.
    pub blocking_job: Option<JobId>,
    /// Since when.
    pub since: SystemTime,
}

/// Where a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    /// Not run yet.
    Pending,
    /// Running on the host.
    Running,
    /// Done.
    Succeeded,
    /// Failed.
    Failed,
    /// Stopped by a cancel.
    Cancelled,
    /// Not run: an earlier step failed or the job was cancelled.
    Skipped,
}

/// One agent operation of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Position in the plan.
    pub index: u32,
    /// For people: "create disk 1 (clone ubuntu-24.04)".
    pub name: String,
    /// The agent operation.
    pub operation: Operation,
    /// Where it is.
    pub state: StepState,
    /// 0..100.
    pub percent: u32,
    /// The agent's progress text.
    pub progress_step: String,
    /// Output lines it produced.
    pub output_lines: u32,
    /// Result data (scrubbed), when it succeeded.
    pub result: Option<Value>,
    /// Why it failed.
    pub error: Option<ApiError>,
    /// Latest start.
    pub started_at: Option<SystemTime>,
    /// Latest end.
    pub finished_at: Option<SystemTime>,
    /// Runs so far (0 before the first).
    pub attempt: u32,
    /// remote-tasks task of the latest run.
    pub task_id: Option<String>,
}

impl Step {
    /// A step that has not run.
    pub fn new(index: u32, name: String, operation: Operation) -> Step {
        Step {
            index,
            name,
            operation,
            state: StepState::Pending,
            percent: 0,
            progress_step: String::new(),
            output_lines: 0,
            result: None,
            error: None,
            started_at: None,
            finished_at: None,
            attempt: 0,
            task_id: None,
        }
    }
}

/// What kind of thing a job created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// A VM.
    Vm,
    /// A virtual disk.
    Disk,
    /// A network adapter.
    Nic,
}

/// Something a job created on its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedResource {
    /// VM, disk or adapter.
    pub kind: ResourceKind,
    /// Its id.
    pub id: String,
    /// VM name, disk path or adapter name.
    pub name: String,
    /// The host.
    pub host: HostId,
    /// The step that created it.
    pub step_index: u32,
}

/// Severity of an output line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Warning.
    Warning,
    /// Error.
    Error,
}

/// One output line (scrubbed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    /// When.
    pub time: SystemTime,
    /// Severity.
    pub level: Level,
    /// Text.
    pub text: String,
    /// The step that produced it; `None` for job-level lines.
    pub step: Option<u32>,
}

/// A job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// Submission order (newest is highest); list paging goes by it.
    pub seq: u64,
    /// What it does.
    pub job_type: JobType,
    /// Where it is.
    pub state: JobState,
    /// Set while waiting.
    pub waiting: Option<Waiting>,
    /// Its host.
    pub host: HostId,
    /// Its VM, once known.
    pub vm_id: Option<VmId>,
    /// Its VM's name, for display.
    pub vm_name: String,
    /// Who submitted it (`user:alice`); empty when anonymous.
    pub requester: String,
    /// The spec with secrets masked.
    pub spec: Value,
    /// The plan.
    pub steps: Vec<Step>,
    /// What it created, in order.
    pub created_resources: Vec<CreatedResource>,
    /// Output, oldest first, bounded.
    pub output: VecDeque<OutputLine>,
    /// Lines dropped at the front.
    pub output_truncated: u64,
    /// 0..100.
    pub percent: u32,
    /// Why it failed.
    pub error: Option<ApiError>,
    /// Submitted.
    pub created_at: SystemTime,
    /// First step of the latest attempt started.
    pub started_at: Option<SystemTime>,
    /// Reached a terminal state.
    pub finished_at: Option<SystemTime>,
    /// 1 + retries.
    pub attempt: u32,
    /// Cancel was asked for.
    pub cancel_requested: bool,
    /// Latest event about it.
    pub last_event_id: u64,
    /// The Submit idempotency key.
    pub request_id: Option<String>,
}

impl Job {
    /// A copy without output lines (for lists, events and snapshots without output).
    pub fn without_output(&self) -> Job {
        Job {
            id: self.id.clone(),
            seq: self.seq,
            job_type: self.job_type,
            state: self.state,
            waiting: self.waiting.clone(),
            host: self.host.clone(),
            vm_id: self.vm_id,
            vm_name: self.vm_name.clone(),
            requester: self.requester.clone(),
            spec: self.spec.clone(),
            steps: self.steps.clone(),
            created_resources: self.created_resources.clone(),
            output: VecDeque::new(),
            output_truncated: self.output_truncated,
            percent: self.percent,
            error: self.error.clone(),
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            attempt: self.attempt,
            cancel_requested: self.cancel_requested,
            last_event_id: self.last_event_id,
            request_id: self.request_id.clone(),
        }
    }

    /// Overall progress: finished steps count whole, the running one by its percent.
    pub fn compute_percent(&self) -> u32 {
        if self.steps.is_empty() {
            return if self.state == JobState::Succeeded {
                100
            } else {
                0
            };
        }
        let total: u32 = self
            .steps
            .iter()
            .map(|step| match step.state {
                StepState::Succeeded => 100,
                StepState::Running => step.percent.min(100),
                _ => 0,
            })
            .sum();
        total / self.steps.len() as u32
    }

    /// The index of the first step that did not succeed (where a retry starts).
    pub fn resume_index(&self) -> usize {
        self.steps
            .iter()
            .position(|step| step.state != StepState::Succeeded)
            .unwrap_or(self.steps.len())
    }
}
