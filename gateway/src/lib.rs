//! The Aether-V HTTP gateway: serves the web UI (files built into the binary), the REST
//! API under `/api/v1`, its OpenAPI document and docs page, the job spec schemas, and the
//! `/ws` WebSocket, and translates each request into gRPC calls to the services: inventory
//! (reads, refresh), jobs (every mutation is a job: VMs, power, disks, NICs, deployments;
//! list, cancel, retry), notifications, and remote-tasks (readiness). It holds no business
//! logic and no state but the WebSocket replay buffers.
//!
//! Called by its binary (`aetherv-gateway`), the launcher and the end-to-end tests through
//! [`serve`]; calls the services through `aetherv-proto`'s clients and uses
//! `aetherv-runtime` for configuration, error codes and call context, and
//! `aetherv-hyperv` for the power-state names. The API is described in `gateway/API.md` and
//! `gateway/openapi.json`.
//!
//! ```text
//! let mut config = Config::for_testing(&inventory_url, &remote_tasks_url);
//! config.jobs.endpoint = jobs_url;
//! config.notifications.endpoint = notifications_url;
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! tokio::spawn(aetherv_gateway::serve(config, listener, shutdown));
//! ```

#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod assets;
pub mod config;
pub mod error;
pub mod model;
pub mod paging;
pub mod query;
pub mod server;
pub mod upstream;
pub mod ws;

use std::future::Future;
use std::time::Instant;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use app::{Route, routes};
pub use config::Config;
pub use error::{Dependency, HttpError};
pub use server::Error;

/// Serves the gateway on `listener` until `shutdown` resolves, then drains open requests
/// and WebSockets for up to `server.drain_timeout`. Configuration problems that
/// [`Config::diagnostics`] reports do not stop it: it serves in diagnostic mode (`/readyz`
/// and `/api` say why).
pub async fn serve<F>(config: Config, listener: TcpListener, shutdown: F) -> Result<(), Error>
where
    F: Future<Output = ()>,
{
    let issues = config.diagnostics();
    for issue in &issues {
        tracing::warn!(
            issue,
            "gateway configuration problem: serving in diagnostic mode"
        );
    }
    if config.dev_mode {
        tracing::warn!("development mode: the api is served without authentication");
    }
    let upstreams = upstream::Upstreams::new(&config);
    let stop = CancellationToken::new();
    let abort = CancellationToken::new();
    let websockets = TaskTracker::new();
    let background = TaskTracker::new();
    let hub = ws::Hub::start(
        &config.websocket,
        config.dev_mode,
        &upstreams,
        stop.clone(),
        websockets.clone(),
    );
    let drain_timeout = config.server.drain_timeout;
    let state = app::AppState::new(app::Inner {
        config,
        upstreams,
        issues,
        started: Instant::now(),
        hub,
        background: background.clone(),
        abort: abort.clone(),
    });
    let lifetime = server::Lifetime {
        stop,
        abort,
        trackers: vec![websockets, background],
        drain_timeout,
    };
    server::run(listener, app::router(state), shutdown, lifetime).await
}
