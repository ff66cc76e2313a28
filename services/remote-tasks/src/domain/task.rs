//! What a task is ([`TaskSpec`]), what its stream carries ([`TaskEvent`]) and how it ends
//! ([`TaskResult`], [`TaskFailure`]).

use std::time::{Duration, SystemTime};

use aetherv_hyperv::{AgentRequest, HostId, LogLine, ProgressLine};
use aetherv_runtime::ErrorCode;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::category::{Category, TaskId};

/// A validated request to run one operation on one host.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// The host (configured).
    pub host: HostId,
    /// The agent request (params validated against the operation's schema).
    pub request: AgentRequest,
    /// Its concurrency class.
    pub category: Category,
    /// How long it may run once started.
    pub timeout: Duration,
    /// The caller's deadline for queueing plus running (a gRPC deadline), if any.
    pub deadline: Option<Instant>,
}

/// One event of a task's stream.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskEvent {
    /// The task.
    pub task_id: TaskId,
    /// 1, 2, 3, … per task; a gap means events were dropped for a slow reader.
    pub sequence: u64,
    /// When it was produced.
    pub time: SystemTime,
    /// What happened.
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// Queued, with this many tasks of its category ahead.
    Accepted {
        /// Tasks ahead in the category's queue.
        queue_position: u32,
    },
    /// Got its slots; sent to the host.
    Started {
        /// Time spent queued.
        queued_for: Duration,
    },
    /// A log line from the agent (stderr text arrives as debug lines).
    Log {
        /// Its level.
        level: LogLevel,
        /// Its text.
        message: String,
    },
    /// A progress line from the agent.
    Progress(ProgressLine),
    /// A change on the host (`inventory.watch`'s event lines).
    HostEvent(aetherv_hyperv::EventLine),
    /// The end.
    Finished(TaskResult),
}

/// Severity of a log event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Agent stderr (diagnostics).
    Debug,
    /// Information.
    Info,
    /// Warning.
    Warning,
    /// Error.
    Error,
}

impl EventKind {
    /// A log event from an agent log line.
    pub fn from_log(line: LogLine) -> EventKind {
        let level = match line.level {
            aetherv_hyperv::LogLevel::Info => LogLevel::Info,
            aetherv_hyperv::LogLevel::Warning => LogLevel::Warning,
            aetherv_hyperv::LogLevel::Error => LogLevel::Error,
        };
        EventKind::Log {
            level,
            message: line.message,
        }
    }
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskResult {
    /// The result data, or why it failed.
    pub outcome: Result<Map<String, Value>, TaskFailure>,
    /// From start on the host to the result (zero when it never started).
    pub run_duration: Duration,
    /// The remote command's exit code, when it ran to completion.
    pub exit_code: Option<i32>,
}

/// Why a task failed.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFailure {
    /// The service-level classification.
    pub code: ErrorCode,
    /// The agent's error code, or TRANSPORT / PROTOCOL / TIMEOUT / CANCELLED.
    pub agent_code: String,
    /// For the operator; names host and operation.
    pub message: String,
    /// The agent's error details, when it answered.
    pub details: Option<Value>,
}

impl TaskFailure {
    /// A failure that happened on our side of the wire.
    pub fn local(code: ErrorCode, agent_code: &str, message: String) -> TaskFailure {
        TaskFailure {
            code,
            agent_code: agent_code.to_string(),
            message,
            details: None,
        }
    }
}

/// What the task was doing when it ended: Cancel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It left the queue without starting (cancelled, deadline, client gone).
    Dequeued,
    /// It was running and was stopped on the host (cancelled or client gone).
    Stopped,
    /// It ran to its end (any outcome, timeouts included).
    Completed,
}
