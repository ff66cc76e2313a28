//! The engine: Submit (parse, pre-check, plan, store, start), Cancel, Retry, and one task
//! per running job attempt ([`driver`]). There is no worker pool: every job attempt is
//! its own task, blocked only by the fair locks of the domain (per VM, per host for heavy
//! steps), so any number of deployments submitted at once all progress and finish.
//!
//! Called by the gRPC handlers; calls the [`ports`] (remote-tasks, inventory,
//! notifications) given to [`Engine::new`].

mod driver;
pub mod ports;
pub mod refresh;
pub mod submit;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aetherv_runtime::{ApiError, ErrorCode};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::domain::events::Change;
use crate::domain::locks::Locks;
use crate::domain::model::{Job, JobId, JobState, Level, OutputLine, StepState};
use crate::domain::store::{Inserted, NewJob, Store, not_found};
use crate::spec::JobType;
use ports::{Executor, Fleet, JobHooks};
use refresh::Refresher;
use submit::CatalogueCache;

/// How the engine runs steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSettings {
    /// Run timeout of control steps (power, VM and adapter changes).
    pub control_timeout: Duration,
    /// Run timeout of io steps (disk work, image copies).
    pub io_timeout: Duration,
    /// How long a host's catalogue is reused by the pre-checks.
    pub catalogue_ttl: Duration,
    /// How long a step keeps retrying while remote-tasks refuses it (full queue, not
    /// answering) before it fails.
    pub dispatch_patience: Duration,
    /// How long Cancel waits for the job to stop before answering.
    pub cancel_wait: Duration,
    /// How long a step waits for inventory's refresh of its host.
    pub refresh_timeout: Duration,
}

impl Default for EngineSettings {
    fn default() -> EngineSettings {
        EngineSettings {
            control_timeout: Duration::from_secs(300),
            io_timeout: Duration::from_secs(1800),
            catalogue_ttl: Duration::from_secs(30),
            dispatch_patience: Duration::from_secs(120),
            cancel_wait: Duration::from_secs(30),
            refresh_timeout: Duration::from_secs(30),
        }
    }
}

/// What the driver tasks share.
pub(crate) struct EngineInner {
    pub(crate) store: Arc<Store>,
    pub(crate) locks: Locks,
    pub(crate) executor: Arc<dyn Executor>,
    pub(crate) fleet: Arc<dyn Fleet>,
    pub(crate) hooks: Arc<dyn JobHooks>,
    pub(crate) refresher: Arc<Refresher>,
    pub(crate) catalogues: CatalogueCache,
    pub(crate) settings: EngineSettings,
    pub(crate) tasks: TaskTracker,
    pub(crate) stop: CancellationToken,
}

/// The engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("settings", &self.inner.settings)
            .finish()
    }
}

/// A submission.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The type.
    pub job_type: JobType,
    /// The spec's JSON text.
    pub spec_json: String,
    /// The idempotency key.
    pub request_id: Option<String>,
    /// The caller (`user:alice`), empty when anonymous.
    pub requester: String,
}

