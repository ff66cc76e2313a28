//! The refresh schedule. Every interval a cycle begins: the host list is re-read from the
//! collector (hosts no longer listed are dropped with their VMs), hosts never tried are
//! refreshed at once, and the others start spread over the interval — host i of N at
//! `i · interval / N` — so the load on remote-tasks and the hosts is even. At most
//! `concurrency` scheduled refreshes run at once. A cycle's report (duration, whether a
//! host finished after it was due again, the longest start delay) feeds the refresh
//! status; the next cycle starts on time whether or not the last one has finished, and a
//! host still being refreshed is joined rather than refreshed twice.

use std::sync::Arc;
use std::time::Duration;

use aetherv_hyperv::HostId;
use aetherv_runtime::CallContext;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::engine::Refresher;
use super::stats::CycleReport;

/// Tunables of the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleSettings {
    /// Each host is refreshed once per interval.
    pub interval: Duration,
    /// Scheduled refreshes running at once.
    pub concurrency: usize,
}

/// Whether the fleet could be listed yet (the service's readiness follows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    /// Not yet; why.
    Waiting(String),
    /// The host list has been read.
    Listed,
}

/// The start offsets of `n` hosts spread over `interval`: host i at `i · interval / n`.
pub fn offsets(n: usize, interval: Duration) -> Vec<Duration> {
    let n32 = u32::try_from(n.max(1)).unwrap_or(u32::MAX);
    (0..n)
        .map(|i| interval.mul_f64(i as f64 / f64::from(n32)))
        .collect()
}

/// Waits before the next attempt to list the fleet: 1 s, doubling, at most 10 s and at
/// most the interval.
fn list_backoff(attempt: u32, interval: Duration) -> Duration {
    let base = Duration::from_secs(1u64 << attempt.min(4));
    base.min(Duration::from_secs(10)).min(interval)
}

/// Runs cycles until `stop` fires.
pub async fn run(
    refresher: Arc<Refresher>,
    settings: ScheduleSettings,
    listing: watch::Sender<Listing>,
    stop: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    let mut failures = 0u32;
    let mut cycles = JoinSet::new();
    loop {
        let cycle_start = Instant::now();
        let listed = tokio::select! {
            result = refresher.collector().list_hosts() => result,
            () = stop.cancelled() => break,
        };
        match listed {
            Ok(hosts) => {
                failures = 0;
                refresher.store().set_configured_hosts(&hosts);
                refresher.with_stats(|stats| stats.fleet_listed = true);
                listing.send_replace(Listing::Listed);
            }
            Err(error) => {
                let reason = format!(
                    "remote-tasks does not answer ListHosts: {}",
                    super::engine::reason_of(&error)
                );
                tracing::warn!(%reason, "cannot read the host list");
                if *listing.borrow() != Listing::Listed {
                    listing.send_replace(Listing::Waiting(reason));
                    let pause = list_backoff(failures, settings.interval);
                    failures = failures.saturating_add(1);
                    tokio::select! {
                        () = tokio::time::sleep(pause) => continue,
                        () = stop.cancelled() => break,
                    }
                }
                // Listed before: keep refreshing the hosts already known.
            }
        }
        let (fresh, known): (Vec<_>, Vec<_>) = refresher.store().read(|fleet| {
            fleet
                .hosts()
                .map(|host| (host.id.as_ref().clone(), host.last_refresh.is_none()))
                .partition(|(_, never)| *never)
        });
        let mut plan: Vec<(HostId, Duration)> = fresh
            .into_iter()
            .map(|(id, _)| (id, Duration::ZERO))
            .collect();
        let spread = offsets(known.len(), settings.interval);
        plan.extend(known.into_iter().map(|(id, _)| id).zip(spread));
        let cycle = tokio::spawn(run_cycle(
            refresher.clone(),
            plan,
            cycle_start,
            settings.interval,
            permits.clone(),
            stop.clone(),
        ));
        cycles.spawn(async move {
            let _ = cycle.await;
        });
        // Reap finished cycles so the set does not grow.
        while cycles.try_join_next().is_some() {}
        tokio::select! {
            () = sleep_until(cycle_start + settings.interval) => {}
            () = stop.cancelled() => break,
        }
    }
    cycles.shutdown().await;
}

/// One cycle: starts each host at its offset and reports when all are done.
async fn run_cycle(
    refresher: Arc<Refresher>,
    plan: Vec<(HostId, Duration)>,
    cycle_start: Instant,
    interval: Duration,
    permits: Arc<Semaphore>,
    stop: CancellationToken,
) {
    let hosts = plan.len();
    let mut refreshes = JoinSet::new();
    for (host, offset) in plan {
        let slot = cycle_start + offset;
        tokio::select! {
            () = sleep_until(slot) => {}
            () = stop.cancelled() => return,
        }
        let refresher = refresher.clone();
        let permits = permits.clone();
        refreshes.spawn(async move {
            let Ok(_permit) = permits.acquire_owned().await else {
                return (slot, Duration::ZERO, false);
            };
            let delay = Instant::now().saturating_duration_since(slot);
            let context = CallContext::background("inventory").ok();
            let result = match &context {
                Some(context) => refresher.refresh(&host, context).await,
                None => return (slot, delay, false),
            };
            if let Err(error) = &result {
                tracing::debug!(%host, %error, "scheduled refresh did not happen");
            }
            let late = Instant::now() > slot + interval;
            (slot, delay, late)
        });
    }
    let mut report = CycleReport {
        hosts,
        ..CycleReport::default()
    };
    loop {
        let next = tokio::select! {
            next = refreshes.join_next() => next,
            () = stop.cancelled() => return,
        };
        let Some(joined) = next else { break };
        if let Ok((_, delay, late)) = joined {
            report.max_start_delay = report.max_start_delay.max(delay);
            report.overrun |= late;
        }
    }
    report.duration = cycle_start.elapsed();
    if report.overrun {
        refresher.hooks().cycle_overrun(report.duration, interval);
    } else {
        refresher.hooks().cycle_caught_up(report.duration, interval);
    }
    refresher.with_stats(|stats| stats.record_cycle(report));
}
