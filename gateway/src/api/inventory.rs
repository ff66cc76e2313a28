//! `/api/v1/inventory`, `/api/v1/summary`, `/api/v1/clusters[/{name}]`,
//! `/api/v1/hosts[/{host}]`: read through the inventory service.

use aetherv_proto::inventory::v1 as pb;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::app::{AppState, RequestContext};
use crate::error::{Dependency, HttpError};
use crate::model::{
    CapacityJson, ClusterJson, HOST_STATUSES, HostJson, VM_STATES, host_status_name, seconds,
    state_name,
};
use crate::query::{Params, check_name};

/// `GET /api/v1/inventory` body.
#[derive(Debug, Serialize)]
struct SummaryJson<'a> {
    revision: u64,
    counts: Value,
    capacity: CapacityJson,
    refresh: Value,
    clusters: Vec<ClusterJson<'a>>,
    hosts: Vec<HostJson<'a>>,
}

fn counts(summary: &pb::Summary) -> Value {
    let mut by_status = Map::new();
    for (name, _) in HOST_STATUSES {
        by_status.insert(name.to_string(), json!(0));
    }
    for entry in &summary.hosts_by_status {
        by_status.insert(
            host_status_name(entry.status).to_string(),
            json!(entry.count),
        );
    }
    let mut by_state = Map::new();
    for (name, _) in VM_STATES {
        by_state.insert(name.to_string(), json!(0));
    }
    for entry in &summary.vms_by_state {
        let name = state_name(entry.state);
        let previous = by_state.get(name).and_then(Value::as_u64).unwrap_or(0);
        by_state.insert(name.to_string(), json!(previous + u64::from(entry.count)));
    }
    json!({
        "hosts": summary.hosts_total,
        "hosts_by_status": by_status,
        "standalone_hosts": summary.standalone_hosts,
        "clusters": summary.clusters_total,
        "vms": summary.vms_total,
        "stale_vms": summary.stale_vms,
        "vms_by_state": by_state,
    })
}

fn refresh(status: Option<&pb::RefreshStatus>) -> Value {
    let status = status.cloned().unwrap_or_default();
    json!({
        "interval_seconds": seconds(status.interval.as_ref()),
        "initial_refresh_done": status.initial_refresh_done,
        "last_cycle_seconds": seconds(status.last_cycle_duration.as_ref()),
        "overrun": status.overrun,
        "slow_hosts": status.slow_hosts,
        "average_host_refresh_seconds": seconds(status.average_host_refresh.as_ref()),
    })
}

/// `GET /api/v1/inventory`: counts, capacity, refresh status, clusters and hosts.
pub async fn summary(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    Params::parse(query.as_deref(), &[])?;
    let upstream = state.upstreams.require(Dependency::Inventory)?;
    let (mut a, mut b, mut c) = (
        upstream.inventory(&context.call),
        upstream.inventory(&context.call),
        upstream.inventory(&context.call),
    );
    let (summary, clusters, hosts) = tokio::try_join!(
        upstream.call(
            a.get_summary(upstream.request(pb::GetSummaryRequest {})),
            &[]
        ),
        upstream.call(
            b.list_clusters(upstream.request(pb::ListClustersRequest {})),
            &[]
        ),
        upstream.call(
            c.list_hosts(upstream.request(pb::ListHostsRequest::default())),
            &[]
        ),
    )?;
    let body = SummaryJson {
        revision: summary.revision,
        counts: counts(&summary),
        capacity: CapacityJson::new(summary.capacity.as_ref()),
        refresh: refresh(summary.refresh.as_ref()),
        clusters: clusters.clusters.iter().map(ClusterJson::new).collect(),
        hosts: hosts.hosts.iter().map(HostJson::new).collect(),
    };
    Ok(Json(body).into_response())
}

/// `GET /api/v1/summary`: counts, capacity and refresh status only (one call, whatever
/// the fleet's size).
pub async fn summary_counts(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    Params::parse(query.as_deref(), &[])?;
    let upstream = state.upstreams.require(Dependency::Inventory)?;
    let summary = upstream
        .call(
            upstream
                .inventory(&context.call)
                .get_summary(upstream.request(pb::GetSummaryRequest {})),
            &[],
        )
        .await?;
    Ok(Json(json!({
        "revision": summary.revision,
        "counts": counts(&summary),
        "capacity": CapacityJson::new(summary.capacity.as_ref()),
        "refresh": refresh(summary.refresh.as_ref()),
    }))
    .into_response())
}

/// `GET /api/v1/clusters`.
pub async fn list_clusters(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    Params::parse(query.as_deref(), &[])?;
    let upstream = state.upstreams.require(Dependency::Inventory)?;
    let response = upstream
        .call(
            upstream
                .inventory(&context.call)
                .list_clusters(upstream.request(pb::ListClustersRequest {})),
            &[],
        )
        .await?;
    let clusters: Vec<ClusterJson<'_>> = response.clusters.iter().map(ClusterJson::new).collect();
    Ok(Json(json!({"revision": response.revision, "clusters": clusters})).into_response())
}

/// `GET /api/v1/clusters/{name}`.
pub async fn get_cluster(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let name = check_name("name", &super::path_param("name", path)?)?;
    Params::parse(query.as_deref(), &[])?;
    let upstream = state.upstreams.require(Dependency::Inventory)?;
    let response = upstream
        .call(
            upstream
                .inventory(&context.call)
                .list_clusters(upstream.request(pb::ListClustersRequest {})),
            &[],
        )
        .await?;
    let cluster = response
        .clusters
        .iter()
        .find(|cluster| cluster.name == name)
        .ok_or_else(|| HttpError::not_found("cluster", &name))?;
    Ok(Json(ClusterJson::new(cluster)).into_response())
}

/// `GET /api/v1/hosts?cluster=&status=`.
pub async fn list_hosts(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let params = Params::parse(query.as_deref(), &["cluster", "status"])?;
    let request = pb::ListHostsRequest {
        cluster: params.name("cluster", &["-"])?.unwrap_or_default(),
        statuses: params
            .choices("status", &HOST_STATUSES)?
            .into_iter()
            .map(|status| status as i32)
            .collect(),
    };
    let upstream = state.upstreams.require(Dependency::Inventory)?;
    let response = upstream
        .call(
            upstream
                .inventory(&context.call)
                .list_hosts(upstream.request(request)),
            &[("cluster", "cluster"), ("statuses", "status")],
        )
        .await?;
    let hosts: Vec<HostJson<'_>> = response.hosts.iter().map(HostJson::new).collect();
    Ok(Json(json!({"revision": response.revision, "hosts": hosts})).into_response())
}

/// `GET /api/v1/hosts/{host}`.
pub async fn get_host(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let host = check_name("host", &super::path_param("host", path)?)?;
    Params::parse(query.as_deref(), &[])?;
    let upstream = state.upstreams.require(Dependency::Inventory)?;
    let response = upstream
        .call(
            upstream
                .inventory(&context.call)
                .get_host(upstream.request(pb::GetHostRequest { host })),
            &[("host", "host")],
        )
        .await?;
    Ok(Json(HostJson::new(&response)).into_response())
}
