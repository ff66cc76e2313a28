//! Domain ↔ `aetherv.jobs.v1`: jobs, steps, output and events to proto; job types and
//! states from proto. No logic.

use std::time::SystemTime;

use aetherv_proto::common::v1 as common;
use aetherv_proto::jobs::v1 as pb;
use aetherv_proto::jobs::v1::job_event::Event as Kind;

use crate::domain::events::{Change, Event, ResyncReason};
use crate::domain::model::{
    CreatedResource, Job, JobState, Level, OutputLine, ResourceKind, Step, StepState, Waiting,
    WaitingReason,
};
use crate::spec::JobType;

/// A timestamp.
pub fn time(at: SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(at)
}

/// A job type from its proto value; `None` for unspecified or unknown.
pub fn job_type_from(value: i32) -> Option<JobType> {
    use pb::JobType as P;
    Some(match P::try_from(value).ok()? {
        P::Unspecified => return None,
        P::CreateVm => JobType::CreateVm,
        P::UpdateVm => JobType::UpdateVm,
        P::DeleteVm => JobType::DeleteVm,
        P::StartVm => JobType::StartVm,
        P::ShutdownVm => JobType::ShutdownVm,
        P::StopVm => JobType::StopVm,
        P::ResetVm => JobType::ResetVm,
        P::SaveVm => JobType::SaveVm,
        P::PauseVm => JobType::PauseVm,
        P::ResumeVm => JobType::ResumeVm,
        P::CreateDisk => JobType::CreateDisk,
        P::ResizeDisk => JobType::ResizeDisk,
        P::DeleteDisk => JobType::DeleteDisk,
        P::CreateNic => JobType::CreateNic,
        P::UpdateNic => JobType::UpdateNic,
        P::DeleteNic => JobType::DeleteNic,
        P::ManagedDeployment => JobType::ManagedDeployment,
        P::Noop => JobType::Noop,
    })
}

/// A job type's proto value.
pub fn job_type(value: JobType) -> pb::JobType {
    use pb::JobType as P;
    match value {
        JobType::CreateVm => P::CreateVm,
        JobType::UpdateVm => P::UpdateVm,
        JobType::DeleteVm => P::DeleteVm,
        JobType::StartVm => P::StartVm,
        JobType::ShutdownVm => P::ShutdownVm,
        JobType::StopVm => P::StopVm,
        JobType::ResetVm => P::ResetVm,
        JobType::SaveVm => P::SaveVm,
        JobType::PauseVm => P::PauseVm,
        JobType::ResumeVm => P::ResumeVm,
        JobType::CreateDisk => P::CreateDisk,
        JobType::ResizeDisk => P::ResizeDisk,
        JobType::DeleteDisk => P::DeleteDisk,
        JobType::CreateNic => P::CreateNic,
        JobType::UpdateNic => P::UpdateNic,
        JobType::DeleteNic => P::DeleteNic,
        JobType::ManagedDeployment => P::ManagedDeployment,
        JobType::Noop => P::Noop,
    }
}

/// A job state's proto value.
pub fn state(value: JobState) -> pb::JobState {
    match value {
        JobState::Pending => pb::JobState::Pending,
        JobState::Waiting => pb::JobState::Waiting,
        JobState::Running => pb::JobState::Running,
        JobState::Succeeded => pb::JobState::Succeeded,
        JobState::Failed => pb::JobState::Failed,
        JobState::Cancelled => pb::JobState::Cancelled,
    }
}

/// A job state from its proto value; `None` for unspecified or unknown.
pub fn state_from(value: i32) -> Option<JobState> {
    Some(match pb::JobState::try_from(value).ok()? {
        pb::JobState::Unspecified => return None,
        pb::JobState::Pending => JobState::Pending,
        pb::JobState::Waiting => JobState::Waiting,
        pb::JobState::Running => JobState::Running,
        pb::JobState::Succeeded => JobState::Succeeded,
        pb::JobState::Failed => JobState::Failed,
        pb::JobState::Cancelled => JobState::Cancelled,
    })
}

fn waiting(value: &Waiting) -> pb::Waiting {
    pb::Waiting {
        reason: match value.reason {
            WaitingReason::VmBusy => pb::WaitingReason::VmBusy,
            WaitingReason::HostBusy => pb::WaitingReason::HostBusy,
            WaitingReason::HostNotReady => pb::WaitingReason::HostNotReady,
        } as i32,
        text: value.text.clone(),
        blocking_job_id: value
            .blocking_job
            .as_ref()
            .map_or_else(String::new, ToString::to_string),
        since: Some(time(value.since)),
    }
}

