//! [`Tasks`]: the remote-tasks domain facade the gRPC layer calls — submit a task (checks,
//! admission, a runner spawned with its event stream), cancel one, the metrics snapshot and
//! the configured hosts. Knows nothing of tonic.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use aetherv_hyperv::{
    AgentRequest, AuthKind, CorrelationId, FieldError, HostAgent, HostId, HostTarget, Operation,
    RequestError,
};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::category::{Category, PerCategory, TaskId};
use super::limits::Limits;
use super::metrics::{Figures, Metrics};
use super::registry::{Lookup, Registry};
use super::runner::{self, RunnerContext, humanize};
use super::scheduler::{Load, Rejection, Scheduler};
use super::task::{Ending, TaskEvent, TaskSpec};

/// Events a task's stream buffers for its reader before log/progress lines are dropped.
pub const STREAM_BUFFER: usize = 256;

/// A Run request after edge validation of its fields.
#[derive(Debug, Clone)]
pub struct RunInput {
    /// The host named (may not be configured).
    pub host: HostId,
    /// The operation.
    pub operation: Operation,
    /// The params (not yet checked against the operation's schema).
    pub params: Map<String, Value>,
    /// The concurrency class.
    pub category: Category,
    /// The requested run timeout; None or zero for the category's default.
    pub timeout: Option<Duration>,
    /// The caller's correlation id; None for the task id.
    pub correlation_id: Option<CorrelationId>,
    /// The caller's deadline (queueing plus running).
    pub deadline: Option<Instant>,
}

/// Why a task was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The host is not configured.
    #[error("host {0} is not configured")]
    UnknownHost(HostId),
    /// The timeout asks for more than the category allows.
    #[error("timeout: must be at most {} for category {category}", humanize(*max))]
    TimeoutTooLong {
        /// The category.
        category: Category,
        /// Its maximum.
        max: Duration,
    },
    /// The params break the operation's schema (pointers relative to the params).
    #[error("params_json: invalid {operation} params")]
    InvalidParams {
        /// The operation.
        operation: Operation,
        /// Every problem, by JSON pointer.
        errors: Vec<FieldError>,
    },
    /// A queue is full.
    #[error(transparent)]
    QueueFull(#[from] Rejection),
    /// The service is shutting down.
    #[error("remote-tasks is shutting down and accepts no new tasks")]
    ShuttingDown,
}

/// Why Cancel failed.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    /// Unknown task (or finished long ago).
    #[error("task {0} is not known (it never existed or finished more than 5 minutes ago)")]
    UnknownTask(TaskId),
    /// The host did not confirm the stop in time.
    #[error("task {task} was told to stop but had not stopped after {}", humanize(*waited))]
    NotStopped {
        /// The task.
        task: TaskId,
        /// How long Cancel waited.
        waited: Duration,
    },
}

/// What Cancel did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// Removed from its queue.
    Dequeued,
    /// Stopped on the host.
    Stopped,
    /// It had finished.
    AlreadyFinished,
}

/// A configured host as ListHosts shows it (no credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    /// Its id.
    pub host: HostId,
    /// Its WS-Management endpoint.
    pub endpoint: String,
    /// How we authenticate.
    pub auth: AuthKind,
    /// Basic over plain HTTP allowed.
    pub insecure: bool,
}

/// A Metrics snapshot.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// When taken.
    pub time: SystemTime,
    /// Slots and queues.
    pub load: Load,
    /// Counters and latencies.
    pub figures: Figures,
    /// The limits in force.
    pub limits: Limits,
}

/// The service's state. Cheap to clone.
#[derive(Clone)]
pub struct Tasks {
    inner: Arc<Inner>,
}

