//! The mutations of VMs, disks and network adapters, managed deployments and the generic
//! job submission: each builds its job spec from the body and the path (the VM's host from
//! inventory) and submits it ([`super::submit`]), answering 202 with the job.

use aetherv_proto::inventory::v1 as inventory;
use aetherv_proto::jobs::v1 as pb;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::Response;
use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Map, Value, json};

use super::submit::{self, Submission};
use crate::app::{AppState, RequestContext};
use crate::error::{FieldNames, HttpError};
use crate::model::jobs::JOB_TYPES;
use crate::query::{Params, check_vm_id};

const VM_FIELDS: FieldNames = &[("/vm_id", "id"), ("/host", "id")];
const DELETE_VM_FIELDS: FieldNames = &[
    ("/vm_id", "id"),
    ("/host", "id"),
    ("/force", "force"),
    ("/delete_disks", "delete_disks"),
];
const DISK_FIELDS: FieldNames = &[
    ("/vm_id", "id"),
    ("/host", "id"),
    ("/disk_id", "disk_id"),
    ("/delete_file", "delete_file"),
];
const NIC_FIELDS: FieldNames = &[("/vm_id", "id"), ("/host", "id"), ("/nic_id", "nic_id")];
/// Keys of a VM route's body that the path supplies.
const FROM_VM: &[(&str, &str)] = &[("host", "id"), ("vm_id", "id")];

/// Checks a disk or adapter id from the path (the service checks its form).
pub fn check_device_id(parameter: &str, value: &str) -> Result<String, HttpError> {
    if value.is_empty() || value.len() > 512 || value.chars().any(char::is_control) {
        return Err(HttpError::bad_parameter(
            parameter,
            "must be 1 to 512 characters without control characters (the id as the vm lists it, percent-encoded)",
        ));
    }
    Ok(value.to_string())
}

