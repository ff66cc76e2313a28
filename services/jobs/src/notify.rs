//! Job notifications through the notifications service (`aetherv.notifications.v1`), when
//! `jobs.notifications.endpoint` is set: one notification per job, key `job:<job id>`,
//! updated in place — queued (info), queued again after a retry (info), succeeded
//! (success), failed (error, with the reason), cancelled (warning). Category `deployment`
//! for managed deployments, `job` otherwise.
//!
//! The hook never blocks a job: it records the latest wanted publication per key and wakes
//! a sender task, which publishes in order and retries with a backoff while the service
//! does not answer. A key is forgotten once its latest state is published; while the
//! service is away at most [`MAX_PENDING`] keys wait (the oldest are dropped, with a log
//! line). On shutdown the sender makes one last bounded attempt.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use aetherv_proto::common::v1 as common;
use aetherv_proto::notifications::v1 as pb;
use aetherv_proto::notifications::v1::notifications_client::NotificationsClient;
use aetherv_runtime::ClientConfig;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::transport::Channel;

use crate::domain::model::{Job, JobState};
use crate::engine::ports::JobHooks;
use crate::remote::context_for;
use crate::spec::JobType;

/// Keys waiting to be published at most.
pub const MAX_PENDING: usize = 10_000;
/// Longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The last attempt on shutdown may take this long.
const FINAL_FLUSH: Duration = Duration::from_secs(2);

/// The de-duplication key of a job's notification.
pub fn key(job: &Job) -> String {
    format!("job:{}", job.id)
}

fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// The publication for a job's current state; `None` for states that publish nothing
/// (waiting, running).
pub fn publication(job: &Job) -> Option<pb::PublishRequest> {
    let what = if job.vm_name.is_empty() {
        format!("{} on {}", job.job_type.label(), job.host)
    } else {
        format!("{} {}", job.job_type.label(), job.vm_name)
    };
    let (level, title, message) = match job.state {
        JobState::Pending if job.attempt > 1 => (
            pb::Level::Info,
            format!("{what}: queued again"),
            format!(
                "Job {} on host {} is queued again (attempt {}).",
                job.id, job.host, job.attempt
            ),
        ),
        JobState::Pending => (
            pb::Level::Info,
            format!("{what}: queued"),
            format!(
                "Job {} on host {} is queued ({} steps).",
                job.id,
                job.host,
                job.steps.len()
            ),
        ),
        JobState::Succeeded => (
            pb::Level::Success,
            format!("{what}: succeeded"),
            format!("Job {} on host {} succeeded.", job.id, job.host),
        ),
        JobState::Failed => (
            pb::Level::Error,
            format!("{what}: failed"),
            format!(
                "Job {} on host {} failed: {}",
                job.id,
                job.host,
                job.error
                    .as_ref()
                    .map_or("unknown error", |e| e.message.as_str())
            ),
        ),
        JobState::Cancelled => (
            pb::Level::Warning,
            format!("{what}: cancelled"),
            format!("Job {} on host {} was cancelled.", job.id, job.host),
        ),
        JobState::Waiting | JobState::Running => return None,
    };
    let category = if job.job_type == JobType::ManagedDeployment {
        pb::Category::Deployment
    } else {
        pb::Category::Job
    };
    let mut metadata = vec![
        ("job_id", job.id.to_string()),
        ("job_type", job.job_type.as_str().to_owned()),
        ("state", job.state.as_str().to_owned()),
        ("host", job.host.to_string()),
        ("attempt", job.attempt.to_string()),
    ];
    if let Some(vm) = job.vm_id {
        metadata.push(("vm_id", vm.to_string()));
    }
    if !job.vm_name.is_empty() {
        metadata.push(("vm_name", clip(&job.vm_name, 1024)));
    }
    if !job.requester.is_empty() {
        metadata.push(("requester", job.requester.clone()));
    }
    Some(pb::PublishRequest {
        level: level as i32,
        category: category as i32,
        title: clip(&title, 200),
        message: clip(&message, 4000),
        related: Some(common::EntityRef {
            kind: common::EntityKind::Job as i32,
            id: job.id.to_string(),
            name: clip(&job.vm_name, 200),
            host: job.host.to_string(),
        }),
        metadata: metadata
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        dedup_key: key(job),
    })
}

