//! Power actions: `POST /api/v1/vms/{id}/start|shutdown|stop|reset|save|pause|resume` and
//! the bulk `POST /api/v1/vms/power`. Each is a job (`<action>_vm`) of the jobs service,
//! which checks the VM's state against inventory with the agent protocol's rules and
//! refuses with FAILED_PRECONDITION (`state_allows`, the allowed states); the gateway turns
//! that into the API's 409 with `details.vm_state` (from the VM it read for the job's host)
//! and `details.allowed_states`. Bulk submits one job per VM, a few at a time, and answers
//! every VM's outcome in the order asked.

use aetherv_hyperv::{PowerAction, VmState as AgentState};
use aetherv_proto::inventory::v1 as inventory;
use aetherv_proto::jobs::v1 as pb;
use aetherv_runtime::ErrorCode;
use axum::Json;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use http::HeaderMap;
use serde_json::{Map, Value, json};

use super::submit::{self, Submission};
use crate::app::{AppState, RequestContext};
use crate::error::{FieldNames, HttpError};
use crate::model::jobs::job_json;
use crate::model::{API_ACTIONS, agent_state_name, state_name};
use crate::query::{Params, check_vm_id};

/// Spec pointers of a power job that come from the path.
const POWER_FIELDS: FieldNames = &[("/vm_id", "id"), ("/host", "id")];

/// The most VMs of one bulk request.
pub const MAX_BULK: usize = 1000;

macro_rules! action_handler {
    ($name:ident, $action:expr, $doc:literal) => {
        #[doc = $doc]
        pub async fn $name(
            State(state): State<AppState>,
            Extension(context): Extension<RequestContext>,
            headers: HeaderMap,
            path: Result<Path<String>, PathRejection>,
            RawQuery(query): RawQuery,
            body: Result<Bytes, BytesRejection>,
        ) -> Result<Response, HttpError> {
            power(
                &state,
                &context,
                &headers,
                $action,
                path,
                query.as_deref(),
                body,
            )
            .await
        }
    };
}

action_handler!(start, PowerAction::Start, "`POST /api/v1/vms/{id}/start`.");
action_handler!(
    shutdown,
    PowerAction::Shutdown,
    "`POST /api/v1/vms/{id}/shutdown`."
);
action_handler!(stop, PowerAction::Stop, "`POST /api/v1/vms/{id}/stop`.");
action_handler!(reset, PowerAction::Reset, "`POST /api/v1/vms/{id}/reset`.");
action_handler!(save, PowerAction::Save, "`POST /api/v1/vms/{id}/save`.");
action_handler!(pause, PowerAction::Pause, "`POST /api/v1/vms/{id}/pause`.");
action_handler!(
    resume,
    PowerAction::Resume,
    "`POST /api/v1/vms/{id}/resume`."
);

/// The job type of an action.
pub fn job_type(action: PowerAction) -> pb::JobType {
    match action {
        PowerAction::Start => pb::JobType::StartVm,
        PowerAction::Shutdown => pb::JobType::ShutdownVm,
        PowerAction::Stop => pb::JobType::StopVm,
        PowerAction::Reset => pb::JobType::ResetVm,
        PowerAction::Save => pb::JobType::SaveVm,
        PowerAction::Pause => pb::JobType::PauseVm,
        PowerAction::Resume => pb::JobType::ResumeVm,
    }
}

/// The options an action's body may hold: shutdown's, none for the others.
fn options_of(action: PowerAction) -> &'static [&'static str] {
    match action {
        PowerAction::Shutdown => &["timeout_seconds", "turn_off_after_timeout"],
        _ => &[],
    }
}

/// The body: nothing, or an object of the action's options (their values are checked by
/// the job's schema). Another key is a 400 naming it, before any service is called.
fn options(
    action: PowerAction,
    body: Result<Bytes, BytesRejection>,
) -> Result<Map<String, Value>, HttpError> {
    let body = submit::body_object(body, &[])?;
    let allowed = options_of(action);
    if let Some(key) = body.keys().find(|key| !allowed.contains(&key.as_str())) {
        let shown: String = key.chars().take(64).collect();
        let why = if allowed.is_empty() {
            format!("unknown field ({} takes no body)", action.as_str())
        } else {
            format!("unknown field (known: {})", allowed.join(", "))
        };
        return Err(HttpError::bad_parameter(&format!("body.{shown}"), why));
    }
    Ok(body)
}

/// A state name of the agent protocol (`Off`, `Reset`) as the API writes states.
fn api_state(name: &str) -> String {
    [
        AgentState::Running,
        AgentState::Off,
        AgentState::Saved,
        AgentState::Paused,
        AgentState::Starting,
        AgentState::Stopping,
        AgentState::Saving,
        AgentState::Pausing,
        AgentState::Resuming,
        AgentState::Reset,
        AgentState::Other,
    ]
    .into_iter()
    .find(|state| state.as_str().eq_ignore_ascii_case(name))
    .map_or_else(
        || name.to_ascii_lowercase(),
        |state| agent_state_name(state).to_string(),
    )
}

