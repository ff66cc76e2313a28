//! The JSON of jobs (REST and the `jobs` topics), converted from `aetherv.jobs.v1`: job
//! types, states and levels as lower-case names, the spec and step results as JSON
//! objects (the service sends them as text), errors in the API's `{code, message,
//! details}` shape, unknown values `null`.

use aetherv_proto::common::v1 as common;
use aetherv_proto::jobs::v1 as pb;
use serde_json::{Map, Value, json};

use super::rfc3339;
use crate::error::{Dependency, HttpError};

/// `(wire name, proto type)` of every job type, in the proto's order.
pub const JOB_TYPES: [(&str, pb::JobType); 18] = [
    ("create_vm", pb::JobType::CreateVm),
    ("update_vm", pb::JobType::UpdateVm),
    ("delete_vm", pb::JobType::DeleteVm),
    ("start_vm", pb::JobType::StartVm),
    ("shutdown_vm", pb::JobType::ShutdownVm),
    ("stop_vm", pb::JobType::StopVm),
    ("reset_vm", pb::JobType::ResetVm),
    ("save_vm", pb::JobType::SaveVm),
    ("pause_vm", pb::JobType::PauseVm),
    ("resume_vm", pb::JobType::ResumeVm),
    ("create_disk", pb::JobType::CreateDisk),
    ("resize_disk", pb::JobType::ResizeDisk),
    ("delete_disk", pb::JobType::DeleteDisk),
    ("create_nic", pb::JobType::CreateNic),
    ("update_nic", pb::JobType::UpdateNic),
    ("delete_nic", pb::JobType::DeleteNic),
    ("managed_deployment", pb::JobType::ManagedDeployment),
    ("noop", pb::JobType::Noop),
];

/// `(wire name, proto state)` of every job state.
pub const JOB_STATES: [(&str, pb::JobState); 6] = [
    ("pending", pb::JobState::Pending),
    ("waiting", pb::JobState::Waiting),
    ("running", pb::JobState::Running),
    ("succeeded", pb::JobState::Succeeded),
    ("failed", pb::JobState::Failed),
    ("cancelled", pb::JobState::Cancelled),
];

/// The wire name of a proto job type (`noop` never stands in: unknown is `unknown`).
pub fn job_type_name(value: i32) -> &'static str {
    JOB_TYPES
        .iter()
        .find(|(_, kind)| *kind as i32 == value)
        .map_or("unknown", |(name, _)| name)
}

/// The wire name of a proto job state.
pub fn job_state_name(value: i32) -> &'static str {
    JOB_STATES
        .iter()
        .find(|(_, state)| *state as i32 == value)
        .map_or("unknown", |(name, _)| name)
}

fn step_state_name(value: i32) -> &'static str {
    match pb::StepState::try_from(value) {
        Ok(pb::StepState::Pending) => "pending",
        Ok(pb::StepState::Running) => "running",
        Ok(pb::StepState::Succeeded) => "succeeded",
        Ok(pb::StepState::Failed) => "failed",
        Ok(pb::StepState::Cancelled) => "cancelled",
        Ok(pb::StepState::Skipped) => "skipped",
        _ => "unknown",
    }
}

fn level_name(value: i32) -> &'static str {
    match common::LogLevel::try_from(value) {
        Ok(common::LogLevel::Debug) => "debug",
        Ok(common::LogLevel::Warning) => "warning",
        Ok(common::LogLevel::Error) => "error",
        _ => "info",
    }
}

/// The wire name of an entity kind (notifications' `related`, created resources).
pub fn entity_kind_name(value: i32) -> &'static str {
    match common::EntityKind::try_from(value) {
        Ok(common::EntityKind::System) => "system",
        Ok(common::EntityKind::Cluster) => "cluster",
        Ok(common::EntityKind::Host) => "host",
        Ok(common::EntityKind::Vm) => "vm",
        Ok(common::EntityKind::Disk) => "disk",
        Ok(common::EntityKind::Nic) => "nic",
        Ok(common::EntityKind::Job) => "job",
        Ok(common::EntityKind::Deployment) => "deployment",
        _ => "other",
    }
}

fn non_empty(text: &str) -> Value {
    if text.is_empty() {
        Value::Null
    } else {
        Value::String(text.to_string())
    }
}