struct Inner {
    agent: Arc<dyn HostAgent>,
    hosts: BTreeMap<HostId, HostTarget>,
    limits: Limits,
    scheduler: Arc<Scheduler>,
    metrics: Arc<Metrics>,
    registry: Arc<Registry>,
    runners: TaskTracker,
    stop_grace: Duration,
    closed: AtomicBool,
}

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tasks")
            .field("hosts", &self.inner.hosts.len())
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl Tasks {
    /// The service for these hosts and limits, running operations through `agent`.
    /// `stop_grace` is how long past a run timeout the agent gets to stop the command.
    pub fn new(
        hosts: Vec<HostTarget>,
        limits: Limits,
        agent: Arc<dyn HostAgent>,
        stop_grace: Duration,
    ) -> Tasks {
        let hosts: BTreeMap<HostId, HostTarget> = hosts
            .into_iter()
            .map(|target| (target.id().clone(), target))
            .collect();
        let scheduler = Scheduler::new(limits, hosts.keys().cloned());
        Tasks {
            inner: Arc::new(Inner {
                agent,
                hosts,
                limits,
                scheduler,
                metrics: Arc::new(Metrics::default()),
                registry: Arc::new(Registry::default()),
                runners: TaskTracker::new(),
                stop_grace,
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// Checks and queues a task; its events arrive on the returned receiver (Accepted
    /// first, the result last). Dropping the receiver cancels the task.
    pub fn submit(&self, input: RunInput) -> Result<mpsc::Receiver<TaskEvent>, SubmitError> {
        let inner = &self.inner;
        if inner.closed.load(Ordering::Acquire) {
            return Err(SubmitError::ShuttingDown);
        }
        let target = inner
            .hosts
            .get(&input.host)
            .ok_or_else(|| SubmitError::UnknownHost(input.host.clone()))?;
        let timeout = inner
            .limits
            .run_timeout(input.category, input.timeout)
            .map_err(|max| SubmitError::TimeoutTooLong {
                category: input.category,
                max,
            })?;
        let task_id = TaskId::random();
        let correlation_id = match input.correlation_id {
            Some(id) => id,
            // A task id is a valid correlation id (letters, digits and '-').
            None => {
                CorrelationId::parse(task_id.as_str()).unwrap_or_else(|_| CorrelationId::random())
            }
        };
        let request =
            AgentRequest::new(input.operation, correlation_id, input.params).map_err(|error| {
                SubmitError::InvalidParams {
                    operation: input.operation,
                    errors: request_errors(&error),
                }
            })?;
        let ticket = match inner.scheduler.submit(&input.host, input.category) {
            Ok(ticket) => ticket,
            Err(rejection) => {
                inner.metrics.rejected(input.category);
                return Err(rejection.into());
            }
        };
        let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
        let cancel = CancellationToken::new();
        let ended = inner.registry.insert(task_id.clone(), cancel.clone());
        let context = RunnerContext {
            agent: inner.agent.clone(),
            target: target.clone(),
            metrics: inner.metrics.clone(),
            registry: inner.registry.clone(),
            stop_grace: inner.stop_grace,
        };
        let spec = TaskSpec {
            host: input.host,
            request,
            category: input.category,
            timeout,
            deadline: input.deadline,
        };
        inner.runners.spawn(runner::run(
            context, spec, task_id, ticket, sender, cancel, ended,
        ));
        Ok(receiver)
    }

    /// Cancels a task; waits (up to `wait`) until it has left its queue or been stopped on
    /// its host.
    pub async fn cancel(
        &self,
        task: &TaskId,
        wait: Duration,
    ) -> Result<CancelOutcome, CancelError> {
        let mut ended = match self.inner.registry.cancel(task) {
            Lookup::Live(ended) => ended,
            Lookup::Finished => return Ok(CancelOutcome::AlreadyFinished),
            Lookup::Unknown => return Err(CancelError::UnknownTask(task.clone())),
        };
        let ending = tokio::time::timeout(wait, ended.wait_for(Option::is_some)).await;
        match ending {
            Ok(Ok(ending)) => Ok(match *ending {
                Some(Ending::Dequeued) => CancelOutcome::Dequeued,
                Some(Ending::Stopped) => CancelOutcome::Stopped,
                Some(Ending::Completed) | None => CancelOutcome::AlreadyFinished,
            }),
            // The runner is gone without a word: it finished.
            Ok(Err(_)) => Ok(CancelOutcome::AlreadyFinished),
            Err(_) => Err(CancelError::NotStopped {
                task: task.clone(),
                waited: wait,
            }),
        }
    }

    /// Queues, slots, counters and limits now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            time: SystemTime::now(),
            load: self.inner.scheduler.load(),
            figures: self.inner.metrics.figures(),
            limits: self.inner.limits,
        }
    }

    /// The configured hosts, sorted, without credentials.
    pub fn hosts(&self) -> Vec<HostInfo> {
        self.inner
            .hosts
            .values()
            .map(|target| HostInfo {
                host: target.id().clone(),
                endpoint: target.url().to_string(),
                auth: target.auth(),
                insecure: target.insecure_http(),
            })
            .collect()
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Refuses new tasks from now on.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
    }

    /// Shutdown: refuses new tasks, cancels every queued and running one (running commands
    /// are stopped on their hosts) and waits up to `wait` for them to end. False when some
    /// had not ended in time.
    pub async fn shutdown(&self, wait: Duration) -> bool {
        self.close();
        self.inner.registry.cancel_all();
        self.inner.runners.close();
        tokio::time::timeout(wait, self.inner.runners.wait())
            .await
            .is_ok()
    }

    /// Tasks queued or running.
    pub fn live_tasks(&self) -> usize {
        self.inner.registry.live()
    }
}

/// The JSON pointers of a request error (relative to the params).
fn request_errors(error: &RequestError) -> Vec<FieldError> {
    match error {
        RequestError::Invalid(schema) if !schema.field_errors().is_empty() => {
            schema.field_errors().to_vec()
        }
        other => vec![FieldError {
            pointer: String::new(),
            message: other.to_string(),
        }],
    }
}

/// Per-category values from a function of the category.
pub fn per_category<T>(f: impl Fn(Category) -> T) -> PerCategory<T> {
    PerCategory(Category::ALL.map(f))
}
