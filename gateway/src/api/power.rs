//! `POST /api/v1/vms/{id}/start|shutdown|stop|reset`. The VM is read from inventory and
//! the action checked against its state with the agent protocol's rules
//! (`aetherv_hyperv::PowerAction::allowed_from`, the reference system's table); then
//! remote-tasks runs `vm.power` on the host (category `control`). The answer is a 202 as
//! soon as remote-tasks has accepted the task; a background task follows the run to its
//! result and then asks inventory to refresh the host at once, so the new state reaches
//! `/ws` without waiting for the schedule. The next release moves this into the jobs
//! service; the 202 body then carries a `job_id` as well.

use std::time::Duration;

use aetherv_hyperv::PowerAction;
use aetherv_proto::inventory::v1 as inventory;
use aetherv_proto::remotetasks::v1 as tasks;
use aetherv_runtime::{CallContext, ErrorCode};
use axum::Json;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};
use tonic::Streaming;

use crate::app::{AppState, RequestContext};
use crate::error::{Dependency, HttpError};
use crate::model::{agent_state, agent_state_name, state_name};
use crate::query::{Params, check_vm_id};

/// How long the follow-up host refresh may take.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(120);

macro_rules! action_handler {
    ($name:ident, $action:expr, $doc:literal) => {
        #[doc = $doc]
        pub async fn $name(
            State(state): State<AppState>,
            Extension(context): Extension<RequestContext>,
            path: Result<Path<String>, PathRejection>,
            RawQuery(query): RawQuery,
            body: Result<Bytes, BytesRejection>,
        ) -> Result<Response, HttpError> {
            power(&state, &context, $action, path, query.as_deref(), body).await
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

/// The request has no body: nothing, or an empty JSON object.
fn check_body(body: Result<Bytes, BytesRejection>) -> Result<(), HttpError> {
    let body = body.map_err(|rejection| HttpError::bad_parameter("body", rejection.body_text()))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(object)) if object.is_empty() => Ok(()),
        Ok(Value::Object(object)) => {
            let field = object.keys().next().cloned().unwrap_or_default();
            let shown: String = field.chars().take(64).collect();
            Err(HttpError::bad_parameter(
                &format!("body.{shown}"),
                "unknown field (power actions take no body)",
            ))
        }
        _ => Err(HttpError::bad_parameter(
            "body",
            "must be empty or an empty json object",
        )),
    }
}

async fn power(
    state: &AppState,
    context: &RequestContext,
    action: PowerAction,
    path: Result<Path<String>, PathRejection>,
    query: Option<&str>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, HttpError> {
    let id = check_vm_id("id", &super::path_param("id", path)?)?;
    Params::parse(query, &[])?;
    check_body(body)?;
    let inventory_upstream = state.upstreams.require(Dependency::Inventory)?;
    let remote = state.upstreams.require(Dependency::RemoteTasks)?;
    let vm = inventory_upstream
        .call(
            inventory_upstream
                .inventory(&context.call)
                .get_vm(inventory_upstream.request(inventory::GetVmRequest { vm_id: id })),
            &[("vm_id", "id")],
        )
        .await?;
    let current = state_name(vm.state);
    if vm.stale {
        return Err(HttpError::new(
            ErrorCode::FailedPrecondition,
            format!(
                "cannot {} vm {}: its host {} is unreachable",
                action.as_str(),
                vm.name,
                vm.host
            ),
        )
        .with_detail("host", vm.host.clone())
        .with_detail("action", action.as_str())
        .with_detail("vm_state", current));
    }
    if !action.allowed_from().contains(&agent_state(vm.state)) {
        let allowed: Vec<&str> = action
            .allowed_from()
            .iter()
            .map(|state| agent_state_name(*state))
            .collect();
        return Err(HttpError::new(
            ErrorCode::FailedPrecondition,
            format!(
                "cannot {} vm {} while it is {current} (allowed from: {})",
                action.as_str(),
                vm.name,
                allowed.join(", ")
            ),
        )
        .with_detail("vm_state", current)
        .with_detail("allowed_states", allowed)
        .with_detail("action", action.as_str()));
    }

    let run = tasks::RunRequest {
        host: vm.host.clone(),
        operation: "vm.power".to_string(),
        params_json: json!({"vm_id": vm.id, "action": action.as_str()}).to_string(),
        category: tasks::Category::Control as i32,
        timeout: None,
        correlation_id: context.request_id.clone(),
    };
    // No grpc-timeout on the stream: it lives as long as the operation (remote-tasks
    // applies the category's timeout). Only the wait for `accepted` is bounded here.
    let mut stream = remote
        .call(
            remote
                .remote_tasks(&context.call)
                .run(tonic::Request::new(run)),
            &[],
        )
        .await?;
    let task_id = match tokio::time::timeout(remote.request_timeout(), stream.message()).await {
        Err(_) => {
            return Err(HttpError::timeout(
                Dependency::RemoteTasks,
                remote.request_timeout(),
            ));
        }
        Ok(Err(status)) => {
            return Err(HttpError::from_status(
                Dependency::RemoteTasks,
                &status,
                &[],
            ));
        }
        Ok(Ok(None)) => {
            return Err(HttpError::new(
                ErrorCode::Internal,
                "remote_tasks ended the run before accepting it",
            ));
        }
        Ok(Ok(Some(event))) => event.task_id,
    };
    tracing::info!(
        request_id = context.request_id,
        vm = vm.id,
        host = vm.host,
        action = action.as_str(),
        task_id,
        "power action accepted"
    );
    let body = json!({
        "status": "accepted",
        "action": action.as_str(),
        "vm": {"id": vm.id, "name": vm.name, "host": vm.host},
        "previous_state": current,
        "task_id": task_id,
        "job_id": null,
        "message": format!("{} accepted for vm {} on {}", action.as_str(), vm.name, vm.host),
    });
    state.background.spawn(follow(
        state.clone(),
        stream,
        vm.host,
        vm.id,
        action,
        task_id,
        context.call.clone(),
    ));
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// Follows a run to its result, logs the outcome, then refreshes the host in inventory.
async fn follow(
    state: AppState,
    mut stream: Streaming<tasks::RunEvent>,
    host: String,
    vm_id: String,
    action: PowerAction,
    task_id: String,
    call: CallContext,
) {
    let limit = state.config.http.power_action_timeout;
    let result = async {
        loop {
            match stream.message().await {
                Ok(Some(tasks::RunEvent {
                    event: Some(tasks::run_event::Event::Result(result)),
                    ..
                })) => return Ok(Some(result)),
                Ok(Some(_)) => {}
                Ok(None) => return Ok(None),
                Err(status) => return Err(status),
            }
        }
    };
    let outcome = tokio::select! {
        () = state.abort.cancelled() => {
            tracing::warn!(task_id, vm = vm_id, "gateway stopping: no longer following the power action");
            return;
        }
        outcome = tokio::time::timeout(limit, result) => outcome,
    };
    let action = action.as_str();
    match outcome {
        Err(_) => tracing::warn!(
            task_id,
            vm = vm_id,
            host,
            action,
            ?limit,
            "power action still running; no longer followed"
        ),
        Ok(Err(status)) => {
            tracing::warn!(task_id, vm = vm_id, host, action, code = ?status.code(), message = status.message(), "power action stream failed")
        }
        Ok(Ok(None)) => tracing::warn!(
            task_id,
            vm = vm_id,
            host,
            action,
            "power action stream ended without a result"
        ),
        Ok(Ok(Some(result))) if result.ok => {
            tracing::info!(task_id, vm = vm_id, host, action, "power action succeeded")
        }
        Ok(Ok(Some(result))) => {
            let error = result.error.unwrap_or_default();
            tracing::warn!(
                task_id,
                vm = vm_id,
                host,
                action,
                agent_code = error.agent_code,
                message = error.message,
                "power action failed"
            );
        }
    }
    let Some(upstream) = state.upstreams.get(Dependency::Inventory) else {
        return;
    };
    let mut request = tonic::Request::new(inventory::RefreshHostRequest { host: host.clone() });
    request.set_timeout(REFRESH_TIMEOUT);
    let mut client = upstream.inventory(&call);
    let refresh = client.refresh_host(request);
    tokio::select! {
        () = state.abort.cancelled() => {}
        refreshed = tokio::time::timeout(REFRESH_TIMEOUT, refresh) => match refreshed {
            Ok(Ok(_)) => tracing::debug!(host, "host refreshed after a power action"),
            Ok(Err(status)) => tracing::warn!(host, code = ?status.code(), message = status.message(), "refresh after a power action failed"),
            Err(_) => tracing::warn!(host, "refresh after a power action timed out"),
        },
    }
}