#[derive(Debug, Default)]
struct Pending {
    /// key → (version, request).
    entries: BTreeMap<String, (u64, pb::PublishRequest)>,
    versions: u64,
}

/// The notifying hooks.
pub struct Notifier {
    pending: Mutex<Pending>,
    wake: Notify,
}

/// The sender task of a [`Notifier`].
pub struct Sender {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Sender {
    /// Stops after one last bounded attempt to publish what is pending.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

impl Notifier {
    /// Hooks publishing to `config.endpoint`; `None` when it is empty. Spawns the sender.
    pub fn start(
        config: &ClientConfig,
    ) -> Result<Option<(Arc<Notifier>, Sender)>, aetherv_runtime::client::Error> {
        if config.endpoint.trim().is_empty() {
            return Ok(None);
        }
        let client = NotificationsClient::new(aetherv_runtime::connect_lazy(config)?);
        let notifier = Arc::new(Notifier::new());
        let stop = CancellationToken::new();
        let task = tokio::spawn(notifier.clone().send_loop(client, stop.clone()));
        Ok(Some((notifier, Sender { stop, task })))
    }

    /// Hooks that only record (for tests).
    pub fn new() -> Notifier {
        Notifier {
            pending: Mutex::new(Pending::default()),
            wake: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What waits to be published: (key, version, request), by key.
    pub fn pending(&self) -> Vec<(String, u64, pb::PublishRequest)> {
        self.lock()
            .entries
            .iter()
            .map(|(key, (version, request))| (key.clone(), *version, request.clone()))
            .collect()
    }

    /// Forgets `key` if `version` is still its latest.
    pub fn sent(&self, key: &str, version: u64) {
        let mut pending = self.lock();
        if pending.entries.get(key).is_some_and(|(v, _)| *v == version) {
            pending.entries.remove(key);
        }
    }

    async fn flush(&self, client: &mut NotificationsClient<Channel>) -> bool {
        for (key, version, message) in self.pending() {
            let mut request = tonic::Request::new(message);
            context_for(None).attach(&mut request);
            match client.publish(request).await {
                Ok(_) => self.sent(&key, version),
                Err(status)
                    if matches!(
                        status.code(),
                        Code::InvalidArgument | Code::FailedPrecondition
                    ) =>
                {
                    tracing::error!(key, code = ?status.code(), message = status.message(), "job notification refused");
                    self.sent(&key, version);
                }
                Err(status) => {
                    tracing::warn!(key, code = ?status.code(), message = status.message(), "notifications service did not take a job notification; will retry");
                    return false;
                }
            }
        }
        true
    }

    async fn send_loop(
        self: Arc<Self>,
        mut client: NotificationsClient<Channel>,
        stop: CancellationToken,
    ) {
        let mut backoff = Duration::from_secs(1);
        loop {
            tokio::select! {
                () = self.wake.notified() => {}
                () = stop.cancelled() => break,
            }
            while !self.lock().entries.is_empty() {
                if self.flush(&mut client).await {
                    backoff = Duration::from_secs(1);
                    continue;
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stop.cancelled() => break,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            if stop.is_cancelled() {
                break;
            }
        }
        let _ = tokio::time::timeout(FINAL_FLUSH, self.flush(&mut client)).await;
    }
}

impl Default for Notifier {
    fn default() -> Notifier {
        Notifier::new()
    }
}

impl JobHooks for Notifier {
    fn changed(&self, job: &Job) {
        let Some(request) = publication(job) else {
            return;
        };
        {
            let mut pending = self.lock();
            pending.versions += 1;
            let version = pending.versions;
            pending.entries.insert(key(job), (version, request));
            while pending.entries.len() > MAX_PENDING {
                let oldest = pending
                    .entries
                    .iter()
                    .min_by_key(|(_, (v, _))| *v)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    tracing::warn!(
                        key = oldest,
                        "notifications service unavailable for long; dropping a job notification"
                    );
                    pending.entries.remove(&oldest);
                }
            }
        }
        self.wake.notify_one();
    }
}
