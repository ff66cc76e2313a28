//! The jobs in memory: every job with its plan and secret scrubber, the Submit
//! idempotency keys, the event log and the live broadcast. Every change to a job goes
//! through [`Store::mutate`], which appends its events to the log and broadcasts them
//! under the same lock, so a watcher that subscribes sees each event exactly once: in its
//! replay or live.
//!
//! History is bounded: finished jobs older than `max_age` are evicted, and beyond
//! `max_jobs` the oldest finished ones go first; running and queued jobs are never
//! evicted (Submit refuses past `max_active`). Each job's output is bounded by
//! `max_output_lines`, dropping the oldest lines.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use aetherv_hyperv::{HostId, VmId};
use aetherv_runtime::{ApiError, ErrorCode};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::events::{Change, Event, EventLog, Live, ResyncReason, Start};
use super::model::{Job, JobId, JobState, OutputLine, StepState};
use super::plan::PlannedStep;
use crate::spec::{JobType, Scrubber};

/// Bounds of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSettings {
    /// Finished jobs kept at most.
    pub max_jobs: usize,
    /// Finished jobs are evicted this long after they finished.
    pub max_age: Duration,
    /// Jobs pending, waiting or running at most.
    pub max_active: usize,
    /// Output lines kept per job.
    pub max_output_lines: usize,
    /// Events kept for replay.
    pub event_log: usize,
    /// Events a live subscriber may fall behind before it resyncs.
    pub broadcast: usize,
}

/// A job about to be stored.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// The job (id, seq and last_event_id are assigned by the store).
    pub job: Job,
    /// Its plan.
    pub plan: Arc<Vec<PlannedStep>>,
    /// Its secrets.
    pub scrubber: Arc<Scrubber>,
}

struct Entry {
    job: Job,
    plan: Arc<Vec<PlannedStep>>,
    scrubber: Arc<Scrubber>,
    cancel: CancellationToken,
}

struct Inner {
    jobs: HashMap<JobId, Entry>,
    by_seq: BTreeMap<u64, JobId>,
    request_ids: HashMap<String, JobId>,
    log: EventLog,
    next_seq: u64,
    active: usize,
}

/// What [`Store::insert`] did.
#[derive(Debug, Clone)]
pub enum Inserted {
    /// A new job.
    New(Job),
    /// The request id was seen before: the existing job.
    Existing(Job),
}

/// The start of a Watch.
#[derive(Debug)]
pub enum Beginning {
    /// Replay these, then live.
    Replay(Vec<Arc<Event>>),
    /// Resync, snapshot these jobs, then live.
    Resync {
        /// Why.
        reason: ResyncReason,
        /// Oldest id a watch can resume from.
        oldest_event_id: u64,
        /// The jobs (the one job, or all, oldest first).
        snapshot: Vec<Job>,
    },
}

/// A watcher's start and its live feed.
#[derive(Debug)]
pub struct Subscription {
    /// What to send first.
    pub beginning: Beginning,
    /// The latest event id included.
    pub event_id: u64,
    /// Live events after it.
    pub live: broadcast::Receiver<Live>,
}

/// Which jobs a list wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Any of these states (empty: all).
    pub states: Vec<JobState>,
    /// Any of these types (empty: all).
    pub types: Vec<JobType>,
    /// This host.
    pub host: Option<HostId>,
    /// This VM.
    pub vm_id: Option<VmId>,
    /// Created at or after.
    pub created_from: Option<SystemTime>,
    /// Created before.
    pub created_before: Option<SystemTime>,
    /// This requester.
    pub requester: Option<String>,
}

