//! The inventory service (`aetherv-inventory`): the in-memory model of the Hyper-V fleet —
//! clusters, hosts, VMs with their disks and NICs, virtual switches, storage locations and
//! resource catalogues — served as `aetherv.inventory.v1.Inventory`: summary, lists with
//! filters, sort and paging, on-demand host refresh, and the revisioned `Watch` stream.
//!
//! Called by the gateway (and the jobs service, later) over gRPC. It calls remote-tasks:
//! `ListHosts` for the fleet, `Run("inventory.collect")` for each host, on a schedule
//! spread over the refresh interval, and (`[inventory.watch]`, on by default)
//! `Run("inventory.watch")` on every host, refreshing a host as soon as it reports a
//! change ([`refresh::watch`]). A host that fails is marked unreachable with the
//! reason; its VMs are kept and marked stale until it answers again. When configured, it
//! publishes those transitions (and slow hosts, and cycles that cannot keep up) to the
//! notifications service ([`notify`]).
//!
//! Layout: [`domain`] (the model, diffs, history, queries; no transport types),
//! [`refresh`] (the refresh engine and schedule), [`remote`] (remote-tasks client),
//! [`notify`] (notifications client),
//! [`grpc`] (handlers), [`config`], and [`serve`].

#![forbid(unsafe_code)]

pub mod config;
pub mod domain;
pub mod grpc;
pub mod notify;
pub mod refresh;
pub mod remote;

use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aetherv_proto::inventory::v1::inventory_server::InventoryServer;
use aetherv_runtime::{DrainOutcome, GrpcServer, HealthHandle};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;

pub use config::Config;

use crate::domain::fleet::FleetSettings;
use crate::domain::store::{Store, StoreSettings};
use crate::grpc::service::InventoryService;
use crate::refresh::collector::{Collector, LogHooks, RefreshHooks};
use crate::refresh::engine::{RefreshSettings, Refresher};
use crate::refresh::schedule::{self, Listing, ScheduleSettings};
use crate::refresh::watch::{self as host_watch, WatchSettings};

/// The process name, as health and diagnostics report it.
pub const SERVICE_NAME: &str = "aetherv-inventory";

/// Why the service could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The remote-tasks endpoint is unusable.
    #[error("inventory.remote_tasks.endpoint cannot be used")]
    RemoteTasks(#[source] aetherv_runtime::client::Error),
    /// The notifications endpoint is unusable.
    #[error("inventory.notifications.endpoint cannot be used")]
    Notifications(#[source] aetherv_runtime::client::Error),
    /// The gRPC server failed.
    #[error("inventory grpc server failed")]
    Server(#[source] aetherv_runtime::server::Error),
}

/// The first revision of this process: its start time in microseconds since the epoch.
/// A revision handed out by an earlier process is therefore older than anything in this
/// process's change log (a watcher resyncs instead of replaying another process's
/// history), and revisions stay below 2^53 (exact in JSON numbers) for centuries.
pub fn start_revision() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |since| {
            u64::try_from(since.as_micros()).unwrap_or(u64::MAX / 2)
        })
}

/// Serves inventory on `listener` until `shutdown` resolves, refreshing through the
/// remote-tasks service of `config.remote_tasks`, and publishing notifications to
/// `config.notifications` when its endpoint is set.
pub async fn serve<F>(
    config: Config,
    listener: TcpListener,
    shutdown: F,
) -> Result<DrainOutcome, Error>
where
    F: Future<Output = ()>,
{
    let collector = remote::RemoteTasks::new(&config.remote_tasks).map_err(Error::RemoteTasks)?;
    let notifier = notify::Notifier::start(&config.notifications, config.slow_host_threshold)
        .map_err(Error::Notifications)?;
    let Some((hooks, sender)) = notifier else {
        return serve_with(
            config,
            listener,
            shutdown,
            Arc::new(collector),
            Arc::new(LogHooks),
        )
        .await;
    };
    let served = serve_with(config, listener, shutdown, Arc::new(collector), hooks).await;
    sender.stop().await;
    served
}

/// [`serve`] with the collector and hooks given (the service passes remote-tasks and the
/// logging hooks).
pub async fn serve_with<F>(
    config: Config,
    listener: TcpListener,
    shutdown: F,
    collector: Arc<dyn Collector>,
    hooks: Arc<dyn RefreshHooks>,
) -> Result<DrainOutcome, Error>
where
    F: Future<Output = ()>,
{
    let server = GrpcServer::new(SERVICE_NAME, &config.server);
    let health = server.health();
    let stop = CancellationToken::new();
    let store = Arc::new(Store::new(
        StoreSettings {
            fleet: FleetSettings {
                slow_threshold: config.slow_host_threshold,
                ..FleetSettings::default()
            },
            history: config.watch_history as usize,
            watch_buffer: config.watch_buffer as usize,
        },
        start_revision(),
    ));
    let refresher = Arc::new(Refresher::new(
        store,
        collector,
        hooks,
        RefreshSettings {
            host_timeout: config.host_timeout,
        },
        stop.clone(),
    ));
    let service = InventoryService::new(
        refresher.clone(),
        config.refresh_interval,
        config.heartbeat_interval,
        health.drain_signal(),
    );
    let server = server.add_service(
        // Answers go uncompressed: gzip of every GetHost/GetVm/ListVms cost more CPU than
        // the bytes it saved between services (see remote-tasks).
        InventoryServer::new(service).accept_compressed(CompressionEncoding::Gzip),
    );
    let waiting = format!(
        "remote-tasks at {} has not answered ListHosts yet",
        config.remote_tasks.endpoint
    );
    let (listing, listed) = watch::channel(Listing::Waiting(waiting));
    let scheduler = tokio::spawn(schedule::run(
        refresher.clone(),
        ScheduleSettings {
            interval: config.refresh_interval,
            concurrency: config.refresh_concurrency as usize,
        },
        listing,
        stop.clone(),
    ));
    let watchers = config.watch.enabled.then(|| {
        tokio::spawn(host_watch::run(
            refresher.clone(),
            WatchSettings {
                length: config.watch.length,
                backoff_min: config.watch.backoff_min,
                backoff_max: config.watch.backoff_max,
            },
            stop.clone(),
        ))
    });
    let follower = tokio::spawn(follow_listing(listed, health));
    let served = server.serve(listener, shutdown).await;
    stop.cancel();
    follower.abort();
    let _ = scheduler.await;
    if let Some(watchers) = watchers {
        let _ = watchers.await;
    }
    refresher.close().await;
    served.map_err(Error::Server)
}

/// Readiness follows the fleet listing: NOT_SERVING (with the reason) until remote-tasks
/// has answered ListHosts once, SERVING from then on.
async fn follow_listing(mut listed: watch::Receiver<Listing>, health: HealthHandle) {
    loop {
        let current = listed.borrow_and_update().clone();
        match current {
            Listing::Listed => {
                health.set_serving().await;
                return;
            }
            Listing::Waiting(reason) => health.set_not_serving(vec![reason]).await,
        }
        if listed.changed().await.is_err() {
            return;
        }
    }
}
