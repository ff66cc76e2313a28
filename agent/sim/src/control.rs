//! The control API: HTTP + JSON on its own address, for launchers and tests in other
//! processes (not part of the product's protos). Hosts are named by FQDN or computer name,
//! VMs by id or name. Errors are `{"error":{"code","message","field"?}}` with 400
//! (invalid input, naming the field), 404 (unknown host or VM), 409 (conflict).
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | GET | `/fleet` | | spec, clock, users (names only), every host with endpoints |
//! | PATCH | `/fleet/knobs` | knob patch | applies it to every host |
//! | POST | `/fleet/clock/advance` | `{"ms":N}` | moves a manual clock |
//! | GET | `/hosts/{host}` | | host, knobs, inventory host section, VM states |
//! | GET / PATCH | `/hosts/{host}/knobs` | knob patch | the knobs after |
//! | POST | `/hosts/{host}/knobs/reset` | | no faults, answering |
//! | GET | `/hosts/{host}/operations?since=N` | | the operation log after N |
//! | DELETE | `/hosts/{host}/operations` | | forgets the log |
//! | GET | `/hosts/{host}/vms` | | every VM (the model's truth, schema shape) |
//! | POST | `/hosts/{host}/vms` | new VM | adds a VM out of band (201) |
//! | GET | `/hosts/{host}/vms/{vm}` | | `{"vm":…,"guest_ignores_shutdown":…}` |
//! | PATCH | `/hosts/{host}/vms/{vm}` | VM change | changes it out of band |
//! | DELETE | `/hosts/{host}/vms/{vm}` | | removes it out of band (204) |
//!
//! A knob patch: `latency_ms`, `operation_latency_ms` (`{"vm.power":500}`),
//! `responsiveness` (`normal|unresponsive|refuse`), `fail_next` (`[{"count","operation"?,
//! "code","message"?}]`, appended), `malformed` (`{"mode":"no_result|two_results|
//! non_json_line|invalid_result","operation"?,"count"?}` or null), `guest_ignores_shutdown`
//! (`{"<vm>":true}`). A VM change: `name`, `state`, `cpu_count`, `memory_startup_bytes`,
//! `dynamic_memory_enabled`, `memory_minimum_bytes`, `memory_maximum_bytes`, `notes`,
//! `guest_os_name` (null: no OS), `guest_ignores_shutdown`. A new VM: `name`, and
//! optionally `cpu_count` (2), `memory_startup_bytes` (2 GiB), `generation` (2), `state`
//! (`Off`), `notes`, `guest_os_name`.

use std::sync::Arc;
use std::time::Duration;

use aetherv_hyperv::{Generation, VmId, VmState};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::Error;
use crate::fleet::FleetInner;
use crate::host::SimHost;
use crate::knobs::KnobsPatch;
use crate::model::vm_ops::{NewVm, VmChange};

type Fleet = State<Arc<FleetInner>>;

/// An error answer.
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<String>,
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let (status, code, field) = match &e {
            Error::Invalid { field, .. } => (
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                Some(field.clone()),
            ),
            Error::UnknownHost(_) | Error::UnknownVm { .. } => {
                (StatusCode::NOT_FOUND, "NOT_FOUND", None)
            }
            Error::Conflict { .. } => (StatusCode::CONFLICT, "CONFLICT", None),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", None),
        };
        ApiError {
            status,
            code,
            message: e.to_string(),
            field,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(f) = self.field {
            error["field"] = Value::String(f);
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

type Answer = Result<Json<Value>, ApiError>;

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        ApiError::from(Error::invalid(
            if field == "." {
                "body".to_owned()
            } else {
                field
            },
            e.inner().to_string(),
        ))
    })
}

fn to_json<T: serde::Serialize>(value: T) -> Answer {
    serde_json::to_value(value)
        .map(Json)
        .map_err(|e| ApiError::from(Error::invalid("response", e.to_string())))
}

/// The router, with the fleet as state.
pub(crate) fn router(fleet: Arc<FleetInner>) -> Router {
    Router::new()
        .route("/fleet", get(fleet_view))
        .route("/fleet/knobs", axum::routing::patch(fleet_knobs))
        .route("/fleet/clock/advance", post(advance))
        .route("/hosts/{host}", get(host_view))
        .route("/hosts/{host}/knobs", get(knobs).patch(patch_knobs))
        .route("/hosts/{host}/knobs/reset", post(reset_knobs))
        .route(
            "/hosts/{host}/operations",
            get(operations).delete(clear_operations),
        )
        .route("/hosts/{host}/vms", get(vms).post(add_vm))
        .route(
            "/hosts/{host}/vms/{vm}",
            get(vm).patch(change_vm).delete(remove_vm),
        )
        .with_state(fleet)
}