fn time(at: Option<&prost_types::Timestamp>) -> Value {
    rfc3339(at).map_or(Value::Null, Value::String)
}

/// A JSON text from the service as a value; text that does not parse (it always does)
/// is kept as a string rather than lost.
fn parsed(text: &str) -> Value {
    if text.is_empty() {
        return Value::Null;
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// An error stored in a job or step, as `{code, message, details}`.
pub fn error_json(detail: Option<&common::ErrorDetail>) -> Value {
    match detail {
        Some(detail) => HttpError::from_detail(Dependency::Jobs, detail.clone()).error_json(),
        None => Value::Null,
    }
}

fn waiting_json(waiting: Option<&pb::Waiting>) -> Value {
    let Some(waiting) = waiting else {
        return Value::Null;
    };
    let reason = match pb::WaitingReason::try_from(waiting.reason) {
        Ok(pb::WaitingReason::VmBusy) => "vm_busy",
        Ok(pb::WaitingReason::HostBusy) => "host_busy",
        Ok(pb::WaitingReason::HostNotReady) => "host_not_ready",
        _ => "other",
    };
    json!({
        "reason": reason,
        "text": waiting.text,
        "blocking_job_id": non_empty(&waiting.blocking_job_id),
        "since": time(waiting.since.as_ref()),
    })
}

/// One step.
pub fn step_json(step: &pb::Step) -> Value {
    json!({
        "index": step.index,
        "name": step.name,
        "operation": step.operation,
        "state": step_state_name(step.state),
        "percent": step.percent,
        "progress_step": non_empty(&step.progress_step),
        "output_lines": step.output_lines,
        "result": parsed(&step.result_json),
        "error": error_json(step.error.as_ref()),
        "started_at": time(step.started_at.as_ref()),
        "finished_at": time(step.finished_at.as_ref()),
        "attempt": step.attempt,
        "task_id": non_empty(&step.task_id),
    })
}

/// One output line.
pub fn line_json(line: &pb::OutputLine) -> Value {
    json!({
        "time": time(line.time.as_ref()),
        "level": level_name(line.level),
        "text": line.text,
        "step_index": line.step_index,
    })
}

/// A job; `output` adds its output lines (single-job reads).
pub fn job_json(job: &pb::Job, output: bool) -> Value {
    let mut object = Map::new();
    let mut put = |key: &str, value: Value| {
        object.insert(key.to_string(), value);
    };
    put("id", json!(job.id));
    put("type", json!(job_type_name(job.r#type)));
    put("state", json!(job_state_name(job.state)));
    put("waiting", waiting_json(job.waiting.as_ref()));
    put("host", json!(job.host));
    put("vm_id", non_empty(&job.vm_id));
    put("vm_name", non_empty(&job.vm_name));
    put("requester", non_empty(&job.requester));
    let spec = match parsed(&job.spec_json) {
        Value::Object(spec) => Value::Object(spec),
        _ => Value::Object(Map::new()),
    };
    put("spec", spec);
    put(
        "steps",
        Value::Array(job.steps.iter().map(step_json).collect()),
    );
    put(
        "created_resources",
        Value::Array(
            job.created_resources
                .iter()
                .map(|resource| {
                    json!({
                        "kind": match entity_kind_name(resource.kind) {
                            kind @ ("vm" | "disk" | "nic") => kind,
                            _ => "other",
                        },
                        "id": resource.id,
                        "name": resource.name,
                        "host": resource.host,
                        "step_index": resource.step_index,
                    })
                })
                .collect(),
        ),
    );
    if output {
        put(
            "output",
            Value::Array(job.output.iter().map(line_json).collect()),
        );
    }
    put("output_truncated", json!(job.output_truncated));
    put("percent", json!(job.percent));
    put("error", error_json(job.error.as_ref()));
    put("created_at", time(job.created_at.as_ref()));
    put("started_at", time(job.started_at.as_ref()));
    put("finished_at", time(job.finished_at.as_ref()));
    put("attempt", json!(job.attempt));
    put("cancel_requested", json!(job.cancel_requested));
    put("last_event_id", json!(job.last_event_id));
    put("cursor", json!(job.last_event_id.to_string()));
    Value::Object(object)
}

/// A job event as `(kind, data)` for a `/ws` frame; `None` for markers (resync, synced,
/// heartbeat) and snapshots, which the topic handles itself.
pub fn event_json(event: &pb::JobEvent) -> Option<(&'static str, Value)> {
    use pb::job_event::Event;
    let at = time(event.time.as_ref());
    let job_id = &event.job_id;
    Some(match event.event.as_ref()? {
        Event::Created(job) => {
            let mut data = job_json(job, false);
            data["job_id"] = json!(job_id);
            data["time"] = at;
            ("job_created", data)
        }
        Event::StateChanged(changed) => (
            "job_state_changed",
            json!({
                "job_id": job_id,
                "time": at,
                "state": job_state_name(changed.state),
                "previous_state": job_state_name(changed.previous_state),
                "waiting": waiting_json(changed.waiting.as_ref()),
                "error": error_json(changed.error.as_ref()),
                "attempt": changed.attempt,
            }),
        ),
        Event::StepChanged(step) => (
            "job_step_changed",
            json!({"job_id": job_id, "time": at, "step": step_json(step)}),
        ),
        Event::Output(lines) => (
            "job_output",
            json!({
                "job_id": job_id,
                "time": at,
                "lines": lines.lines.iter().map(line_json).collect::<Vec<_>>(),
            }),
        ),
        Event::Progress(progress) => (
            "job_progress",
            json!({
                "job_id": job_id,
                "time": at,
                "percent": progress.percent,
                "step_index": progress.step_index,
                "step_percent": progress.step_percent,
                "step_text": non_empty(&progress.step_text),
            }),
        ),
        Event::Snapshot(_) | Event::Resync(_) | Event::Synced(_) | Event::Heartbeat(_) => {
            return None;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_has_names_objects_and_nulls() {
        let job = pb::Job {
            id: "job-3f2a9c1e-0b4d-4e8f-9a51-6c2d7e8f9a01".to_string(),
            r#type: pb::JobType::StartVm as i32,
            state: pb::JobState::Waiting as i32,
            waiting: Some(pb::Waiting {
                reason: pb::WaitingReason::VmBusy as i32,
                text: "job job-x holds vm web-01".to_string(),
                ..pb::Waiting::default()
            }),
            host: "hv01".to_string(),
            spec_json: r#"{"host":"hv01","vm_id":"x"}"#.to_string(),
            steps: vec![pb::Step {
                name: "start".to_string(),
                operation: "vm.power".to_string(),
                state: pb::StepState::Pending as i32,
                result_json: r#"{"state":"Running"}"#.to_string(),
                attempt: 1,
                ..pb::Step::default()
            }],
            last_event_id: 42,
            attempt: 1,
            ..pb::Job::default()
        };
        let value = job_json(&job, false);
        assert_eq!(value["type"], "start_vm");
        assert_eq!(value["state"], "waiting");
        assert_eq!(value["waiting"]["reason"], "vm_busy");
        assert_eq!(value["waiting"]["blocking_job_id"], Value::Null);
        assert_eq!(value["spec"]["host"], "hv01");
        assert_eq!(value["vm_id"], Value::Null);
        assert_eq!(value["steps"][0]["result"]["state"], "Running");
        assert_eq!(value["steps"][0]["task_id"], Value::Null);
        assert_eq!(value["cursor"], "42");
        assert!(value.get("output").is_none());
        assert!(job_json(&job, true)["output"].is_array());
    }

    #[test]
    fn events_carry_the_job_and_their_time() {
        let event = pb::JobEvent {
            event_id: 7,
            job_id: "job-1".to_string(),
            time: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            event: Some(pb::job_event::Event::StateChanged(pb::StateChanged {
                state: pb::JobState::Running as i32,
                previous_state: pb::JobState::Pending as i32,
                attempt: 1,
                ..pb::StateChanged::default()
            })),
        };
        let Some((kind, data)) = event_json(&event) else {
            panic!("a state change is an event");
        };
        assert_eq!(kind, "job_state_changed");
        assert_eq!(data["job_id"], "job-1");
        assert_eq!(data["state"], "running");
        assert_eq!(data["previous_state"], "pending");
        assert_eq!(data["time"], "2023-11-14T22:13:20Z");
        let marker = pb::JobEvent {
            event: Some(pb::job_event::Event::Heartbeat(pb::Heartbeat {
                event_id: 3,
            })),
            ..pb::JobEvent::default()
        };
        assert!(event_json(&marker).is_none());
    }
}