/// A step.
pub fn step(value: &Step) -> pb::Step {
    pb::Step {
        index: value.index,
        name: value.name.clone(),
        operation: value.operation.as_str().to_owned(),
        state: match value.state {
            StepState::Pending => pb::StepState::Pending,
            StepState::Running => pb::StepState::Running,
            StepState::Succeeded => pb::StepState::Succeeded,
            StepState::Failed => pb::StepState::Failed,
            StepState::Cancelled => pb::StepState::Cancelled,
            StepState::Skipped => pb::StepState::Skipped,
        } as i32,
        percent: value.percent,
        progress_step: value.progress_step.clone(),
        output_lines: value.output_lines,
        result_json: value
            .result
            .as_ref()
            .map_or_else(String::new, ToString::to_string),
        error: value.error.as_ref().map(|e| e.to_detail()),
        started_at: value.started_at.map(time),
        finished_at: value.finished_at.map(time),
        attempt: value.attempt,
        task_id: value.task_id.clone().unwrap_or_default(),
    }
}

fn resource(value: &CreatedResource) -> pb::CreatedResource {
    pb::CreatedResource {
        kind: match value.kind {
            ResourceKind::Vm => common::EntityKind::Vm,
            ResourceKind::Disk => common::EntityKind::Disk,
            ResourceKind::Nic => common::EntityKind::Nic,
        } as i32,
        id: value.id.clone(),
        name: value.name.clone(),
        host: value.host.to_string(),
        step_index: value.step_index,
    }
}

fn line(value: &OutputLine) -> pb::OutputLine {
    pb::OutputLine {
        time: Some(time(value.time)),
        level: match value.level {
            Level::Debug => common::LogLevel::Debug,
            Level::Info => common::LogLevel::Info,
            Level::Warning => common::LogLevel::Warning,
            Level::Error => common::LogLevel::Error,
        } as i32,
        text: value.text.clone(),
        step_index: value.step,
    }
}

/// A job (with whatever output the domain copy holds).
pub fn job(value: &Job) -> pb::Job {
    pb::Job {
        id: value.id.to_string(),
        r#type: job_type(value.job_type) as i32,
        state: state(value.state) as i32,
        waiting: value.waiting.as_ref().map(waiting),
        host: value.host.to_string(),
        vm_id: value.vm_id.map_or_else(String::new, |v| v.to_string()),
        vm_name: value.vm_name.clone(),
        requester: value.requester.clone(),
        spec_json: value.spec.to_string(),
        steps: value.steps.iter().map(step).collect(),
        created_resources: value.created_resources.iter().map(resource).collect(),
        output: value.output.iter().map(line).collect(),
        output_truncated: value.output_truncated,
        percent: value.percent,
        error: value.error.as_ref().map(|e| e.to_detail()),
        created_at: Some(time(value.created_at)),
        started_at: value.started_at.map(time),
        finished_at: value.finished_at.map(time),
        attempt: value.attempt,
        cancel_requested: value.cancel_requested,
        last_event_id: value.last_event_id,
    }
}

/// A logged event.
pub fn event(value: &Event) -> pb::JobEvent {
    let kind = match &value.change {
        Change::Created(created) => Kind::Created(job(created)),
        Change::StateChanged {
            state: new,
            previous,
            waiting: wait,
            error,
            attempt,
        } => Kind::StateChanged(pb::StateChanged {
            state: state(*new) as i32,
            previous_state: state(*previous) as i32,
            waiting: wait.as_ref().map(waiting),
            error: error.as_ref().map(|e| e.to_detail()),
            attempt: *attempt,
        }),
        Change::StepChanged(changed) => Kind::StepChanged(step(changed)),
        Change::Output(lines) => Kind::Output(pb::OutputLines {
            lines: lines.iter().map(line).collect(),
        }),
        Change::Progress {
            percent,
            step_index,
            step_percent,
            step_text,
        } => Kind::Progress(pb::ProgressChanged {
            percent: *percent,
            step_index: *step_index,
            step_percent: *step_percent,
            step_text: step_text.clone(),
        }),
    };
    pb::JobEvent {
        event_id: value.id,
        job_id: value.job_id.to_string(),
        time: Some(time(value.time)),
        event: Some(kind),
    }
}

/// A snapshot event of a job.
pub fn snapshot(value: &Job) -> pb::JobEvent {
    pb::JobEvent {
        event_id: value.last_event_id,
        job_id: value.id.to_string(),
        time: Some(time(SystemTime::now())),
        event: Some(Kind::Snapshot(job(value))),
    }
}

/// A marker event (resync, synced, heartbeat): no id, no job.
pub fn marker(kind: Kind) -> pb::JobEvent {
    pb::JobEvent {
        event_id: 0,
        job_id: String::new(),
        time: Some(time(SystemTime::now())),
        event: Some(kind),
    }
}

/// A resync reason's proto value.
pub fn resync_reason(value: ResyncReason) -> pb::ResyncReason {
    match value {
        ResyncReason::Initial => pb::ResyncReason::Initial,
        ResyncReason::TooOld => pb::ResyncReason::TooOld,
        ResyncReason::UnknownEventId => pb::ResyncReason::UnknownEventId,
        ResyncReason::FellBehind => pb::ResyncReason::FellBehind,
    }
}
