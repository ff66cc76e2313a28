//! Readiness checks: a gRPC service is ready when `aetherv.common.v1.Diagnostics/GetStatus`
//! (the same state as `grpc.health.v1`, with the reasons) says serving; the gateway when
//! `GET /readyz` answers `"ready": true`. A service without dependencies decides at once
//! (remote-tasks with an invalid configuration stays NOT_SERVING until restarted), so its
//! first NOT_SERVING answer is final; the others get until the deadline.

use std::net::SocketAddr;
use std::time::Duration;

use aetherv_proto::common::v1::GetStatusRequest;
use aetherv_proto::common::v1::diagnostics_client::DiagnosticsClient;
use aetherv_proto::inventory::v1 as inventory;
use aetherv_proto::inventory::v1::inventory_client::InventoryClient;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;

/// How often a check is repeated.
const POLL: Duration = Duration::from_millis(100);

/// Why a service is not ready.
#[derive(Debug, thiserror::Error)]
#[error("{}", reasons.join("; "))]
pub struct NotReady {
    /// One line each.
    pub reasons: Vec<String>,
}

/// Whether a NOT_SERVING answer can still change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependencies {
    /// The service depends on nothing: its first answer is final.
    None,
    /// It waits for other services: keep asking until the deadline.
    Some,
}

/// Waits until the gRPC service at `address` is serving.
pub async fn grpc(
    address: SocketAddr,
    dependencies: Dependencies,
    deadline: Instant,
) -> Result<(), NotReady> {
    let endpoint = format!("http://{address}");
    let mut last = vec![format!("{endpoint} has not answered")];
    loop {
        match status(&endpoint).await {
            Ok((true, _)) => return Ok(()),
            Ok((false, reasons)) => {
                last = if reasons.is_empty() {
                    vec!["NOT_SERVING, no reason given".to_string()]
                } else {
                    reasons
                };
                if dependencies == Dependencies::None {
                    return Err(NotReady { reasons: last });
                }
            }
            Err(error) => last = vec![format!("{endpoint}: {error}")],
        }
        if Instant::now() + POLL > deadline {
            return Err(NotReady { reasons: last });
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn status(endpoint: &str) -> Result<(bool, Vec<String>), String> {
    let mut client = DiagnosticsClient::connect(endpoint.to_string())
        .await
        .map_err(|error| format!("cannot connect: {error}"))?;
    let status = tokio::time::timeout(
        Duration::from_secs(2),
        client.get_status(GetStatusRequest {}),
    )
    .await
    .map_err(|_| "GetStatus did not answer within 2s".to_string())?
    .map_err(|status| format!("GetStatus: {}", status.message()))?
    .into_inner();
    Ok((status.serving, status.reasons))
}

/// Waits until the gateway at `address` answers `/readyz` with `"ready": true`.
pub async fn gateway(address: SocketAddr, deadline: Instant) -> Result<(), NotReady> {
    let url = format!("http://{address}/readyz");
    let mut last = vec![format!("{url} has not answered")];
    loop {
        match get_json(&url).await {
            Ok(body) if body["ready"] == serde_json::Value::Bool(true) => return Ok(()),
            Ok(body) => last = readyz_reasons(&body),
            Err(error) => last = vec![format!("{url}: {error}")],
        }
        if Instant::now() + POLL > deadline {
            return Err(NotReady { reasons: last });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The reasons a `/readyz` body gives: configuration issues and each dependency's.
fn readyz_reasons(body: &serde_json::Value) -> Vec<String> {
    let mut reasons: Vec<String> = body["issues"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|issue| issue.as_str().map(str::to_string))
        .collect();
    for dependency in body["dependencies"].as_array().into_iter().flatten() {
        if dependency["ready"] == serde_json::Value::Bool(true) {
            continue;
        }
        let name = dependency["name"].as_str().unwrap_or("a dependency");
        let why: Vec<&str> = dependency["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str())
            .collect();
        reasons.push(format!("{name} not ready: {}", why.join(", ")));
    }
    if reasons.is_empty() {
        reasons.push("not ready".to_string());
    }
    reasons
}

/// `GET url` as JSON.
pub async fn get_json(url: &str) -> Result<serde_json::Value, String> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let uri: http::Uri = url.parse().map_err(|e| format!("bad url: {e}"))?;
    let response = tokio::time::timeout(Duration::from_secs(3), client.get(uri))
        .await
        .map_err(|_| "no answer within 3s".to_string())?
        .map_err(|e| e.to_string())?;
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|e| format!("not json: {e}"))
}

/// What the first complete inventory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Complete {
    /// Hosts configured.
    pub hosts: u32,
    /// Hosts whose refresh succeeded.
    pub reachable: u32,
    /// VMs known.
    pub vms: u32,
    /// Failover clusters.
    pub clusters: u32,
}

/// Waits (without a deadline) until inventory at `address` has tried every host once.
pub async fn inventory_complete(address: SocketAddr) -> Complete {
    let endpoint = format!("http://{address}");
    loop {
        if let Ok(mut client) = InventoryClient::connect(endpoint.clone()).await
            && let Ok(summary) = client.get_summary(inventory::GetSummaryRequest {}).await
        {
            let summary = summary.into_inner();
            if summary
                .refresh
                .as_ref()
                .is_some_and(|refresh| refresh.initial_refresh_done)
            {
                let reachable = summary
                    .hosts_by_status
                    .iter()
                    .filter(|c| c.status == inventory::HostStatus::Reachable as i32)
                    .map(|c| c.count)
                    .sum();
                return Complete {
                    hosts: summary.hosts_total,
                    reachable,
                    vms: summary.vms_total,
                    clusters: summary.clusters_total,
                };
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readyz_reasons_name_the_dependency_and_the_issues() {
        let body = serde_json::json!({
            "ready": false,
            "issues": ["gateway.dev_mode: authentication is not available"],
            "dependencies": [
                {"name": "inventory", "ready": false, "reasons": ["remote-tasks has not answered ListHosts yet"]},
                {"name": "remote_tasks", "ready": true, "reasons": []}
            ]
        });
        assert_eq!(
            readyz_reasons(&body),
            vec![
                "gateway.dev_mode: authentication is not available".to_string(),
                "inventory not ready: remote-tasks has not answered ListHosts yet".to_string(),
            ]
        );
        assert_eq!(readyz_reasons(&serde_json::json!({})), vec!["not ready"]);
    }
}
