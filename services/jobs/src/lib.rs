//! The jobs service (`aetherv-jobs`, `aetherv.jobs.v1.Jobs`): every mutation of the fleet
//! is a job. A job is a typed spec validated against its JSON Schema in `schemas/jobs/`
//! ([`spec`]), checked against inventory and the host's resource catalogue, planned into
//! steps — each one agent operation — and run through remote-tasks, at most one mutating
//! job per VM at a time and one heavy step (disk work, image copies) per host, the rest in
//! parallel, first come first served ([`domain::locks`]). Jobs can be cancelled (the
//! running step is stopped on the host) and retried from the step that failed; their
//! output, step states and results stream to watchers through a resumable `Watch`;
//! history is kept in memory, bounded by count and age; secrets are redacted everywhere.
//!
//! Called by the gateway (REST and `/ws`) and by operators (grpcurl). It calls
//! remote-tasks (`Run`, `Cancel`, `ListHosts`: the only way to a host), inventory
//! (`GetHost`, `GetVm`, `ListVms`, `RefreshHost` after each step that changed a host) and,
//! when configured, notifications (`Publish`: one notification per job, updated in place).
//!
//! Layout: [`spec`] (schemas, typed specs, rules, secrets), [`domain`] (model, events,
//! store, pre-checks, planning, locks; no transport types), [`engine`] (submit, cancel,
//! retry, and the task that runs each job), [`remote`], [`inventory`] and [`notify`]
//! (the clients), [`grpc`] (handlers and the Watch stream), [`config`], and [`serve`].
//!
//! Health: NOT_SERVING (with the reasons) until remote-tasks and inventory both answer,
//! and again whenever one of them stops answering.

#![forbid(unsafe_code)]

pub mod config;
pub mod domain;
pub mod engine;
pub mod grpc;
pub mod inventory;
pub mod notify;
pub mod remote;
pub mod spec;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aetherv_proto::jobs::v1::jobs_server::JobsServer;
use aetherv_runtime::{DrainOutcome, GrpcServer, HealthHandle};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::Config;

use crate::domain::store::Store;
use crate::engine::Engine;
use crate::engine::ports::{JobHooks, NoHooks};
use crate::grpc::JobsService;
use crate::inventory::Inventory;
use crate::notify::Notifier;
use crate::remote::RemoteTasks;

/// The process name, as health and diagnostics report it.
pub const SERVICE_NAME: &str = "aetherv-jobs";

/// How long running jobs get to stop on their hosts at shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Why the service could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The remote-tasks endpoint is unusable.
    #[error("jobs.remote_tasks.endpoint cannot be used")]
    RemoteTasks(#[source] aetherv_runtime::client::Error),
    /// The inventory endpoint is unusable.
    #[error("jobs.inventory.endpoint cannot be used")]
    Inventory(#[source] aetherv_runtime::client::Error),
    /// The notifications endpoint is unusable.
    #[error("jobs.notifications.endpoint cannot be used")]
    Notifications(#[source] aetherv_runtime::client::Error),
    /// The job schemas do not compile (a build defect).
    #[error("the job spec schemas cannot be used: {0}")]
    Schemas(String),
    /// The gRPC server failed.
    #[error("jobs grpc server failed")]
    Server(#[source] aetherv_runtime::server::Error),
}

/// The first event id of this process is one past its start time in microseconds, so an
/// id from an earlier process is recognised as unknown (and ids stay below 2^53).
pub fn start_event_id() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |since| {
            u64::try_from(since.as_micros()).unwrap_or(u64::MAX / 2)
        })
}

/// Serves jobs on `listener` until `shutdown` resolves: through remote-tasks and inventory
/// at their configured endpoints, publishing to notifications when its endpoint is set.
/// On shutdown: Watch streams end, unary calls get `server.drain_timeout`, then running
/// jobs are cancelled (stopped on their hosts, at most [`SHUTDOWN_GRACE`]).
pub async fn serve<F>(
    config: Config,
    listener: TcpListener,
    shutdown: F,
) -> Result<DrainOutcome, Error>
where
    F: Future<Output = ()>,
{
    spec::schema::ensure_compiled().map_err(Error::Schemas)?;
    let remote = RemoteTasks::new(&config.remote_tasks).map_err(Error::RemoteTasks)?;
    let inventory = Inventory::new(&config.inventory, remote.clone(), config.refresh_timeout)
        .map_err(Error::Inventory)?;
    let notifier = Notifier::start(&config.notifications).map_err(Error::Notifications)?;
    let (hooks, sender): (Arc<dyn JobHooks>, _) = match notifier {
        Some((notifier, sender)) => (notifier, Some(sender)),
        None => (Arc::new(NoHooks), None),
    };
    let store = Arc::new(Store::new(config.store_settings(), start_event_id()));
    let engine = Engine::new(
        store.clone(),
        Arc::new(remote.clone()),
        Arc::new(inventory.clone()),
        hooks,
        config.engine_settings(),
    );
    let server = GrpcServer::new(SERVICE_NAME, &config.server);
    let health = server.health();
    let streams = TaskTracker::new();
    let service = JobsService::new(
        engine.clone(),
        config.heartbeat_interval,
        config.max_watchers as usize,
        health.drain_signal(),
        streams.clone(),
    );
    let server = server.add_service(JobsServer::new(service));
    let stop = CancellationToken::new();
    let prober = tokio::spawn(probe(
        remote,
        inventory,
        config.clone(),
        health,
        stop.clone(),
    ));
    let sweeper = tokio::spawn(sweep(store, config.history.sweep_interval, stop.clone()));
    let served = server.serve(listener, shutdown).await;
    stop.cancel();
    let _ = prober.await;
    let _ = sweeper.await;
    engine.shutdown(SHUTDOWN_GRACE).await;
    streams.close();
    streams.wait().await;
    if let Some(sender) = sender {
        sender.stop().await;
    }
    served.map_err(Error::Server)
}

/// Readiness: SERVING while remote-tasks and inventory both answer, NOT_SERVING with the
/// reasons otherwise; asked every `health_interval`.
async fn probe(
    remote: RemoteTasks,
    inventory: Inventory,
    config: Config,
    health: HealthHandle,
    stop: CancellationToken,
) {
    loop {
        let (remote_up, inventory_up) = tokio::join!(remote.ping(), inventory.ping());
        let mut reasons = Vec::new();
        if let Err(error) = remote_up {
            reasons.push(format!(
                "remote-tasks at {} does not answer: {}",
                config.remote_tasks.endpoint, error.message
            ));
        }
        if let Err(error) = inventory_up {
            reasons.push(format!(
                "inventory at {} does not answer: {}",
                config.inventory.endpoint, error.message
            ));
        }
        if reasons.is_empty() {
            health.set_serving().await;
        } else {
            health.set_not_serving(reasons).await;
        }
        tokio::select! {
            () = tokio::time::sleep(config.health_interval) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// Applies the history bounds every `interval` until `stop` fires.
async fn sweep(store: Arc<Store>, interval: Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = stop.cancelled() => return,
        }
        let evicted = store.sweep(SystemTime::now());
        if evicted > 0 {
            tracing::info!(evicted, "jobs removed from history");
        }
    }
}