impl Engine {
    /// An engine over `store` and the ports.
    pub fn new(
        store: Arc<Store>,
        executor: Arc<dyn Executor>,
        fleet: Arc<dyn Fleet>,
        hooks: Arc<dyn JobHooks>,
        settings: EngineSettings,
    ) -> Engine {
        let tasks = TaskTracker::new();
        let refresher = Arc::new(Refresher::new(
            fleet.clone(),
            settings.refresh_timeout,
            tasks.clone(),
        ));
        Engine {
            inner: Arc::new(EngineInner {
                store,
                locks: Locks::new(),
                executor,
                fleet,
                hooks,
                refresher,
                catalogues: CatalogueCache::new(settings.catalogue_ttl),
                settings,
                tasks,
                stop: CancellationToken::new(),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    /// Validates, pre-checks, stores and starts a job; a repeated request id returns the
    /// job it named.
    pub async fn submit(&self, submission: Submission) -> Result<Job, ApiError> {
        let inner = &self.inner;
        if inner.stop.is_cancelled() {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                "the jobs service is shutting down",
            ));
        }
        let parsed = submit::parse(submission.job_type, &submission.spec_json)?;
        let facts = submit::gather(
            &parsed.spec,
            inner.fleet.as_ref(),
            &inner.catalogues,
            &inner.store,
        )
        .await?;
        let prepared = submit::prepare(
            submission.job_type,
            &parsed,
            &facts,
            submission.requester,
            submission.request_id,
        )?;
        let inserted = inner.store.insert(NewJob {
            job: prepared.job,
            plan: prepared.plan,
            scrubber: Arc::new(parsed.scrubber),
        })?;
        let job = match inserted {
            Inserted::Existing(job) => return Ok(job),
            Inserted::New(job) => job,
        };
        tracing::info!(job = %job.id, r#type = job.job_type.as_str(), host = %job.host, steps = job.steps.len(), "job queued");
        inner.hooks.changed(&job);
        self.start(&job.id);
        Ok(job)
    }

    fn start(&self, id: &JobId) {
        let Some(cancel) = self.inner.store.cancel_token(id) else {
            return;
        };
        let inner = self.inner.clone();
        let id = id.clone();
        self.inner
            .tasks
            .spawn(async move { driver::drive(inner, id, cancel).await });
    }

    /// Asks a job to stop; waits (at most `cancel_wait`) until it has, and returns it.
    /// FAILED_PRECONDITION when it had already finished.
    pub async fn cancel(&self, id: &JobId) -> Result<Job, ApiError> {
        let store = &self.inner.store;
        let asked = store
            .mutate(id, |job, changes| {
                if job.state.is_terminal() {
                    return Err(ApiError::new(
                        ErrorCode::FailedPrecondition,
                        format!("job {id} has already finished ({})", job.state.as_str()),
                    )
                    .with_metadata("job_state", job.state.as_str()));
                }
                if !job.cancel_requested {
                    job.cancel_requested = true;
                    store.push_output(
                        job,
                        vec![OutputLine {
                            time: SystemTime::now(),
                            level: Level::Warning,
                            text: "cancel requested".to_owned(),
                            step: None,
                        }],
                        changes,
                    );
                }
                Ok(())
            })
            .ok_or_else(|| not_found(id))?;
        asked?;
        let mut events = Some(store.live());
        if let Some(token) = store.cancel_token(id) {
            token.cancel();
        }
        let deadline = tokio::time::Instant::now() + self.inner.settings.cancel_wait;
        loop {
            let job = store.get(id, false).ok_or_else(|| not_found(id))?;
            if job.state.is_terminal() {
                return Ok(job);
            }
            let Some(live) = events.as_mut() else {
                return Ok(job);
            };
            match tokio::time::timeout_at(deadline, live.recv()).await {
                Err(_) => return Ok(job),
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return Ok(job),
                Ok(_) => {}
            }
        }
    }

    /// Re-runs a failed or cancelled job from its first step that did not succeed.
    pub fn retry(&self, id: &JobId) -> Result<Job, ApiError> {
        let store = &self.inner.store;
        let retried = store
            .mutate(id, |job, changes| {
                if !matches!(job.state, JobState::Failed | JobState::Cancelled) {
                    return Err(ApiError::new(
                        ErrorCode::FailedPrecondition,
                        format!(
                            "job {id} is {}; only failed or cancelled jobs can be retried",
                            job.state.as_str()
                        ),
                    )
                    .with_metadata("job_state", job.state.as_str()));
                }
                let from = job.resume_index();
                for step in job.steps.iter_mut().skip(from) {
                    step.state = StepState::Pending;
                    step.error = None;
                    step.percent = 0;
                    step.progress_step.clear();
                    step.result = None;
                    changes.push(Change::StepChanged(Box::new(step.clone())));
                }
                job.attempt += 1;
                job.cancel_requested = false;
                job.error = None;
                job.finished_at = None;
                job.started_at = None;
                job.percent = job.compute_percent();
                let text = format!(
                    "retry (attempt {}) from step {}/{}",
                    job.attempt,
                    from + 1,
                    job.steps.len()
                );
                store.push_output(
                    job,
                    vec![OutputLine {
                        time: SystemTime::now(),
                        level: Level::Info,
                        text,
                        step: None,
                    }],
                    changes,
                );
                driver::transition(job, changes, JobState::Pending, None, None);
                Ok(job.without_output())
            })
            .ok_or_else(|| not_found(id))??;
        store.renew_cancel(id);
        tracing::info!(job = %id, attempt = retried.attempt, "job retried");
        self.inner.hooks.changed(&retried);
        self.start(id);
        Ok(retried)
    }

    /// Stops accepting jobs and cancels every running attempt; waits at most `grace` for
    /// them to stop on their hosts.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.stop.cancel();
        let store = &self.inner.store;
        let active = store.list(
            &crate::domain::store::Filter {
                states: vec![JobState::Pending, JobState::Waiting, JobState::Running],
                ..Default::default()
            },
            None,
            usize::MAX,
        );
        for job in active.jobs {
            if let Some(token) = store.cancel_token(&job.id) {
                token.cancel();
            }
        }
        self.inner.tasks.close();
        if tokio::time::timeout(grace, self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some jobs did not stop before shutdown");
        }
    }
}
