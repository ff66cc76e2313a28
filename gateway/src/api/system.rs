//! `/healthz`, `/readyz`, `/api/v1/about`, the OpenAPI document, the docs page and the
//! WebSocket route.

use std::time::Duration;

use aetherv_proto::common::v1::GetStatusRequest;
use aetherv_proto::common::v1::diagnostics_client::DiagnosticsClient;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::json;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::app::{AppState, RequestContext};
use crate::assets::{self, DOCS, OPENAPI};
use crate::error::HttpError;
use crate::model::now_rfc3339;
use crate::query::Params;
use crate::upstream::Upstream;

/// `GET /healthz`: the process is alive.
pub async fn healthz(State(state): State<AppState>) -> Response {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": state.started.elapsed().as_secs_f64(),
    }))
    .into_response()
}

/// One dependency in `/readyz`.
#[derive(Debug, Serialize)]
struct DependencyJson {
    name: &'static str,
    endpoint: String,
    ready: bool,
    health: &'static str,
    service: Option<String>,
    version: Option<String>,
    reasons: Vec<String>,
}

async fn check(upstream: &Upstream, timeout: Duration) -> DependencyJson {
    let channel = upstream.channel();
    let mut health_client = HealthClient::new(channel.clone());
    let mut diagnostics_client = DiagnosticsClient::new(channel);
    let health = tokio::time::timeout(
        timeout,
        health_client.check(HealthCheckRequest {
            service: String::new(),
        }),
    );
    let diagnostics =
        tokio::time::timeout(timeout, diagnostics_client.get_status(GetStatusRequest {}));
    let (health, mut diagnostics) = tokio::join!(health, diagnostics);
    // Asked at once, the two answers can straddle a change: a NOT_SERVING health answer
    // beside diagnostics still saying serving. Diagnostics change before health does, so
    // asking again now gives the reasons that go with the health answer.
    let stale = matches!(&health, Ok(Ok(reply)) if reply.get_ref().status() != ServingStatus::Serving)
        && matches!(&diagnostics, Ok(Ok(status)) if status.get_ref().serving);
    if stale {
        diagnostics =
            tokio::time::timeout(timeout, diagnostics_client.get_status(GetStatusRequest {})).await;
    }
    let mut reasons = Vec::new();
    let health = match health {
        Err(_) => {
            reasons.push(format!("no answer to the health check within {timeout:?}"));
            "unreachable"
        }
        Ok(Err(status)) if status.code() == tonic::Code::Unavailable => {
            reasons.push(format!("unreachable: {}", status.message()));
            "unreachable"
        }
        Ok(Err(status)) => {
            reasons.push(format!(
                "health check failed: {:?}: {}",
                status.code(),
                status.message()
            ));
            "unknown"
        }
        Ok(Ok(response)) => match response.into_inner().status() {
            ServingStatus::Serving => "serving",
            ServingStatus::NotServing => "not_serving",
            _ => "unknown",
        },
    };
    let (service, version) = match diagnostics {
        Ok(Ok(status)) => {
            let status = status.into_inner();
            // The service's own reasons: invalid configuration, dependencies, shutdown.
            reasons.extend(status.reasons);
            (
                Some(status.service),
                status.build.map(|build| build.version),
            )
        }
        _ => (None, None),
    };
    let ready = health == "serving";
    if !ready && reasons.is_empty() {
        reasons.push(format!("health: {health}"));
    }
    DependencyJson {
        name: upstream.dependency.as_str(),
        endpoint: upstream.endpoint.clone(),
        ready,
        health,
        service,
        version,
        reasons,
    }
}

/// `GET /readyz`: 200 when every configured service answers SERVING and the configuration
/// is sound, else 503 with what is not ready and why.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let timeout = state.config.http.readiness_timeout;
    let checks = state
        .upstreams
        .configured()
        .into_iter()
        .map(|upstream| check(upstream, timeout));
    let dependencies = futures::future::join_all(checks).await;
    let not_ready: Vec<&str> = dependencies
        .iter()
        .filter(|d| !d.ready)
        .map(|d| d.name)
        .collect();
    let ready = not_ready.is_empty() && state.issues.is_empty();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "ready": ready,
        "checked_at": now_rfc3339(),
        "dev_mode": state.config.dev_mode,
        "issues": state.issues,
        "not_ready": not_ready,
        "dependencies": dependencies,
    });
    (status, Json(body)).into_response()
}

/// `GET /api/v1/about`.
pub async fn about(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    Params::parse(query.as_deref(), &[])?;
    Ok(Json(json!({
        "name": "Aether-V",
        "version": env!("CARGO_PKG_VERSION"),
        "api_version": "v1",
        "dev_mode": state.config.dev_mode,
        "authentication": "none",
        "topics": state.hub.topic_names(),
    }))
    .into_response())
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi(headers: HeaderMap) -> Response {
    assets::serve(&OPENAPI, &headers)
}

/// `GET /docs`: the API reference page.
pub async fn docs(headers: HeaderMap) -> Response {
    match assets::find(DOCS, "index.html") {
        Some(page) => assets::serve(page, &headers),
        None => HttpError::not_found("file", "docs/index.html").into_response(),
    }
}

/// `GET /docs/{file}`: the page's script and style.
pub async fn docs_file(
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, HttpError> {
    let file = super::path_param("file", path)?;
    match assets::find(DOCS, &file) {
        Some(asset) if file != "index.html" => Ok(assets::serve(asset, &headers)),
        _ => Err(HttpError::not_found("file", &file)),
    }
}

/// `GET /ws`.
pub async fn websocket(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    RawQuery(query): RawQuery,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Err(error) = Params::parse(query.as_deref(), &[]) {
        return error.into_response();
    }
    state.hub.upgrade(upgrade, context.request_id)
}
