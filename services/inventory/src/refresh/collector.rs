//! The seam between the refresh engine and the hosts: who is in the fleet, one host's
//! `inventory.collect`, and one host's `inventory.watch`. In the service it is
//! remote-tasks over gRPC ([`crate::remote`]).

use std::time::Duration;

use aetherv_hyperv::HostId;
use aetherv_hyperv::ops::inventory::InventoryCollectResult;
use aetherv_runtime::{ApiError, CallContext, ErrorCode};
use futures::future::BoxFuture;

/// Why a collection produced no data.
#[derive(Debug, Clone, PartialEq)]
pub enum CollectError {
    /// The work was refused before it started (remote-tasks' queue is full): nothing is
    /// known about the host, so its status is left as it is.
    Refused(ApiError),
    /// The refresh failed: the host is unreachable for this reason.
    Failed(ApiError),
}

/// What a running host watch reports, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchSignal {
    /// The watch was sent to the host (changes from now on are reported).
    Started,
    /// Something changed on the host: a VM (its id) or, with `None`, the host as a whole.
    Changed(Option<String>),
}

/// Where the fleet comes from and how a host is collected.
pub trait Collector: Send + Sync + 'static {
    /// The configured hosts.
    fn list_hosts(&self) -> BoxFuture<'_, Result<Vec<HostId>, ApiError>>;

    /// Runs `inventory.collect` on `host`, for `context`, within `timeout`.
    fn collect<'a>(
        &'a self,
        host: &'a HostId,
        context: &'a CallContext,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<InventoryCollectResult, CollectError>>;

    /// Runs `inventory.watch` on `host` for `seconds`, calling `signals` as it starts and
    /// for every change, until it ends (Ok) or fails. Dropping the future stops it. The
    /// default cannot watch: it fails at once (the polling schedule still refreshes).
    fn watch<'a>(
        &'a self,
        host: &'a HostId,
        seconds: u32,
        signals: &'a (dyn Fn(WatchSignal) + Send + Sync),
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        let _ = (seconds, signals);
        Box::pin(async move {
            Err(ApiError::new(
                ErrorCode::FailedPrecondition,
                format!("this collector cannot watch host {host}"),
            ))
        })
    }
}

/// What the engine reports beyond the model: transitions operators should hear about.
/// [`crate::notify::Notifier`] publishes them as notifications; the default logs them.
pub trait RefreshHooks: Send + Sync + 'static {
    /// A host that was reachable (or never refreshed) failed.
    fn host_unreachable(&self, host: &HostId, reason: &str);
    /// An unreachable host answered again.
    fn host_recovered(&self, host: &HostId);
    /// A refresh took longer than the slow-host threshold (called for every such refresh).
    fn host_slow(&self, host: &HostId, took: Duration);
    /// A refresh of a host that was slow took less than the threshold again.
    fn host_slow_cleared(&self, host: &HostId) {
        let _ = host;
    }
    /// A cycle could not keep up with the interval.
    fn cycle_overrun(&self, took: Duration, interval: Duration);
    /// A cycle finished with every host refreshed before it was due again (called for
    /// every such cycle).
    fn cycle_caught_up(&self, took: Duration, interval: Duration) {
        let _ = (took, interval);
    }
}

/// The default hooks: one log line per transition.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogHooks;

impl RefreshHooks for LogHooks {
    fn host_unreachable(&self, host: &HostId, reason: &str) {
        tracing::warn!(%host, reason, "host unreachable; its vms are kept and marked stale");
    }

    fn host_recovered(&self, host: &HostId) {
        tracing::info!(%host, "host reachable again");
    }

    fn host_slow(&self, host: &HostId, took: Duration) {
        tracing::warn!(%host, ?took, "slow inventory refresh");
    }

    fn cycle_overrun(&self, took: Duration, interval: Duration) {
        tracing::warn!(
            ?took,
            ?interval,
            "inventory refresh cycle cannot keep up with its interval"
        );
    }
}