impl Filter {
    fn matches(&self, job: &Job) -> bool {
        (self.states.is_empty() || self.states.contains(&job.state))
            && (self.types.is_empty() || self.types.contains(&job.job_type))
            && self.host.as_ref().is_none_or(|host| &job.host == host)
            && self.vm_id.is_none_or(|vm| job.vm_id == Some(vm))
            && self.created_from.is_none_or(|from| job.created_at >= from)
            && self
                .created_before
                .is_none_or(|before| job.created_at < before)
            && self
                .requester
                .as_ref()
                .is_none_or(|requester| &job.requester == requester)
    }
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page {
    /// Newest first, without output.
    pub jobs: Vec<Job>,
    /// The seq to continue below, when there are more.
    pub next_before: Option<u64>,
    /// Jobs matching the filter.
    pub total: usize,
}

/// The store; share it in an `Arc`.
pub struct Store {
    inner: Mutex<Inner>,
    live: broadcast::Sender<Live>,
    settings: StoreSettings,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("settings", &self.settings)
            .finish()
    }
}

impl Store {
    /// An empty store whose first event id is `base + 1`.
    pub fn new(settings: StoreSettings, base: u64) -> Store {
        Store {
            inner: Mutex::new(Inner {
                jobs: HashMap::new(),
                by_seq: BTreeMap::new(),
                request_ids: HashMap::new(),
                log: EventLog::new(settings.event_log, base),
                next_seq: 0,
                active: 0,
            }),
            live: broadcast::channel(settings.broadcast.max(1)).0,
            settings,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The settings.
    pub fn settings(&self) -> StoreSettings {
        self.settings
    }

    /// Stores a new job (event `created`), or returns the job its request id names.
    /// RESOURCE_EXHAUSTED when `max_active` jobs are not finished.
    pub fn insert(&self, new: NewJob) -> Result<Inserted, ApiError> {
        let mut inner = self.lock();
        if let Some(key) = &new.job.request_id
            && let Some(existing) = inner.request_ids.get(key)
            && let Some(entry) = inner.jobs.get(existing)
        {
            return Ok(Inserted::Existing(entry.job.without_output()));
        }
        if inner.active >= self.settings.max_active {
            return Err(ApiError::new(
                ErrorCode::ResourceExhausted,
                format!(
                    "{} jobs are queued or running, the most this service accepts; retry when some have finished",
                    inner.active
                ),
            )
            .with_metadata("retry_after_ms", "1000"));
        }
        let mut job = new.job;
        inner.next_seq += 1;
        job.seq = inner.next_seq;
        let event = inner.log.append(
            job.id.clone(),
            job.created_at,
            Change::Created(Box::new(job.without_output())),
        );
        job.last_event_id = event.id;
        if let Some(key) = &job.request_id {
            inner.request_ids.insert(key.clone(), job.id.clone());
        }
        inner.by_seq.insert(job.seq, job.id.clone());
        inner.active += 1;
        let snapshot = job.without_output();
        inner.jobs.insert(
            job.id.clone(),
            Entry {
                job,
                plan: new.plan,
                scrubber: new.scrubber,
                cancel: CancellationToken::new(),
            },
        );
        let _ = self.live.send(Live::Event(event));
        Ok(Inserted::New(snapshot))
    }

    /// Changes a job: `f` edits it and pushes the changes to announce; each becomes an
    /// event (logged and broadcast). `None` when the job is unknown.
    pub fn mutate<R>(
        &self,
        id: &JobId,
        f: impl FnOnce(&mut Job, &mut Vec<Change>) -> R,
    ) -> Option<R> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let entry = inner.jobs.get_mut(id)?;
        let was_terminal = entry.job.state.is_terminal();
        let mut changes = Vec::new();
        let result = f(&mut entry.job, &mut changes);
        let now_terminal = entry.job.state.is_terminal();
        let mut events = Vec::with_capacity(changes.len());
        for change in changes {
            let event = inner.log.append(id.clone(), SystemTime::now(), change);
            entry.job.last_event_id = event.id;
            events.push(event);
        }
        match (was_terminal, now_terminal) {
            (false, true) => inner.active = inner.active.saturating_sub(1),
            (true, false) => inner.active += 1,
            _ => {}
        }
        for event in events {
            let _ = self.live.send(Live::Event(event));
        }
        Some(result)
    }

    /// Appends output lines (scrubbed by the caller) to a job, bounded; counts them on
    /// their steps. Pushes the `output` change.
    pub fn push_output(&self, job: &mut Job, lines: Vec<OutputLine>, changes: &mut Vec<Change>) {
        if lines.is_empty() {
            return;
        }
        for line in &lines {
            if let Some(step) = line.step.and_then(|i| job.steps.get_mut(i as usize)) {
                step.output_lines += 1;
            }
            job.output.push_back(line.clone());
        }
        while job.output.len() > self.settings.max_output_lines {
            job.output.pop_front();
            job.output_truncated += 1;
        }
        changes.push(Change::Output(lines));
    }

    /// A job; with output or without.
    pub fn get(&self, id: &JobId, include_output: bool) -> Option<Job> {
        let inner = self.lock();
        let entry = inner.jobs.get(id)?;
        Some(if include_output {
            entry.job.clone()
        } else {
            entry.job.without_output()
        })
    }

    /// The job's plan, scrubber and current cancel token.
    pub fn runtime(
        &self,
        id: &JobId,
    ) -> Option<(Arc<Vec<PlannedStep>>, Arc<Scrubber>, CancellationToken)> {
        let inner = self.lock();
        let entry = inner.jobs.get(id)?;
        Some((
            entry.plan.clone(),
            entry.scrubber.clone(),
            entry.cancel.clone(),
        ))
    }

    /// Fires the job's cancel token (the running attempt stops).
    pub fn cancel_token(&self, id: &JobId) -> Option<CancellationToken> {
        self.lock().jobs.get(id).map(|entry| entry.cancel.clone())
    }

    /// Gives the job a fresh cancel token (for a retry) and returns it.
    pub fn renew_cancel(&self, id: &JobId) -> Option<CancellationToken> {
        let mut inner = self.lock();
        let entry = inner.jobs.get_mut(id)?;
        entry.cancel = CancellationToken::new();
        Some(entry.cancel.clone())
    }

    /// The scrubber of a job.
    pub fn scrubber(&self, id: &JobId) -> Option<Arc<Scrubber>> {
        self.lock().jobs.get(id).map(|entry| entry.scrubber.clone())
    }

    /// An unfinished job creating a VM of that name on that host.
    pub fn creating(&self, host: &HostId, name: &str) -> Option<JobId> {
        let inner = self.lock();
        inner
            .jobs
            .values()
            .filter(|entry| !entry.job.state.is_terminal() && &entry.job.host == host)
            .filter(|entry| {
                matches!(
                    entry.job.job_type,
                    JobType::CreateVm | JobType::ManagedDeployment
                )
            })
            .find(|entry| entry.job.vm_name.eq_ignore_ascii_case(name))
            .map(|entry| entry.job.id.clone())
    }

    /// An unfinished job on that VM.
    pub fn active_on_vm(&self, vm: VmId) -> Option<JobId> {
        let inner = self.lock();
        inner
            .jobs
            .values()
            .filter(|entry| !entry.job.state.is_terminal() && entry.job.vm_id == Some(vm))
            .min_by_key(|entry| entry.job.seq)
            .map(|entry| entry.job.id.clone())
    }

    /// Jobs pending, waiting or running.
    pub fn active(&self) -> usize {
        self.lock().active
    }

    /// Jobs held.
    pub fn len(&self) -> usize {
        self.lock().jobs.len()
    }

    /// True when no job is held.
    pub fn is_empty(&self) -> bool {
        self.lock().jobs.is_empty()
    }

    /// The live feed from now on (no replay, no snapshot).
    pub fn live(&self) -> broadcast::Receiver<Live> {
        self.live.subscribe()
    }

    /// The latest event id.
    pub fn last_event_id(&self) -> u64 {
        self.lock().log.last()
    }

    /// A page of matching jobs, newest first, below seq `before` (all when `None`).
    pub fn list(&self, filter: &Filter, before: Option<u64>, size: usize) -> Page {
        let inner = self.lock();
        let mut total = 0;
        let mut jobs = Vec::new();
        let mut next_before = None;
        for (seq, id) in inner.by_seq.iter().rev() {
            let Some(entry) = inner.jobs.get(id) else {
                continue;
            };
            if !filter.matches(&entry.job) {
                continue;
            }
            total += 1;
            if before.is_some_and(|before| *seq >= before) {
                continue;
            }
            if jobs.len() < size {
                jobs.push(entry.job.without_output());
            } else if next_before.is_none() {
                next_before = jobs.last().map(|job: &Job| job.seq);
            }
        }
        Page {
            jobs,
            next_before,
            total,
        }
    }

    /// A watch of one job (`Some`) or all jobs, after event `from`. NOT_FOUND for an
    /// unknown job.
    pub fn subscribe(
        &self,
        from: u64,
        job: Option<&JobId>,
        include_output: bool,
        forced: Option<ResyncReason>,
    ) -> Result<Subscription, ApiError> {
        let inner = self.lock();
        if let Some(id) = job
            && !inner.jobs.contains_key(id)
        {
            return Err(not_found(id));
        }
        let live = self.live.subscribe();
        let event_id = inner.log.last();
        let start = match forced {
            Some(reason) => Start::Resync(reason),
            None => inner.log.since(from, job),
        };
        let beginning = match start {
            Start::Replay(events) => Beginning::Replay(events),
            Start::Resync(reason) => {
                let pick = |entry: &Entry| {
                    if include_output {
                        entry.job.clone()
                    } else {
                        entry.job.without_output()
                    }
                };
                let snapshot = match job {
                    Some(id) => inner.jobs.get(id).map(pick).into_iter().collect(),
                    None => inner
                        .by_seq
                        .values()
                        .filter_map(|id| inner.jobs.get(id))
                        .map(pick)
                        .collect(),
                };
                Beginning::Resync {
                    reason,
                    oldest_event_id: inner.log.floor(),
                    snapshot,
                }
            }
        };
        Ok(Subscription {
            beginning,
            event_id,
            live,
        })
    }

    /// Evicts finished jobs past the age and count bounds; returns how many went.
    pub fn sweep(&self, now: SystemTime) -> usize {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let mut doomed = Vec::new();
        let finished: Vec<(u64, JobId, Option<SystemTime>)> = inner
            .by_seq
            .iter()
            .filter_map(|(seq, id)| {
                let entry = inner.jobs.get(id)?;
                entry
                    .job
                    .state
                    .is_terminal()
                    .then(|| (*seq, id.clone(), entry.job.finished_at))
            })
            .collect();
        let mut remaining = inner.jobs.len();
        for (seq, id, finished_at) in finished {
            let too_old = finished_at
                .and_then(|at| now.duration_since(at).ok())
                .is_some_and(|age| age > self.settings.max_age);
            if too_old || remaining > self.settings.max_jobs {
                doomed.push((seq, id));
                remaining -= 1;
            }
        }
        for (seq, id) in &doomed {
            inner.by_seq.remove(seq);
            if let Some(entry) = inner.jobs.remove(id)
                && let Some(key) = entry.job.request_id
            {
                inner.request_ids.remove(&key);
            }
            let _ = self.live.send(Live::Evicted(id.clone()));
        }
        doomed.len()
    }

    /// Steps of a job that have not run, marked skipped (after a failure or cancel).
    pub fn skip_rest(job: &mut Job, changes: &mut Vec<Change>) {
        for step in &mut job.steps {
            if step.state == StepState::Pending {
                step.state = StepState::Skipped;
                changes.push(Change::StepChanged(Box::new(step.clone())));
            }
        }
    }
}

/// NOT_FOUND for a job id.
pub fn not_found(id: &JobId) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!("job {id} is unknown or no longer in the history"),
    )
    .with_field_violation("job_id", "no such job")
}
