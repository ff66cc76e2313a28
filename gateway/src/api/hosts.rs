//! `POST /api/v1/hosts/{host}/refresh` (inventory's `RefreshHost`: the UI's "Refresh now")
//! and `GET /api/v1/hosts/{host}/resources` (the host's resource catalogue and switches as
//! inventory holds them, for the provisioning forms).

use aetherv_proto::inventory::v1 as pb;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::app::{AppState, RequestContext};
use crate::error::{Dependency, HttpError};
use crate::model::jobs::error_json;
use crate::model::{HostJson, rfc3339, seconds};
use crate::query::{Params, check_name};

/// How long a refresh may take before the gateway stops waiting (the host's own timeout
/// is inventory's; this only bounds the request).
const REFRESH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// `POST /api/v1/hosts/{host}/refresh`.
pub async fn refresh(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let host = check_name("host", &super::path_param("host", path)?)?;
    Params::parse(query.as_deref(), &[])?;
    let upstream = state.upstreams.require(Dependency::Inventory)?;
    let mut request = tonic::Request::new(pb::RefreshHostRequest { host });
    request.set_timeout(REFRESH_TIMEOUT);
    let mut client = upstream.inventory(&context.call);
    let answer = match tokio::time::timeout(REFRESH_TIMEOUT, client.refresh_host(request)).await {
        Err(_) => return Err(HttpError::timeout(Dependency::Inventory, REFRESH_TIMEOUT)),
        Ok(Err(status)) => {
            return Err(HttpError::from_status(
                Dependency::Inventory,
                &status,
                &[("host", "host")],
            ));
        }
        Ok(Ok(answer)) => answer.into_inner(),
    };
    let host = answer
        .host
        .as_ref()
        .map_or(Value::Null, |host| json!(HostJson::new(host)));
    Ok(Json(json!({
        "ok": answer.ok,
        "host": host,
        "error": error_json(answer.error.as_ref()),
        "duration_seconds": seconds(answer.duration.as_ref()),
        "revision": answer.revision,
        "vms_added": answer.vms_added,
        "vms_changed": answer.vms_changed,
        "vms_removed": answer.vms_removed,
    }))
    .into_response())
}

fn os_family(value: i32) -> &'static str {
    match pb::OsFamily::try_from(value) {
        Ok(pb::OsFamily::Windows) => "windows",
        Ok(pb::OsFamily::Linux) => "linux",
        Ok(pb::OsFamily::Other) => "other",
        _ => "unknown",
    }
}

/// `GET /api/v1/hosts/{host}/resources`.
pub async fn resources(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let host = check_name("host", &super::path_param("host", path)?)?;
    Params::parse(query.as_deref(), &[])?;
    let upstream = state.upstreams.require(Dependency::Inventory)?;
    let record = upstream
        .call(
            upstream
                .inventory(&context.call)
                .get_host(upstream.request(pb::GetHostRequest { host })),
            &[("host", "host")],
        )
        .await?;
    let catalogue = record.resources.clone().unwrap_or_default();
    let switches = serde_json::to_value(HostJson::new(&record))
        .ok()
        .and_then(|mut host| host.get_mut("virtual_switches").map(Value::take))
        .unwrap_or_else(|| json!([]));
    let storage_classes: Vec<Value> = catalogue
        .storage_classes
        .iter()
        .map(|class| {
            json!({"name": class.name, "path": class.path, "total_bytes": class.total_bytes, "free_bytes": class.free_bytes})
        })
        .collect();
    let networks: Vec<Value> = catalogue
        .networks
        .iter()
        .map(|network| json!({"name": network.name, "switch_name": network.switch_name, "vlan_id": network.vlan_id}))
        .collect();
    let images: Vec<Value> = catalogue
        .images
        .iter()
        .map(|image| {
            json!({
                "name": image.name,
                "path": image.path,
                "os_family": os_family(image.os_family),
                "capacity_bytes": image.capacity_bytes,
                "file_size_bytes": image.file_size_bytes,
            })
        })
        .collect();
    Ok(Json(json!({
        "host": record.host,
        "catalogue_path": (!catalogue.catalogue_path.is_empty()).then_some(&catalogue.catalogue_path),
        "storage_classes": storage_classes,
        "networks": networks,
        "images": images,
        "virtual_switches": switches,
        "refreshed_at": rfc3339(record.last_refresh.as_ref()),
    }))
    .into_response())
}
