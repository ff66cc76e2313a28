//! One host refresh, end to end: a ticket from the model, `inventory.collect` through the
//! collector within the per-host timeout, the result (or failure) applied to the model,
//! the transitions reported to the hooks. Requests for a host whose refresh is already
//! running join that refresh instead of starting another. The refresh runs in its own
//! task, so a caller that goes away does not cut it short.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aetherv_hyperv::HostId;
use aetherv_runtime::{ApiError, CallContext, ErrorCode};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::collector::{CollectError, Collector, RefreshHooks};
use super::stats::RefreshStats;
use crate::domain::changes::VmCounts;
use crate::domain::fleet::{Applied, Attempt, Ticket};
use crate::domain::model::{Host, HostStatus};
use crate::domain::store::Store;

/// The outcome of one host refresh.
#[derive(Debug, Clone)]
pub struct RefreshOutcome {
    /// The host answered and the model was updated.
    pub ok: bool,
    /// The host afterwards.
    pub host: Option<Arc<Host>>,
    /// Why it failed.
    pub error: Option<ApiError>,
    /// How long it took.
    pub duration: Duration,
    /// The model's revision afterwards.
    pub revision: u64,
    /// What it did to the host's VMs.
    pub counts: VmCounts,
    /// A newer refresh of the host had been applied first; this one was dropped.
    pub superseded: bool,
}

/// Why a refresh could not be done.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The host is not configured.
    #[error("host {0} is not configured")]
    UnknownHost(HostId),
    /// remote-tasks refused the work.
    #[error("remote-tasks refused the refresh of host {host}")]
    Refused {
        /// The host.
        host: HostId,
        /// remote-tasks' answer.
        #[source]
        source: ApiError,
    },
    /// The service is stopping.
    #[error("the refresh of host {0} was stopped by shutdown")]
    ShuttingDown(HostId),
}

impl aetherv_runtime::HasErrorCode for Error {
    fn error_code(&self) -> ErrorCode {
        match self {
            Error::UnknownHost(_) => ErrorCode::NotFound,
            Error::Refused { .. } => ErrorCode::ResourceExhausted,
            Error::ShuttingDown(_) => ErrorCode::Unavailable,
        }
    }
}

type Shared = Result<Arc<RefreshOutcome>, Error>;

/// Tunables of host refreshes.
#[derive(Debug, Clone, Copy)]
pub struct RefreshSettings {
    /// Time allowed for one host's collection (queueing in remote-tasks included).
    pub host_timeout: Duration,
}