/// The two parameters of `/vms/{id}/disks/{disk_id}`-like routes, checked.
pub fn vm_and_device(
    device: &str,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(String, String), HttpError> {
    let Path((id, device_id)) =
        path.map_err(|rejection| HttpError::bad_parameter(device, rejection.body_text()))?;
    Ok((
        check_vm_id("id", &id)?,
        check_device_id(device, &device_id)?,
    ))
}

/// The VM's spec target: `host` and `vm_id` added to `spec`.
fn target(mut spec: Map<String, Value>, vm: &inventory::Vm) -> Map<String, Value> {
    spec.insert("host".to_string(), json!(vm.host));
    spec.insert("vm_id".to_string(), json!(vm.id));
    spec
}

async fn run(
    state: &AppState,
    context: &RequestContext,
    headers: &HeaderMap,
    job_type: pb::JobType,
    spec: Map<String, Value>,
    fields: FieldNames,
) -> Result<Response, HttpError> {
    let request_id = submit::idempotency_key(headers)?;
    let job = submit::submit(
        state,
        context,
        Submission {
            job_type,
            spec,
            fields,
            request_id,
        },
    )
    .await?;
    tracing::info!(
        request_id = context.request_id,
        job_id = job.id,
        job_type = submit::type_name(job_type),
        host = job.host,
        "job queued"
    );
    Ok(submit::accepted(&job, submit::type_name(job_type)))
}

/// `POST /api/v1/vms`: the body is the create_vm spec.
pub async fn create_vm(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, HttpError> {
    Params::parse(query.as_deref(), &[])?;
    let spec = submit::body_object(body, &[])?;
    run(&state, &context, &headers, pb::JobType::CreateVm, spec, &[]).await
}

/// `POST /api/v1/deployments`: the body is the managed_deployment spec.
pub async fn create_deployment(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, HttpError> {
    Params::parse(query.as_deref(), &[])?;
    let spec = submit::body_object(body, &[])?;
    run(
        &state,
        &context,
        &headers,
        pb::JobType::ManagedDeployment,
        spec,
        &[],
    )
    .await
}

/// `POST /api/v1/jobs`: `{"type", "spec"}`.
pub async fn submit_job(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, HttpError> {
    Params::parse(query.as_deref(), &[])?;
    let mut body = submit::body_object(body, &[])?;
    let names: Vec<&str> = JOB_TYPES.iter().map(|(name, _)| *name).collect();
    let job_type = match body.remove("type") {
        Some(Value::String(name)) => JOB_TYPES
            .iter()
            .find(|(wire, _)| *wire == name)
            .map(|(_, kind)| *kind)
            .ok_or_else(|| {
                HttpError::bad_parameter(
                    "body.type",
                    format!("unknown job type (one of: {})", names.join(", ")),
                )
                .with_allowed(&names)
            })?,
        _ => {
            return Err(
                HttpError::bad_parameter("body.type", "is required (a job type)")
                    .with_allowed(&names),
            );
        }
    };
    let spec = match body.remove("spec") {
        Some(Value::Object(spec)) => spec,
        _ => {
            return Err(HttpError::bad_parameter(
                "body.spec",
                "is required (a json object)",
            ));
        }
    };
    if let Some(key) = body.keys().next() {
        let shown: String = key.chars().take(64).collect();
        return Err(HttpError::bad_parameter(
            &format!("body.{shown}"),
            "unknown field (known: type, spec)",
        ));
    }
    run(&state, &context, &headers, job_type, spec, &[]).await
}

/// `PATCH /api/v1/vms/{id}`: update_vm.
pub async fn update_vm(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, HttpError> {
    let id = check_vm_id("id", &super::path_param("id", path)?)?;
    Params::parse(query.as_deref(), &[])?;
    let body = submit::body_object(body, FROM_VM)?;
    let vm = submit::vm(&state, &context, id).await?;
    run(
        &state,
        &context,
        &headers,
        pb::JobType::UpdateVm,
        target(body, &vm),
        VM_FIELDS,
    )
    .await
}

/// `DELETE /api/v1/vms/{id}?force=&delete_disks=`: delete_vm.
pub async fn delete_vm(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let id = check_vm_id("id", &super::path_param("id", path)?)?;
    let params = Params::parse(query.as_deref(), &["force", "delete_disks"])?;
    let mut spec = Map::new();
    for flag in ["force", "delete_disks"] {
        if let Some(value) = params.boolean(flag)? {
            spec.insert(flag.to_string(), json!(value));
        }
    }
    let vm = submit::vm(&state, &context, id).await?;
    run(
        &state,
        &context,
        &headers,
        pb::JobType::DeleteVm,
        target(spec, &vm),
        DELETE_VM_FIELDS,
    )
    .await
}

/// `POST /api/v1/vms/{id}/disks`: create_disk.
pub async fn create_disk(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, HttpError> {
    let id = check_vm_id("id", &super::path_param("id", path)?)?;
    Params::parse(query.as_deref(), &[])?;
    let body = submit::body_object(body, FROM_VM)?;
    let vm = submit::vm(&state, &context, id).await?;
    run(
        &state,
        &context,
        &headers,
        pb::JobType::CreateDisk,
        target(body, &vm),
        DISK_FIELDS,
    )
    .await
}

/// The inventory's spelling of a device id the VM has, else the id as given (the service
/// refuses an unknown one naming it).
fn canonical<'a>(mut ids: impl Iterator<Item = &'a str>, given: &str) -> String {
    ids.find(|id| id.eq_ignore_ascii_case(given))
        .unwrap_or(given)
        .to_string()
}

/// `PATCH /api/v1/vms/{id}/disks/{disk_id}`: resize_disk.
pub async fn resize_disk(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, HttpError> {
    let (id, disk_id) = vm_and_device("disk_id", path)?;
    Params::parse(query.as_deref(), &[])?;
    let body = submit::body_object(
        body,
        &[("host", "id"), ("vm_id", "id"), ("disk_id", "disk_id")],
    )?;
    let vm = submit::vm(&state, &context, id).await?;
    let mut spec = target(body, &vm);
    let disk_id = canonical(vm.disks.iter().map(|d| d.id.as_str()), &disk_id);
    spec.insert("disk_id".to_string(), json!(disk_id));
    run(
        &state,
        &context,
        &headers,
        pb::JobType::ResizeDisk,
        spec,
        DISK_FIELDS,
    )
    .await
}

/// `DELETE /api/v1/vms/{id}/disks/{disk_id}?delete_file=`: delete_disk.
pub async fn delete_disk(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let (id, disk_id) = vm_and_device("disk_id", path)?;
    let params = Params::parse(query.as_deref(), &["delete_file"])?;
    let mut spec = Map::new();
    if let Some(delete_file) = params.boolean("delete_file")? {
        spec.insert("delete_file".to_string(), json!(delete_file));
    }
    let vm = submit::vm(&state, &context, id).await?;
    let mut spec = target(spec, &vm);
    let disk_id = canonical(vm.disks.iter().map(|d| d.id.as_str()), &disk_id);
    spec.insert("disk_id".to_string(), json!(disk_id));
    run(
        &state,
        &context,
        &headers,
        pb::JobType::DeleteDisk,
        spec,
        DISK_FIELDS,
    )
    .await
}

/// `POST /api/v1/vms/{id}/nics`: create_nic.
pub async fn create_nic(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, HttpError> {
    let id = check_vm_id("id", &super::path_param("id", path)?)?;
    Params::parse(query.as_deref(), &[])?;
    let body = submit::body_object(body, FROM_VM)?;
    let vm = submit::vm(&state, &context, id).await?;
    run(
        &state,
        &context,
        &headers,
        pb::JobType::CreateNic,
        target(body, &vm),
        NIC_FIELDS,
    )
    .await
}

/// `PATCH /api/v1/vms/{id}/nics/{nic_id}`: update_nic.
pub async fn update_nic(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, HttpError> {
    let (id, nic_id) = vm_and_device("nic_id", path)?;
    Params::parse(query.as_deref(), &[])?;
    let body = submit::body_object(
        body,
        &[("host", "id"), ("vm_id", "id"), ("nic_id", "nic_id")],
    )?;
    let vm = submit::vm(&state, &context, id).await?;
    let mut spec = target(body, &vm);
    let nic_id = canonical(vm.nics.iter().map(|n| n.id.as_str()), &nic_id);
    spec.insert("nic_id".to_string(), json!(nic_id));
    run(
        &state,
        &context,
        &headers,
        pb::JobType::UpdateNic,
        spec,
        NIC_FIELDS,
    )
    .await
}

/// `DELETE /api/v1/vms/{id}/nics/{nic_id}`: delete_nic.
pub async fn delete_nic(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let (id, nic_id) = vm_and_device("nic_id", path)?;
    Params::parse(query.as_deref(), &[])?;
    let vm = submit::vm(&state, &context, id).await?;
    let mut spec = target(Map::new(), &vm);
    let nic_id = canonical(vm.nics.iter().map(|n| n.id.as_str()), &nic_id);
    spec.insert("nic_id".to_string(), json!(nic_id));
    run(
        &state,
        &context,
        &headers,
        pb::JobType::DeleteNic,
        spec,
        NIC_FIELDS,
    )
    .await
}
