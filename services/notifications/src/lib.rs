//! The notifications service (`aetherv-notifications`): operator notifications kept in
//! memory — levels info/success/warning/error, categories system/host/vm/job/deployment, a
//! de-duplication key that turns a Publish into an update of the notification holding it,
//! read state and unread counts, bounded retention by count and age — served as
//! `aetherv.notifications.v1.Notifications` with a resumable `Subscribe` stream (replay
//! from an event id, or resync with an in-band snapshot).
//!
//! Called by the producers (inventory: host unreachable/recovered, slow refreshes; jobs:
//! job queued/finished/failed) and by the gateway (REST and the `/ws` `notifications`
//! topic). It calls nothing: it has no dependencies, so it is SERVING as soon as it runs.
//!
//! Layout: [`domain`] (model, validation and scrubbing, the retained set, the event log,
//! the store with its de-duplication and retention rules — no transport types), [`grpc`]
//! (handlers and the stream), [`config`], and [`serve`]. The semantics (when an update
//! makes a notification unread again, which notifications retention removes first) are
//! documented on [`domain::store`].

#![forbid(unsafe_code)]

pub mod config;
pub mod domain;
pub mod grpc;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aetherv_proto::notifications::v1::notifications_server::NotificationsServer;
use aetherv_runtime::{DrainOutcome, GrpcServer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::Config;

use crate::domain::Store;
use crate::grpc::service::NotificationsService;

/// The process name, as health and diagnostics report it.
pub const SERVICE_NAME: &str = "aetherv-notifications";

/// Why the service could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The gRPC server failed.
    #[error("notifications grpc server failed")]
    Server(#[source] aetherv_runtime::server::Error),
}

/// The event-id base of this process: its start time in microseconds since the epoch.
/// Every id an earlier process handed out is below it (so a subscriber coming back with
/// one resyncs instead of replaying another process's history), and ids stay below 2^53
/// (exact in JSON numbers, which the gateway's cursors are).
pub fn start_event_id() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |since| {
            u64::try_from(since.as_micros()).unwrap_or(u64::MAX / 2)
        })
}

/// Serves notifications on `listener` until `shutdown` resolves, then drains: Subscribe
/// streams end at once, unary calls get `server.drain_timeout`.
///
/// In tests, on a loopback port 0:
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use aetherv_notifications::{Config, serve};
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let address = listener.local_addr()?; // http://{address} for NotificationsClient
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let server = tokio::spawn(serve(Config::for_testing(), listener, async {
///     let _ = stopped.await;
/// }));
/// // ... Publish, List, Subscribe through aetherv_proto's NotificationsClient ...
/// let _ = stop.send(());
/// server.await??;
/// # Ok(())
/// # }
/// ```
pub async fn serve<F>(
    config: Config,
    listener: TcpListener,
    shutdown: F,
) -> Result<DrainOutcome, Error>
where
    F: Future<Output = ()>,
{
    let store = Arc::new(Store::new(config.store_settings(), start_event_id()));
    let server = GrpcServer::new(SERVICE_NAME, &config.server);
    let health = server.health();
    let streams = TaskTracker::new();
    let service = NotificationsService::new(
        store.clone(),
        config.heartbeat_interval,
        config.max_subscribers as usize,
        health.drain_signal(),
        streams.clone(),
    );
    let server = server.add_service(NotificationsServer::new(service));
    // No dependencies: ready as soon as the listener serves.
    health.set_serving().await;
    let stop = CancellationToken::new();
    let sweeper = tokio::spawn(sweep(
        store.clone(),
        config.retention.sweep_interval,
        stop.clone(),
    ));
    let served = server.serve(listener, shutdown).await;
    stop.cancel();
    let _ = sweeper.await;
    streams.close();
    streams.wait().await;
    served.map_err(Error::Server)
}

/// Applies the age limit every `interval` until `stop` fires.
async fn sweep(store: Arc<Store>, interval: Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = stop.cancelled() => return,
        }
        let expired = store.expire(SystemTime::now());
        if expired > 0 {
            tracing::info!(expired, "notifications removed by age retention");
        }
    }
}