/// Runs host refreshes.
pub struct Refresher {
    store: Arc<Store>,
    collector: Arc<dyn Collector>,
    hooks: Arc<dyn RefreshHooks>,
    settings: RefreshSettings,
    inflight: Mutex<HashMap<HostId, watch::Receiver<Option<Shared>>>>,
    stats: Mutex<RefreshStats>,
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl Refresher {
    /// A refresher writing into `store`. `stop` ends running refreshes (shutdown).
    pub fn new(
        store: Arc<Store>,
        collector: Arc<dyn Collector>,
        hooks: Arc<dyn RefreshHooks>,
        settings: RefreshSettings,
        stop: CancellationToken,
    ) -> Refresher {
        Refresher {
            store,
            collector,
            hooks,
            settings,
            inflight: Mutex::new(HashMap::new()),
            stats: Mutex::new(RefreshStats::default()),
            tasks: TaskTracker::new(),
            stop,
        }
    }

    /// The model.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The collector.
    pub fn collector(&self) -> &Arc<dyn Collector> {
        &self.collector
    }

    /// The hooks.
    pub fn hooks(&self) -> &Arc<dyn RefreshHooks> {
        &self.hooks
    }

    /// Runs `f` on the statistics.
    pub fn with_stats<R>(&self, f: impl FnOnce(&mut RefreshStats) -> R) -> R {
        f(&mut self.stats.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Refreshes `host` now, or joins its refresh already running, and waits for the
    /// outcome. A failed refresh is an outcome; errors are for refreshes that could not
    /// happen.
    pub async fn refresh(self: &Arc<Self>, host: &HostId, context: &CallContext) -> Shared {
        let mut receiver = {
            let mut inflight = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
            match inflight.get(host) {
                Some(receiver) => receiver.clone(),
                None => {
                    let ticket = self
                        .store
                        .begin_refresh(host)
                        .ok_or_else(|| Error::UnknownHost(host.clone()))?;
                    let (sender, receiver) = watch::channel(None);
                    inflight.insert(host.clone(), receiver.clone());
                    let this = self.clone();
                    let context = context.clone();
                    self.tasks.spawn(async move {
                        let outcome = this.run(&ticket, &context).await;
                        this.inflight
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remove(&*ticket.host);
                        sender.send_replace(Some(outcome));
                    });
                    receiver
                }
            }
        };
        let result = receiver.wait_for(Option::is_some).await;
        match result.as_deref() {
            Ok(Some(shared)) => shared.clone(),
            _ => Err(Error::ShuttingDown(host.clone())),
        }
    }

    /// Refreshes `host` with data collected after this call: a refresh of it already
    /// running (it may have read the host before a change the caller knows of) is waited
    /// for first, then a new one runs (or one started since is joined).
    pub async fn refresh_after(self: &Arc<Self>, host: &HostId, context: &CallContext) -> Shared {
        let running = self
            .inflight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(host)
            .cloned();
        if let Some(mut running) = running {
            let _ = running.wait_for(Option::is_some).await;
        }
        self.refresh(host, context).await
    }

    async fn run(&self, ticket: &Ticket, context: &CallContext) -> Shared {
        let host: &HostId = &ticket.host;
        let started = Instant::now();
        let collected = tokio::select! {
            result = self.collector.collect(host, context, self.settings.host_timeout) => result,
            () = self.stop.cancelled() => return Err(Error::ShuttingDown(host.clone())),
        };
        let duration = started.elapsed();
        let attempt = Attempt {
            at: OffsetDateTime::now_utc(),
            duration,
        };
        self.with_stats(|stats| stats.record_refresh(duration));
        let before = self
            .store
            .read(|fleet| fleet.host(host).map(|h| (h.status, h.slow)));
        let (applied, collect_error) = match &collected {
            Ok(data) => (self.store.apply(ticket, Ok(data), attempt), None),
            Err(CollectError::Failed(error)) => {
                let reason = reason_of(error);
                (
                    self.store.apply(ticket, Err(&reason), attempt),
                    Some(error.clone()),
                )
            }
            Err(CollectError::Refused(error)) => {
                return Err(Error::Refused {
                    host: host.clone(),
                    source: error.clone(),
                });
            }
        };
        // Data the model refused is a failure too, with the conversion's reason.
        let error = collect_error.or_else(|| {
            applied
                .error
                .as_ref()
                .map(|reason| ApiError::new(ErrorCode::Internal, reason.clone()))
        });
        let (host_record, counts, superseded) = match applied.applied {
            Applied::Done { host, counts, .. } => (Some(host), counts, false),
            Applied::Superseded { host } => (Some(host), VmCounts::default(), true),
            Applied::Unconfigured => (None, VmCounts::default(), false),
        };
        if let Some(record) = &host_record
            && !superseded
        {
            self.report_transition(before, record, duration);
        }
        Ok(Arc::new(RefreshOutcome {
            ok: error.is_none(),
            host: host_record,
            error,
            duration,
            revision: applied.revision,
            counts,
            superseded,
        }))
    }

    fn report_transition(&self, before: Option<(HostStatus, bool)>, host: &Host, took: Duration) {
        let was_slow = before.is_some_and(|(_, slow)| slow);
        match (before.map(|(status, _)| status), host.status) {
            (Some(HostStatus::Unreachable), HostStatus::Reachable) => {
                self.hooks.host_recovered(&host.id);
            }
            (Some(previous), HostStatus::Unreachable) if previous != HostStatus::Unreachable => {
                self.hooks.host_unreachable(&host.id, &host.status_reason);
            }
            _ => {}
        }
        if host.slow {
            self.hooks.host_slow(&host.id, took);
        } else if was_slow {
            self.hooks.host_slow_cleared(&host.id);
        }
    }

    /// Stops accepting work and waits for the running refreshes to end (they are
    /// cancelled by the stop token).
    pub async fn close(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// The operator-facing reason of a failed refresh: the error's message, lower-cased at
/// its first letter like every message of ours, never empty.
pub fn reason_of(error: &ApiError) -> String {
    let message = error.message.trim();
    if message.is_empty() {
        return error.code.to_string().to_lowercase();
    }
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