fn summary(h: &SimHost) -> Value {
    json!({
        "name": h.name(),
        "computer_name": h.computer_name(),
        "cluster": h.cluster(),
        "address": h.address().to_string(),
        "http_endpoint": h.http_endpoint(),
        "https_endpoint": h.https_endpoint(),
    })
}

async fn fleet_view(State(f): Fleet) -> Answer {
    let hosts: Vec<Value> = f.hosts.iter().map(summary).collect();
    Ok(Json(json!({
        "spec": {
            "hosts": f.spec.hosts,
            "vms_per_host": f.spec.vms_per_host,
            "clusters": f.spec.clusters,
            "seed": f.spec.seed,
        },
        "time_scale": f.clock.scale(),
        "now_ms": f.clock.now().millis(),
        "usernames": f.users.iter().map(|u| u.username.clone()).collect::<Vec<_>>(),
        "https": f.tls.is_some(),
        "hosts": hosts,
    })))
}

async fn fleet_knobs(State(f): Fleet, body: Bytes) -> Answer {
    let patch: KnobsPatch = parse(&body)?;
    if patch.guest_ignores_shutdown.is_some() {
        return Err(Error::invalid(
            "guest_ignores_shutdown",
            "is per host: use /hosts/{host}/knobs",
        )
        .into());
    }
    patch.validate().map_err(Error::from)?;
    for h in &f.hosts {
        h.apply(&patch)?;
    }
    Ok(Json(json!({ "hosts": f.hosts.len() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    ms: u64,
}

async fn advance(State(f): Fleet, body: Bytes) -> Answer {
    let a: Advance = parse(&body)?;
    if !f.clock.advance(Duration::from_millis(a.ms)) {
        return Err(Error::invalid("ms", "the fleet's clock is scaled, not manual").into());
    }
    Ok(Json(json!({ "now_ms": f.clock.now().millis() })))
}

async fn host_view(State(f): Fleet, Path(name): Path<String>) -> Answer {
    let h = f.host(&name)?;
    let inventory = h.inventory();
    let vms: Vec<Value> = inventory
        .vms
        .iter()
        .map(|v| json!({ "id": v.id, "name": v.name, "state": v.state }))
        .collect();
    Ok(Json(json!({
        "host": summary(&h),
        "knobs": h.knobs(),
        "inventory": inventory.host,
        "vms": vms,
        "running_operations": h.running_operations(),
        "peak_concurrent_operations": h.peak_concurrent_operations(),
    })))
}

async fn knobs(State(f): Fleet, Path(name): Path<String>) -> Answer {
    to_json(f.host(&name)?.knobs())
}

async fn patch_knobs(State(f): Fleet, Path(name): Path<String>, body: Bytes) -> Answer {
    let h = f.host(&name)?;
    let patch: KnobsPatch = parse(&body)?;
    h.apply(&patch)?;
    to_json(h.knobs())
}

async fn reset_knobs(State(f): Fleet, Path(name): Path<String>) -> Answer {
    let h = f.host(&name)?;
    h.clear_faults();
    to_json(h.knobs())
}

#[derive(Deserialize)]
struct Since {
    #[serde(default)]
    since: u64,
}

async fn operations(State(f): Fleet, Path(name): Path<String>, Query(q): Query<Since>) -> Answer {
    let h = f.host(&name)?;
    Ok(Json(json!({
        "records": h.operations_since(q.since),
        "running": h.running_operations(),
        "peak_concurrent": h.peak_concurrent_operations(),
    })))
}

async fn clear_operations(
    State(f): Fleet,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    f.host(&name)?.clear_operations();
    Ok(StatusCode::NO_CONTENT)
}

async fn vms(State(f): Fleet, Path(name): Path<String>) -> Answer {
    to_json(f.host(&name)?.vms())
}

fn resolve(h: &SimHost, vm: &str) -> Result<VmId, ApiError> {
    h.resolve_vm(vm).ok_or_else(|| {
        ApiError::from(Error::UnknownVm {
            host: h.name().to_owned(),
            vm: vm.to_owned(),
        })
    })
}

async fn vm(State(f): Fleet, Path((name, vm)): Path<(String, String)>) -> Answer {
    let h = f.host(&name)?;
    let id = resolve(&h, &vm)?;
    let snapshot = h.vm(id).ok_or_else(|| {
        ApiError::from(Error::UnknownVm {
            host: name.clone(),
            vm,
        })
    })?;
    Ok(Json(json!({
        "vm": snapshot,
        "guest_ignores_shutdown": h.guest_ignores_shutdown(id).unwrap_or(false),
    })))
}

fn double_option<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeBody {
    name: Option<String>,
    state: Option<VmState>,
    cpu_count: Option<u32>,
    memory_startup_bytes: Option<u64>,
    dynamic_memory_enabled: Option<bool>,
    memory_minimum_bytes: Option<u64>,
    memory_maximum_bytes: Option<u64>,
    notes: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    guest_os_name: Option<Option<String>>,
    guest_ignores_shutdown: Option<bool>,
}

fn to_change(b: ChangeBody, current: &aetherv_hyperv::Vm) -> Result<VmChange, Error> {
    let range_given = b.memory_minimum_bytes.is_some() || b.memory_maximum_bytes.is_some();
    let dynamic_memory = match b.dynamic_memory_enabled {
        Some(false) if range_given => {
            return Err(Error::invalid(
                "memory_minimum_bytes",
                "cannot be set while turning dynamic memory off",
            ));
        }
        Some(false) => Some(None),
        Some(true) | None if range_given || b.dynamic_memory_enabled == Some(true) => {
            let startup = b
                .memory_startup_bytes
                .unwrap_or(current.memory_startup_bytes);
            let min = b
                .memory_minimum_bytes
                .or(current.memory_minimum_bytes)
                .unwrap_or(startup.min(512 << 20));
            let max = b
                .memory_maximum_bytes
                .or(current.memory_maximum_bytes)
                .unwrap_or(startup.max(1 << 40));
            Some(Some((min, max)))
        }
        _ => None,
    };
    Ok(VmChange {
        name: b.name,
        state: b.state,
        cpu_count: b.cpu_count,
        memory_startup_bytes: b.memory_startup_bytes,
        dynamic_memory,
        notes: b.notes,
        guest_os_name: b.guest_os_name,
        guest_ignores_shutdown: b.guest_ignores_shutdown,
    })
}

async fn change_vm(
    State(f): Fleet,
    Path((name, vm)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let h = f.host(&name)?;
    let id = resolve(&h, &vm)?;
    let body: ChangeBody = parse(&body)?;
    let current = h.vm(id).ok_or_else(|| {
        ApiError::from(Error::UnknownVm {
            host: name.clone(),
            vm,
        })
    })?;
    let change = to_change(body, &current)?;
    to_json(h.change_vm(id, &change)?)
}

fn default_cpu() -> u32 {
    2
}
fn default_memory() -> u64 {
    2 << 30
}
fn default_generation() -> u8 {
    2
}
fn default_state() -> VmState {
    VmState::Off
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewVmBody {
    name: String,
    #[serde(default = "default_cpu")]
    cpu_count: u32,
    #[serde(default = "default_memory")]
    memory_startup_bytes: u64,
    #[serde(default = "default_generation")]
    generation: u8,
    #[serde(default = "default_state")]
    state: VmState,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    guest_os_name: Option<String>,
}

async fn add_vm(
    State(f): Fleet,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let h = f.host(&name)?;
    let b: NewVmBody = parse(&body)?;
    let generation = match b.generation {
        1 => Generation::One,
        2 => Generation::Two,
        _ => return Err(Error::invalid("generation", "must be 1 or 2").into()),
    };
    let vm = h.add_vm(&NewVm {
        name: b.name,
        cpu_count: b.cpu_count,
        memory_startup_bytes: b.memory_startup_bytes,
        generation,
        state: b.state,
        notes: b.notes,
        guest_os_name: b.guest_os_name,
    })?;
    Ok((StatusCode::CREATED, to_json(vm)?))
}

async fn remove_vm(
    State(f): Fleet,
    Path((name, vm)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let h = f.host(&name)?;
    let id = resolve(&h, &vm)?;
    h.remove_vm(id)?;
    Ok(StatusCode::NO_CONTENT)
}