/// Adds the API's facts to a refusal of the jobs service about the VM's state or host.
fn explain(mut error: HttpError, action: PowerAction, vm: &inventory::Vm) -> HttpError {
    let rules: Vec<(String, Vec<String>)> = error
        .details
        .get("violations")
        .and_then(Value::as_array)
        .map(|violations| {
            violations
                .iter()
                .map(|v| {
                    let rule = v["rule"].as_str().unwrap_or_default().to_string();
                    let allowed = v["allowed"]
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_str).map(api_state).collect())
                        .unwrap_or_default();
                    (rule, allowed)
                })
                .collect()
        })
        .unwrap_or_default();
    if error.code != ErrorCode::FailedPrecondition {
        return error;
    }
    error = error.with_detail("action", action.as_str());
    if let Some((_, allowed)) = rules.iter().find(|(rule, _)| rule == "state_allows") {
        error = error
            .with_detail("vm_state", state_name(vm.state))
            .with_detail("allowed_states", allowed.clone());
    }
    if rules.iter().any(|(rule, _)| rule.starts_with("host_")) {
        error = error.with_detail("host", vm.host.clone());
    }
    error
}

/// Submits `action` on `vm`: the job.
async fn submit_action(
    state: &AppState,
    context: &RequestContext,
    action: PowerAction,
    vm: &inventory::Vm,
    options: Map<String, Value>,
    request_id: Option<String>,
) -> Result<pb::Job, HttpError> {
    let mut spec = options;
    spec.insert("host".to_string(), json!(vm.host));
    spec.insert("vm_id".to_string(), json!(vm.id));
    let submission = Submission {
        job_type: job_type(action),
        spec,
        fields: POWER_FIELDS,
        request_id,
    };
    submit::submit(state, context, submission)
        .await
        .map_err(|error| explain(error, action, vm))
}

fn accepted_body(action: PowerAction, vm: &inventory::Vm, job: &pb::Job) -> Value {
    json!({
        "status": "accepted",
        "action": action.as_str(),
        "vm": {"id": vm.id, "name": vm.name, "host": vm.host},
        "previous_state": state_name(vm.state),
        "task_id": null,
        "job_id": job.id,
        "job": job_json(job, false),
        "message": format!("{} queued as {} for vm {} on {}", action.as_str(), job.id, vm.name, vm.host),
    })
}

