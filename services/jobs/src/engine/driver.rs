//! One attempt of one job, as its own task: take the VM's lock (waiting VM_BUSY behind
//! earlier jobs), run the steps from the first that has not succeeded — each heavy step
//! under its host's heavy lock (waiting HOST_BUSY) — refresh the host in inventory after
//! each step that changed it, and end SUCCEEDED, FAILED (the step's error) or CANCELLED.
//! Locks are released before the final state is published, so a Retry that follows at
//! once finds them free.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aetherv_hyperv::VmId;
use aetherv_runtime::{ApiError, ErrorCode, Secret};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::EngineInner;
use super::ports::{RunError, RunEvent, RunRequest};
use crate::domain::events::Change;
use crate::domain::locks::{Acquire, Resource};
use crate::domain::model::{
    Job, JobId, JobState, Level, OutputLine, StepState, Waiting, WaitingReason,
};
use crate::domain::plan::{Category, Context, PlannedStep, StepKind};
use crate::domain::store::Store;
use crate::spec::Scrubber;

/// How a step ended, when not with data.
enum StepEnd {
    Cancelled(ApiError),
    Failed(ApiError),
}

/// The lock a job takes for its whole run.
pub(super) fn vm_resource(job: &Job, plan: &[PlannedStep]) -> Option<Resource> {
    let creates = plan
        .first()
        .is_some_and(|step| matches!(step.kind, StepKind::CreateVm(_)));
    if creates {
        return Some(Resource::vm_name(&job.host, &job.vm_name));
    }
    match plan.first().map(|step| &step.kind) {
        None | Some(StepKind::Noop { .. }) => None,
        Some(_) => job.vm_id.map(Resource::Vm),
    }
}

/// Sets a job's state, announcing it (and its error or reason).
pub(super) fn transition(
    job: &mut Job,
    changes: &mut Vec<Change>,
    state: JobState,
    waiting: Option<Waiting>,
    error: Option<ApiError>,
) {
    let previous = job.state;
    job.state = state;
    job.waiting = waiting.clone();
    if state == JobState::Failed {
        job.error = error.clone();
    }
    if state.is_terminal() {
        job.finished_at = Some(SystemTime::now());
    }
    changes.push(Change::StateChanged {
        state,
        previous,
        waiting,
        error,
        attempt: job.attempt,
    });
}

fn line(level: Level, text: String, step: Option<u32>) -> OutputLine {
    OutputLine {
        time: SystemTime::now(),
        level,
        text,
        step,
    }
}

/// A scrubbed copy of an error (messages may quote what the agent saw).
fn scrubbed(error: &ApiError, scrubber: &Scrubber) -> ApiError {
    let mut error = error.clone();
    error.message = scrubber.scrub(&error.message).into_owned();
    for value in error.metadata.values_mut() {
        *value = scrubber.scrub(value).into_owned();
    }
    error
}

/// Runs one attempt of `id` until it ends.
pub(super) async fn drive(engine: Arc<EngineInner>, id: JobId, cancel: CancellationToken) {
    let Some((plan, scrubber, _)) = engine.store.runtime(&id) else {
        return;
    };
    let Some(job) = engine.store.get(&id, false) else {
        return;
    };
    let driver = Driver {
        store: &engine.store,
        engine: &engine,
        id: id.clone(),
        scrubber: &scrubber,
        cancel,
    };
    let mut held = Vec::new();
    let outcome = driver.run(&job, &plan, &mut held).await;
    for resource in &held {
        driver.release(resource);
    }
    driver.finish(outcome);
}

struct Driver<'a> {
    store: &'a Store,
    engine: &'a EngineInner,
    id: JobId,
    scrubber: &'a Scrubber,
    cancel: CancellationToken,
}

/// How an attempt ended.
enum Outcome {
    Succeeded,
    Failed(ApiError),
    Cancelled,
}

