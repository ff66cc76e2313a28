//! `GET /api/v1/vms/{id}/disks[/{disk_id}]` and `GET /api/v1/vms/{id}/nics[/{nic_id}]`:
//! a VM's disks and network adapters, read from inventory's record of the VM. Device ids
//! hold `\` and `:`; clients percent-encode them in the path. An id is matched without
//! regard to case, as Hyper-V treats them.

use aetherv_proto::inventory::v1 as inventory;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::changes::vm_and_device;
use super::submit;
use crate::app::{AppState, RequestContext};
use crate::error::HttpError;
use crate::model::{DiskJson, NicJson};
use crate::query::{Params, check_vm_id};

async fn read_vm(
    state: &AppState,
    context: &RequestContext,
    path: Result<Path<String>, PathRejection>,
    query: Option<&str>,
) -> Result<inventory::Vm, HttpError> {
    let id = check_vm_id("id", &super::path_param("id", path)?)?;
    Params::parse(query, &[])?;
    submit::vm(state, context, id).await
}

/// `GET /api/v1/vms/{id}/disks`.
pub async fn list_disks(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let vm = read_vm(&state, &context, path, query.as_deref()).await?;
    let disks: Vec<DiskJson<'_>> = vm.disks.iter().map(DiskJson::new).collect();
    Ok(Json(json!({"vm_id": vm.id, "revision": vm.revision, "disks": disks})).into_response())
}

/// `GET /api/v1/vms/{id}/nics`.
pub async fn list_nics(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let vm = read_vm(&state, &context, path, query.as_deref()).await?;
    let nics: Vec<NicJson<'_>> = vm.nics.iter().map(NicJson::new).collect();
    Ok(Json(json!({"vm_id": vm.id, "revision": vm.revision, "nics": nics})).into_response())
}

/// `GET /api/v1/vms/{id}/disks/{disk_id}`.
pub async fn get_disk(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let (id, disk_id) = vm_and_device("disk_id", path)?;
    Params::parse(query.as_deref(), &[])?;
    let vm = submit::vm(&state, &context, id).await?;
    let disk = vm
        .disks
        .iter()
        .find(|disk| disk.id.eq_ignore_ascii_case(&disk_id))
        .ok_or_else(|| HttpError::not_found(&format!("disk of vm {}", vm.name), &disk_id))?;
    Ok(Json(DiskJson::new(disk)).into_response())
}

/// `GET /api/v1/vms/{id}/nics/{nic_id}`.
pub async fn get_nic(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let (id, nic_id) = vm_and_device("nic_id", path)?;
    Params::parse(query.as_deref(), &[])?;
    let vm = submit::vm(&state, &context, id).await?;
    let nic = vm
        .nics
        .iter()
        .find(|nic| nic.id.eq_ignore_ascii_case(&nic_id))
        .ok_or_else(|| {
            HttpError::not_found(&format!("network adapter of vm {}", vm.name), &nic_id)
        })?;
    Ok(Json(NicJson::new(nic)).into_response())
}