async fn power(
    state: &AppState,
    context: &RequestContext,
    headers: &HeaderMap,
    action: PowerAction,
    path: Result<Path<String>, PathRejection>,
    query: Option<&str>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, HttpError> {
    let id = check_vm_id("id", &super::path_param("id", path)?)?;
    Params::parse(query, &[])?;
    let options = options(action, body)?;
    let request_id = submit::idempotency_key(headers)?;
    let vm = submit::vm(state, context, id).await?;
    let job = submit_action(state, context, action, &vm, options, request_id).await?;
    tracing::info!(
        request_id = context.request_id,
        vm = vm.id,
        host = vm.host,
        action = action.as_str(),
        job_id = job.id,
        "power action queued"
    );
    Ok(submit::accepted_with(
        &job.id,
        accepted_body(action, &vm, &job),
    ))
}

/// A bulk request, checked.
struct Bulk {
    action: PowerAction,
    vm_ids: Vec<String>,
    options: Map<String, Value>,
}

fn bulk_request(body: Result<Bytes, BytesRejection>) -> Result<Bulk, HttpError> {
    let mut body = submit::body_object(body, &[])?;
    let violation = |pointer: &str, rule: &str, message: &str| {
        submit::spec_violation(pointer, rule, message, None)
    };
    let names: Vec<&str> = API_ACTIONS.iter().map(|a| a.as_str()).collect();
    let action = match body.remove("action") {
        Some(Value::String(name)) => API_ACTIONS
            .into_iter()
            .find(|action| action.as_str() == name)
            .ok_or_else(|| {
                violation(
                    "/action",
                    "enum",
                    &format!("must be one of {}", names.join(", ")),
                )
            })?,
        Some(_) => return Err(violation("/action", "type", "must be a string")),
        None => return Err(violation("", "required", "action is required")),
    };
    let ids = match body.remove("vm_ids") {
        Some(Value::Array(ids)) => ids,
        Some(_) => return Err(violation("/vm_ids", "type", "must be an array of vm ids")),
        None => return Err(violation("", "required", "vm_ids is required")),
    };
    if ids.is_empty() || ids.len() > MAX_BULK {
        return Err(violation(
            "/vm_ids",
            if ids.is_empty() {
                "minItems"
            } else {
                "maxItems"
            },
            &format!("must hold 1 to {MAX_BULK} vm ids"),
        ));
    }
    let mut vm_ids: Vec<String> = Vec::with_capacity(ids.len());
    for (index, id) in ids.iter().enumerate() {
        let pointer = format!("/vm_ids/{index}");
        let checked = id
            .as_str()
            .and_then(|text| check_vm_id("id", text).ok())
            .ok_or_else(|| violation(&pointer, "pattern", "must be a vm id (a guid)"))?;
        if vm_ids.contains(&checked) {
            return Err(violation(&pointer, "uniqueItems", "is listed twice"));
        }
        vm_ids.push(checked);
    }
    let allowed = options_of(action);
    if let Some(key) = body.keys().find(|key| !allowed.contains(&key.as_str())) {
        return Err(violation(
            &format!("/{key}"),
            "additionalProperties",
            &format!("is not an option of {}", action.as_str()),
        ));
    }
    Ok(Bulk {
        action,
        vm_ids,
        options: body,
    })
}

/// `POST /api/v1/vms/power`.
pub async fn bulk(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, HttpError> {
    Params::parse(query.as_deref(), &[])?;
    let request = bulk_request(body)?;
    let key = submit::idempotency_key(&headers)?;
    if key.as_ref().is_some_and(|key| key.len() > 91) {
        return Err(HttpError::bad_parameter(
            "Idempotency-Key",
            "must be at most 91 characters on a bulk request (each vm's key is <key>:<vm id>)",
        ));
    }
    let action = request.action;
    let concurrency = state.config.http.bulk_concurrency;
    let results: Vec<Value> = futures::stream::iter(request.vm_ids)
        .map(|id| {
            let state = &state;
            let context = &context;
            let options = request.options.clone();
            let request_id = key.as_ref().map(|key| format!("{key}:{id}"));
            async move {
                let vm = match submit::vm(state, context, id.clone()).await {
                    Ok(vm) => vm,
                    Err(error) => return refused(&id, None, &error),
                };
                match submit_action(state, context, action, &vm, options, request_id).await {
                    Ok(job) => json!({
                        "vm_id": id,
                        "status": "accepted",
                        "http_status": 202,
                        "job_id": job.id,
                        "vm": {"id": vm.id, "name": vm.name, "host": vm.host},
                        "previous_state": state_name(vm.state),
                        "error": null,
                    }),
                    Err(error) => refused(&id, Some(&vm), &error),
                }
            }
        })
        .buffered(concurrency)
        .collect()
        .await;
    let accepted = results.iter().filter(|r| r["status"] == "accepted").count();
    tracing::info!(
        request_id = context.request_id,
        action = action.as_str(),
        requested = results.len(),
        accepted,
        "bulk power action"
    );
    Ok(Json(json!({
        "action": action.as_str(),
        "requested": results.len(),
        "accepted": accepted,
        "refused": results.len() - accepted,
        "results": results,
    }))
    .into_response())
}

fn refused(id: &str, vm: Option<&inventory::Vm>, error: &HttpError) -> Value {
    json!({
        "vm_id": id,
        "status": "refused",
        "http_status": error.http_status().as_u16(),
        "job_id": null,
        "vm": vm.map(|vm| json!({"id": vm.id, "name": vm.name, "host": vm.host})),
        "previous_state": vm.map(|vm| state_name(vm.state)),
        "error": error.error_json(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_requests_are_checked_naming_the_field() {
        let parse = |text: &'static str| bulk_request(Ok(Bytes::from_static(text.as_bytes())));
        let ok = parse(r#"{"action":"stop","vm_ids":["3F2A9C1E-0B4D-4E8F-9A51-6C2D7E8F9A01"]}"#);
        let Ok(ok) = ok else {
            panic!("a valid request was refused");
        };
        assert_eq!(ok.action, PowerAction::Stop);
        assert_eq!(ok.vm_ids, ["3f2a9c1e-0b4d-4e8f-9a51-6c2d7e8f9a01"]);
        let pointer = |text: &'static str| {
            parse(text)
                .err()
                .map(|e| e.details["violations"][0]["pointer"].clone())
        };
        assert_eq!(
            pointer(r#"{"action":"fly","vm_ids":[]}"#),
            Some(json!("/action"))
        );
        assert_eq!(
            pointer(r#"{"action":"stop","vm_ids":[]}"#),
            Some(json!("/vm_ids"))
        );
        assert_eq!(
            pointer(r#"{"action":"stop","vm_ids":["x"]}"#),
            Some(json!("/vm_ids/0"))
        );
        assert_eq!(
            pointer(
                r#"{"action":"stop","vm_ids":["3f2a9c1e-0b4d-4e8f-9a51-6c2d7e8f9a01"],"timeout_seconds":3}"#
            ),
            Some(json!("/timeout_seconds"))
        );
        assert!(parse(r#"{"action":"shutdown","vm_ids":["3f2a9c1e-0b4d-4e8f-9a51-6c2d7e8f9a01"],"timeout_seconds":3}"#).is_ok());
    }

    #[test]
    fn agent_states_read_as_api_states() {
        assert_eq!(api_state("Off"), "off");
        assert_eq!(api_state("Reset"), "resetting");
        assert_eq!(api_state("Weird"), "weird");
    }
}
