//! Host watches: one watcher per configured host runs `inventory.watch` through the
//! collector in a loop, and every change the host reports asks for an immediate refresh of
//! that host through the ordinary one-host path ([`Refresher::refresh_after`]), coalesced:
//! a burst of changes makes one refresh, and changes during a refresh make exactly one more
//! after it. A watch that ends normally is followed by the next at once (and, since changes
//! between two watches are not reported, by one refresh); a watch that fails (host
//! unreachable, an agent without the operation, remote-tasks down) is retried after a
//! backoff (`backoff_min` doubling to `backoff_max`) while the polling schedule keeps the
//! host fresh. A watch failure never changes the host's status: only refreshes do.
//! Watchers follow the configured host list (a host's watch starts once its first refresh
//! has been tried, so watches do not compete with the cold start) and stop on shutdown (dropping the watch's
//! call cancels it, which stops the command on the host).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aetherv_hyperv::HostId;
use aetherv_runtime::CallContext;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::collector::WatchSignal;
use super::engine::Refresher;

/// How often the watchers are matched against the configured host list.
const FOLLOW_INTERVAL: Duration = Duration::from_secs(2);

/// Tunables of the host watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchSettings {
    /// How long one `inventory.watch` runs before the next begins.
    pub length: Duration,
    /// The first wait after a failed watch.
    pub backoff_min: Duration,
    /// The longest wait after failed watches.
    pub backoff_max: Duration,
}

/// The next wait after a failure that followed a wait of `current`.
pub fn next_backoff(current: Duration, settings: &WatchSettings) -> Duration {
    current
        .saturating_mul(2)
        .clamp(settings.backoff_min, settings.backoff_max)
}

/// Runs one watcher per configured host until `stop` fires.
pub async fn run(refresher: Arc<Refresher>, settings: WatchSettings, stop: CancellationToken) {
    let mut watchers: HashMap<HostId, CancellationToken> = HashMap::new();
    let mut tasks = JoinSet::new();
    loop {
        // A host's watch starts once its first refresh has been tried, so that watches
        // do not compete with the cold-start collection of the fleet.
        let configured: Vec<HostId> = refresher.store().read(|fleet| {
            fleet
                .hosts()
                .filter(|h| h.last_refresh.is_some())
                .map(|h| h.id.as_ref().clone())
                .collect()
        });
        let wanted: std::collections::HashSet<&HostId> = configured.iter().collect();
        watchers.retain(|host, token| {
            let keep = wanted.contains(host);
            if !keep {
                token.cancel();
            }
            keep
        });
        for host in configured.iter() {
            if watchers.contains_key(host) {
                continue;
            }
            let token = stop.child_token();
            watchers.insert(host.clone(), token.clone());
            tasks.spawn(watch_host(refresher.clone(), host.clone(), settings, token));
        }
        while tasks.try_join_next().is_some() {}
        tokio::select! {
            () = tokio::time::sleep(FOLLOW_INTERVAL) => {}
            () = stop.cancelled() => break,
        }
    }
    tasks.shutdown().await;
}

/// Coalesces refresh requests of one host: at most one refresh runs for the watcher and
/// at most one more is owed.
struct Coalescer {
    refresher: Arc<Refresher>,
    host: HostId,
    stop: CancellationToken,
    state: Mutex<(bool, bool)>,
}

impl Coalescer {
    fn request(self: &Arc<Self>) {
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let (running, owed) = &mut *state;
            if *running {
                *owed = true;
                return;
            }
            *running = true;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let Ok(context) = CallContext::background("inventory") else {
                this.state.lock().unwrap_or_else(PoisonError::into_inner).0 = false;
                return;
            };
            loop {
                tokio::select! {
                    outcome = this.refresher.refresh_after(&this.host, &context) => {
                        if let Err(error) = outcome {
                            tracing::debug!(host = %this.host, %error, "refresh asked by a watch did not happen");
                        }
                    }
                    () = this.stop.cancelled() => {}
                }
                let mut state = this.state.lock().unwrap_or_else(PoisonError::into_inner);
                let (running, owed) = &mut *state;
                if *owed && !this.stop.is_cancelled() {
                    *owed = false;
                    continue;
                }
                *running = false;
                *owed = false;
                return;
            }
        });
    }
}

/// One host's watch loop.
async fn watch_host(
    refresher: Arc<Refresher>,
    host: HostId,
    settings: WatchSettings,
    stop: CancellationToken,
) {
    let coalescer = Arc::new(Coalescer {
        refresher: refresher.clone(),
        host: host.clone(),
        stop: stop.clone(),
        state: Mutex::new((false, false)),
    });
    let seconds = u32::try_from(settings.length.as_secs().max(1)).unwrap_or(3600);
    let mut backoff = Duration::ZERO;
    let mut watches: u64 = 0;
    let mut failing = false;
    loop {
        let first = watches == 0;
        watches += 1;
        let signals = |signal: WatchSignal| match signal {
            // Changes between the last watch and this one were not reported.
            WatchSignal::Started if !first => coalescer.request(),
            WatchSignal::Started => {}
            WatchSignal::Changed(vm) => {
                tracing::debug!(%host, vm = vm.as_deref().unwrap_or("-"), "host reported a change");
                coalescer.request();
            }
        };
        let began = Instant::now();
        let outcome = tokio::select! {
            outcome = refresher.collector().watch(&host, seconds, &signals) => outcome,
            () = stop.cancelled() => return,
        };
        let pause = match outcome {
            Ok(()) => {
                if failing {
                    tracing::info!(%host, "host watch works again");
                    failing = false;
                }
                backoff = Duration::ZERO;
                // A watch that ended well before its length is not looped on hot.
                if began.elapsed() < settings.length / 2 {
                    settings.backoff_min
                } else {
                    Duration::ZERO
                }
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(%host, error = %error.message, "host watch failed; out-of-band changes wait for the refresh schedule until it works again");
                    failing = true;
                } else {
                    tracing::debug!(%host, error = %error.message, "host watch failed again");
                }
                backoff = next_backoff(backoff, &settings);
                backoff
            }
        };
        if !pause.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = stop.cancelled() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_minimum_to_the_maximum() {
        let settings = WatchSettings {
            length: Duration::from_secs(300),
            backoff_min: Duration::from_secs(5),
            backoff_max: Duration::from_secs(60),
        };
        let mut waits = Vec::new();
        let mut current = Duration::ZERO;
        for _ in 0..6 {
            current = next_backoff(current, &settings);
            waits.push(current.as_secs());
        }
        assert_eq!(waits, [5, 10, 20, 40, 60, 60]);
    }
}
