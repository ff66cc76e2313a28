//! The gateway's HTTP application: shared state, the route table, and the middleware every
//! response passes through. [`routes`] is the one list of routes: the router is built from
//! it and the OpenAPI test reads it, so an undocumented route fails the test.

use std::sync::Arc;
use std::time::Instant;

use aetherv_runtime::{CallContext, Caller, TRACEPARENT_HEADER, TraceContext};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::handler::Handler;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post};
use http::{HeaderName, HeaderValue, Method, header};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};

use crate::api;
use crate::assets;
use crate::config::Config;
use crate::error::HttpError;
use crate::upstream::Upstreams;
use crate::ws::Hub;
use aetherv_runtime::ErrorCode;

/// The Content-Security-Policy of every response: nothing inline, nothing from elsewhere.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";
/// The header that says the gateway runs without authentication.
pub const MODE_HEADER: &str = "x-aetherv-mode";
/// The request id header.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The shared state behind [`AppState`].
pub struct Inner {
    /// The configuration.
    pub config: Config,
    /// The services.
    pub upstreams: Upstreams,
    /// Diagnostic-mode reasons (empty when the configuration is sound).
    pub issues: Vec<String>,
    /// When the gateway started.
    pub started: Instant,
    /// The WebSocket hub.
    pub hub: Arc<Hub>,
    /// Work that outlives a request (power actions being followed).
    pub background: TaskTracker,
    /// Fires when the drain deadline passed: background work stops.
    pub abort: CancellationToken,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Wraps the state.
    pub fn new(inner: Inner) -> AppState {
        AppState(Arc::new(inner))
    }
}

/// Per-request facts: the request id and the context passed on to services.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request id (also `X-Request-Id`).
    pub request_id: String,
    /// Caller and trace context for gRPC calls.
    pub call: CallContext,
}

/// One route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The method.
    pub method: Method,
    /// The path, axum syntax (`/api/v1/vms/{id}`), which is also OpenAPI's.
    pub path: &'static str,
}

struct Table {
    router: Router<AppState>,
    routes: Vec<Route>,
}

impl Table {
    fn add(mut self, method: Method, path: &'static str, route: MethodRouter<AppState>) -> Table {
        self.router = self.router.route(path, route);
        self.routes.push(Route { method, path });
        self
    }

    fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Table {
        self.add(Method::GET, path, get(handler))
    }

    fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Table {
        self.add(Method::POST, path, post(handler))
    }

    fn patch<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Table {
        self.add(Method::PATCH, path, patch(handler))
    }

    fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Table {
        self.add(Method::DELETE, path, delete(handler))
    }
}

fn table() -> Table {
    Table {
        router: Router::new(),
        routes: Vec::new(),
    }
    .get("/healthz", api::system::healthz)
    .get("/readyz", api::system::readyz)
    .get("/api/v1/about", api::system::about)
    .get("/api/v1/openapi.json", api::system::openapi)
    .get("/docs", api::system::docs)
    .get("/docs/{file}", api::system::docs_file)
    .get("/api/v1/inventory", api::inventory::summary)
    .get("/api/v1/summary", api::inventory::summary_counts)
    .get("/api/v1/clusters", api::inventory::list_clusters)
    .get("/api/v1/clusters/{name}", api::inventory::get_cluster)
    .get("/api/v1/hosts", api::inventory::list_hosts)
    .get("/api/v1/hosts/{host}", api::inventory::get_host)
    .post("/api/v1/hosts/{host}/refresh", api::hosts::refresh)
    .get("/api/v1/hosts/{host}/resources", api::hosts::resources)
    .get("/api/v1/hosts/{host}/vms", api::vms::list_host_vms)
    .get("/api/v1/vms", api::vms::list_vms)
    .post("/api/v1/vms", api::changes::create_vm)
    .post("/api/v1/vms/power", api::power::bulk)
    .get("/api/v1/vms/{id}", api::vms::get_vm)
    .patch("/api/v1/vms/{id}", api::changes::update_vm)
    .delete("/api/v1/vms/{id}", api::changes::delete_vm)
    .post("/api/v1/vms/{id}/start", api::power::start)
    .post("/api/v1/vms/{id}/shutdown", api::power::shutdown)
    .post("/api/v1/vms/{id}/stop", api::power::stop)
    .post("/api/v1/vms/{id}/reset", api::power::reset)
    .post("/api/v1/vms/{id}/save", api::power::save)
    .post("/api/v1/vms/{id}/pause", api::power::pause)
    .post("/api/v1/vms/{id}/resume", api::power::resume)
    .get("/api/v1/vms/{id}/disks", api::devices::list_disks)
    .post("/api/v1/vms/{id}/disks", api::changes::create_disk)
    .get("/api/v1/vms/{id}/disks/{disk_id}", api::devices::get_disk)
    .patch(
        "/api/v1/vms/{id}/disks/{disk_id}",
        api::changes::resize_disk,
    )
    .delete(
        "/api/v1/vms/{id}/disks/{disk_id}",
        api::changes::delete_disk,
    )
    .get("/api/v1/vms/{id}/nics", api::devices::list_nics)
    .post("/api/v1/vms/{id}/nics", api::changes::create_nic)
    .get("/api/v1/vms/{id}/nics/{nic_id}", api::devices::get_nic)
    .patch("/api/v1/vms/{id}/nics/{nic_id}", api::changes::update_nic)
    .delete("/api/v1/vms/{id}/nics/{nic_id}", api::changes::delete_nic)
    .post("/api/v1/deployments", api::changes::create_deployment)
    .get("/api/v1/deployments", api::jobs::list_deployments)
    .get("/api/v1/jobs", api::jobs::list_jobs)
    .post("/api/v1/jobs", api::changes::submit_job)
    .get("/api/v1/jobs/{id}", api::jobs::get_job)
    .post("/api/v1/jobs/{id}/cancel", api::jobs::cancel_job)
    .post("/api/v1/jobs/{id}/retry", api::jobs::retry_job)
    .get("/api/v1/notifications", api::notifications::list)
    .post(
        "/api/v1/notifications/read-all",
        api::notifications::mark_all_read,
    )
    .post(
        "/api/v1/notifications/{id}/read",
        api::notifications::mark_read,
    )
    .delete("/api/v1/notifications/{id}", api::notifications::delete)
    .get("/api/v1/schemas/jobs", api::schemas::index)
    .get("/api/v1/schemas/jobs/{name}", api::schemas::get)
    .get("/ws", api::system::websocket)
}