impl Driver<'_> {
    fn mutate<R>(&self, f: impl FnOnce(&mut Job, &mut Vec<Change>) -> R) -> Option<R> {
        self.store.mutate(&self.id, f)
    }

    fn say(&self, level: Level, text: String, step: Option<u32>) {
        let store = self.store;
        self.mutate(|job, changes| {
            store.push_output(job, vec![line(level, text, step)], changes);
        });
    }

    fn wait_text(&self, reason: WaitingReason, holder: &JobId) -> String {
        let job = self.store.get(&self.id, false);
        let (vm, host) = job.map_or_else(Default::default, |j| (j.vm_name, j.host.to_string()));
        match reason {
            WaitingReason::VmBusy => format!("job {holder} holds vm {vm}"),
            WaitingReason::HostBusy => format!("job {holder} runs a heavy step on host {host}"),
            WaitingReason::HostNotReady => format!("job {holder} holds host {host}"),
        }
    }

    /// Takes `resource`, waiting behind its holder; `false` when cancelled meanwhile.
    async fn take(&self, resource: &Resource, reason: WaitingReason) -> bool {
        let granted = match self.engine.locks.acquire(resource, &self.id) {
            Acquire::Granted => return true,
            Acquire::Queued { holder, granted } => {
                let text = self.wait_text(reason, &holder);
                self.mutate(|job, changes| {
                    let waiting = Waiting {
                        reason,
                        text: text.clone(),
                        blocking_job: Some(holder.clone()),
                        since: SystemTime::now(),
                    };
                    transition(job, changes, JobState::Waiting, Some(waiting), None);
                    self.store.push_output(
                        job,
                        vec![line(Level::Info, format!("waiting: {text}"), None)],
                        changes,
                    );
                });
                granted
            }
        };
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => {
                self.release(resource);
                false
            }
            _ = granted => {
                self.mutate(|job, changes| transition(job, changes, JobState::Running, None, None));
                true
            }
        }
    }

    /// Gives `resource` up and tells the jobs still queued who they wait for now.
    fn release(&self, resource: &Resource) {
        let released = self.engine.locks.release(resource, &self.id);
        let Some(holder) = released.granted else {
            return;
        };
        for waiter in released.waiting {
            let reason = match resource {
                Resource::HostHeavy(_) => WaitingReason::HostBusy,
                _ => WaitingReason::VmBusy,
            };
            let text = match resource {
                Resource::HostHeavy(host) => {
                    format!("job {holder} runs a heavy step on host {host}")
                }
                Resource::Vm(vm) => format!("job {holder} holds vm {vm}"),
                Resource::VmName(_, name) => format!("job {holder} holds vm {name}"),
            };
            self.store.mutate(&waiter, |job, changes| {
                let current = job.waiting.as_ref().map(|w| w.reason);
                if job.state == JobState::Waiting && current == Some(reason) {
                    let since = job
                        .waiting
                        .as_ref()
                        .map_or_else(SystemTime::now, |w| w.since);
                    let waiting = Waiting {
                        reason,
                        text,
                        blocking_job: Some(holder.clone()),
                        since,
                    };
                    transition(job, changes, JobState::Waiting, Some(waiting), None);
                }
            });
        }
    }

    async fn run(&self, job: &Job, plan: &[PlannedStep], held: &mut Vec<Resource>) -> Outcome {
        if self.cancel.is_cancelled() {
            return Outcome::Cancelled;
        }
        if let Some(resource) = vm_resource(job, plan) {
            if !self.take(&resource, WaitingReason::VmBusy).await {
                return Outcome::Cancelled;
            }
            held.push(resource);
        }
        if let Some(vm) = job.vm_id
            && !held.contains(&Resource::Vm(vm))
            && vm_resource(job, plan).is_some()
        {
            // A retried creation already made its VM: hold its id too.
            let resource = Resource::Vm(vm);
            if self.engine.locks.bind(&resource, &self.id) {
                held.push(resource);
            }
        }
        self.mutate(|job, changes| {
            job.started_at = Some(SystemTime::now());
            if job.state != JobState::Running {
                transition(job, changes, JobState::Running, None, None);
            }
        });
        let mut context = Context { vm_id: job.vm_id };
        let total = plan.len();
        for (index, step) in plan.iter().enumerate().skip(job.resume_index()) {
            if self.cancel.is_cancelled() {
                return Outcome::Cancelled;
            }
            let heavy = step
                .kind
                .is_heavy()
                .then(|| Resource::HostHeavy(job.host.clone()));
            if let Some(resource) = &heavy
                && !self.take(resource, WaitingReason::HostBusy).await
            {
                return Outcome::Cancelled;
            }
            let ended = self.step(job, index, total, step, &context).await;
            if let Some(resource) = &heavy {
                self.release(resource);
            }
            let ended = match ended {
                Ok(data) => {
                    self.succeeded(job, index, step, &data, &mut context, held);
                    Ok(())
                }
                Err(end) => Err(end),
            };
            if step.kind.is_mutating() {
                self.engine.refresher.refresh(&job.host).await;
            }
            match ended {
                Ok(()) => {}
                Err(StepEnd::Cancelled(error)) => {
                    self.step_ended(index, StepState::Cancelled, Some(error));
                    return Outcome::Cancelled;
                }
                Err(StepEnd::Failed(error)) => {
                    self.step_ended(index, StepState::Failed, Some(error.clone()));
                    return Outcome::Failed(error);
                }
            }
        }
        Outcome::Succeeded
    }

    fn step_ended(&self, index: usize, state: StepState, error: Option<ApiError>) {
        self.mutate(|job, changes| {
            if let Some(step) = job.steps.get_mut(index) {
                step.state = state;
                step.error = error;
                step.finished_at = Some(SystemTime::now());
                changes.push(Change::StepChanged(Box::new(step.clone())));
            }
            job.percent = job.compute_percent();
        });
    }

    fn succeeded(
        &self,
        job: &Job,
        index: usize,
        step: &PlannedStep,
        data: &Value,
        context: &mut Context,
        held: &mut Vec<Resource>,
    ) {
        let created = step.kind.created(data, &job.host, index as u32);
        if matches!(step.kind, StepKind::CreateVm(_))
            && let Some(vm) = created.as_ref().and_then(|c| VmId::parse(&c.id).ok())
        {
            context.vm_id = Some(vm);
            let resource = Resource::Vm(vm);
            if self.engine.locks.bind(&resource, &self.id) {
                held.push(resource);
            }
        }
        let result = self.scrubber.scrub_value(data);
        let vm_id = context.vm_id;
        self.mutate(|job, changes| {
            job.vm_id = vm_id.or(job.vm_id);
            if let Some(created) = created {
                job.created_resources.push(created);
            }
            if let Some(step) = job.steps.get_mut(index) {
                step.state = StepState::Succeeded;
                step.percent = 100;
                step.result = Some(result);
                step.finished_at = Some(SystemTime::now());
                changes.push(Change::StepChanged(Box::new(step.clone())));
            }
            job.percent = job.compute_percent();
        });
    }

    /// Runs one step to its end: dispatch (retrying while remote-tasks refuses for lack
    /// of room), stream its output, and its result.
    async fn step(
        &self,
        job: &Job,
        index: usize,
        total: usize,
        step: &PlannedStep,
        context: &Context,
    ) -> Result<Value, StepEnd> {
        let position = index as u32;
        self.mutate(|job, changes| {
            if let Some(s) = job.steps.get_mut(index) {
                s.state = StepState::Running;
                s.attempt += 1;
                s.percent = 0;
                s.progress_step.clear();
                s.result = None;
                s.error = None;
                s.task_id = None;
                s.started_at = Some(SystemTime::now());
                s.finished_at = None;
                changes.push(Change::StepChanged(Box::new(s.clone())));
            }
            job.percent = job.compute_percent();
        });
        self.say(
            Level::Info,
            format!("step {}/{total}: {}", index + 1, step.name),
            Some(position),
        );
        let params = step.kind.params(context).map_err(StepEnd::Failed)?;
        let settings = &self.engine.settings;
        let timeout = match (&step.kind, step.kind.category()) {
            (
                StepKind::Power {
                    shutdown_timeout_seconds: Some(wait),
                    ..
                },
                _,
            ) => settings
                .control_timeout
                .max(Duration::from_secs(u64::from(*wait)) + Duration::from_secs(60)),
            (_, Category::Io) => settings.io_timeout,
            (_, Category::Control) => settings.control_timeout,
        };
        let request = RunRequest {
            host: job.host.clone(),
            operation: step.kind.operation(),
            category: step.kind.category(),
            params: Secret::new(params),
            correlation_id: job.id.to_string(),
            timeout,
            requester: (!job.requester.is_empty()).then(|| job.requester.clone()),
        };
        let on_event = |event: RunEvent| self.on_event(index, event);
        let patience = tokio::time::Instant::now() + settings.dispatch_patience;
        let mut backoff = Duration::from_millis(200);
        loop {
            let outcome = self
                .engine
                .executor
                .run(request.clone(), &on_event, self.cancel.clone())
                .await;
            let error = match outcome {
                Ok(data) => {
                    self.say(
                        Level::Info,
                        format!("step {}/{total} succeeded", index + 1),
                        Some(position),
                    );
                    return Ok(data);
                }
                Err(RunError::Failed(error)) | Err(RunError::Refused(error))
                    if error.code == ErrorCode::Cancelled && self.cancel.is_cancelled() =>
                {
                    let error = scrubbed(&error, self.scrubber);
                    self.say(
                        Level::Warning,
                        format!("step {}/{total} cancelled: {}", index + 1, error.message),
                        Some(position),
                    );
                    return Err(StepEnd::Cancelled(error));
                }
                Err(RunError::Failed(error)) => error,
                Err(RunError::Refused(error))
                    if matches!(
                        error.code,
                        ErrorCode::ResourceExhausted | ErrorCode::Unavailable
                    ) && tokio::time::Instant::now() < patience =>
                {
                    let reason = if error.code == ErrorCode::ResourceExhausted {
                        WaitingReason::HostBusy
                    } else {
                        WaitingReason::HostNotReady
                    };
                    let text = self.scrubber.scrub(&error.message).into_owned();
                    self.mutate(|job, changes| {
                        let waiting = Waiting {
                            reason,
                            text: format!("remote-tasks did not take the step: {text}"),
                            blocking_job: None,
                            since: SystemTime::now(),
                        };
                        transition(job, changes, JobState::Waiting, Some(waiting), None);
                    });
                    tokio::select! {
                        () = self.cancel.cancelled() => {
                            return Err(StepEnd::Cancelled(ApiError::new(ErrorCode::Cancelled, "cancelled before the step started")));
                        }
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    self.mutate(|job, changes| {
                        transition(job, changes, JobState::Running, None, None)
                    });
                    continue;
                }
                Err(RunError::Refused(error)) => error,
            };
            let error = scrubbed(&error, self.scrubber)
                .with_metadata("step", position.to_string())
                .with_metadata("operation", step.kind.operation().as_str());
            self.say(
                Level::Error,
                format!("step {}/{total} failed: {}", index + 1, error.message),
                Some(position),
            );
            return Err(StepEnd::Failed(error));
        }
    }

    fn on_event(&self, index: usize, event: RunEvent) {
        let store = self.store;
        let position = index as u32;
        match event {
            RunEvent::Accepted { task_id } => {
                self.mutate(|job, changes| {
                    if let Some(step) = job.steps.get_mut(index) {
                        step.task_id = Some(task_id);
                        changes.push(Change::StepChanged(Box::new(step.clone())));
                    }
                });
            }
            RunEvent::Started => {}
            RunEvent::Log { level, message } => {
                let text = self.scrubber.scrub(&message).into_owned();
                self.mutate(|job, changes| {
                    store.push_output(job, vec![line(level, text, Some(position))], changes);
                });
            }
            RunEvent::Progress {
                step,
                percent,
                message,
            } => {
                let text = self.scrubber.scrub(&step).into_owned();
                let detail = self.scrubber.scrub(&message).into_owned();
                self.mutate(|job, changes| {
                    let percent = percent.min(100);
                    if let Some(s) = job.steps.get_mut(index) {
                        s.percent = percent;
                        s.progress_step = if detail.is_empty() {
                            text.clone()
                        } else {
                            format!("{text}: {detail}")
                        };
                    }
                    job.percent = job.compute_percent();
                    changes.push(Change::Progress {
                        percent: job.percent,
                        step_index: position,
                        step_percent: percent,
                        step_text: text,
                    });
                });
            }
        }
    }

    /// Publishes the attempt's end: remaining steps skipped, the final state, the hook.
    fn finish(&self, outcome: Outcome) {
        let store = self.store;
        let finished = self.mutate(|job, changes| {
            Store::skip_rest(job, changes);
            let (state, error, text) = match outcome {
                Outcome::Succeeded => (JobState::Succeeded, None, "job succeeded".to_owned()),
                Outcome::Cancelled => (JobState::Cancelled, None, "job cancelled".to_owned()),
                Outcome::Failed(error) => {
                    let text = format!("job failed: {}", error.message);
                    (JobState::Failed, Some(error), text)
                }
            };
            if !job.created_resources.is_empty() && state != JobState::Succeeded {
                let made: Vec<String> = job
                    .created_resources
                    .iter()
                    .map(|r| format!("{:?} {} ({})", r.kind, r.name, r.id).to_lowercase())
                    .collect();
                let text = format!("created so far (kept): {}", made.join(", "));
                store.push_output(job, vec![line(Level::Info, text, None)], changes);
            }
            let level = if state == JobState::Failed {
                Level::Error
            } else {
                Level::Info
            };
            store.push_output(job, vec![line(level, text, None)], changes);
            job.percent = job.compute_percent();
            transition(job, changes, state, None, error);
            job.without_output()
        });
        if let Some(job) = finished {
            self.engine.hooks.changed(&job);
        }
    }
}