/// Every route the router serves (the UI's files and deep links are its fallback).
pub fn routes() -> Vec<Route> {
    table().routes
}

/// The application: routes, fallback and middleware.
pub fn router(state: AppState) -> Router {
    let compress_when = SizeAbove::new(u64::from(state.config.http.compression_min_bytes))
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::const_new("font/"));
    table()
        .router
        .fallback(assets::fallback)
        .method_not_allowed_fallback(method_not_allowed)
        // Innermost: request bodies past the limit are refused before a handler reads them.
        .layer(DefaultBodyLimit::max(state.config.http.max_body_bytes))
        // Cross-origin and diagnostic-mode refusals, before any service is called; inside
        // compression and headers so their answers get both.
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        // gzip for large answers (the VM list, the UI's files); streamed bodies too.
        .layer(
            CompressionLayer::new()
                .quality(CompressionLevel::Fastest)
                .compress_when(compress_when),
        )
        // Security headers on every response, errors and fallbacks included.
        .layer(middleware::from_fn_with_state(state.clone(), headers))
        // Outermost: the request id and context, and one log line with the final status.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            context_and_log,
        ))
        .with_state(state)
}

async fn method_not_allowed(request: Request) -> Response {
    assets::no_route(request.method(), request.uri().path())
}

fn valid_request_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let ok = (1..=128).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    ok.then(|| text.to_string())
}

async fn context_and_log(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(valid_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let trace = request
        .headers()
        .get(TRACEPARENT_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(TraceContext::parse)
        .unwrap_or_else(TraceContext::new_root);
    // Until authentication exists, dev mode calls are made for the development user.
    let caller = if state.config.dev_mode {
        Caller::user("dev").ok()
    } else {
        None
    };
    let call = CallContext { caller, trace };
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    request.extensions_mut().insert(RequestContext {
        request_id: request_id.clone(),
        call: call.clone(),
    });
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let trace_id = call.trace.trace_id();
    if status >= 500 {
        tracing::warn!(request_id, %method, path, status, elapsed_ms, trace_id, "http request");
    } else {
        tracing::info!(request_id, %method, path, status, elapsed_ms, trace_id, "http request");
    }
    response
}

async fn headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/")
        || matches!(request.uri().path(), "/healthz" | "/readyz");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed: [(HeaderName, &'static str); 5] = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if state.config.dev_mode {
        headers.insert(MODE_HEADER, HeaderValue::from_static("development"));
    }
    if api && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Whether the request comes from a page of another origin: `Sec-Fetch-Site` says so, or
/// an `Origin` names another host than `Host`.
fn cross_origin(request: &Request) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
        .unwrap_or("");
    match url::Url::parse(origin) {
        Ok(url) => {
            let authority = match (url.host_str(), url.port()) {
                (Some(name), Some(port)) => format!("{name}:{port}"),
                (Some(name), None) => name.to_string(),
                _ => return true,
            };
            !authority.eq_ignore_ascii_case(host)
        }
        Err(_) => true,
    }
}

async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let websocket = path == "/ws";
    let changes_state = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if (websocket || changes_state) && cross_origin(&request) {
        return HttpError::new(
            ErrorCode::PermissionDenied,
            "cross-origin request refused: the origin does not match this gateway",
        )
        .into_response();
    }
    let gated = (path.starts_with("/api/") || websocket)
        && !matches!(path, "/api/v1/about" | "/api/v1/openapi.json");
    if gated && !state.issues.is_empty() {
        return HttpError::new(
            ErrorCode::Unavailable,
            format!(
                "the gateway is in diagnostic mode: {}",
                state.issues.join("; ")
            ),
        )
        .with_detail("reasons", state.issues.clone())
        .into_response();
    }
    next.run(request).await
}
