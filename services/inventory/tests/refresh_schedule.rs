//! The refresh engine and schedule on paused tokio time, with a scripted collector on the
//! other side of the seam: spreading over the interval, the concurrency bound, overrun
//! detection, coalesced on-demand refreshes, host list changes, readiness, and the hooks.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aetherv_hyperv::HostId;
use aetherv_hyperv::ops::inventory::InventoryCollectResult;
use aetherv_inventory::domain::fleet::FleetSettings;
use aetherv_inventory::domain::model::HostStatus;
use aetherv_inventory::domain::store::{Store, StoreSettings};
use aetherv_inventory::refresh::collector::{CollectError, Collector, RefreshHooks};
use aetherv_inventory::refresh::engine::{RefreshSettings, Refresher};
use aetherv_inventory::refresh::schedule::{self, Listing, ScheduleSettings, offsets};
use aetherv_runtime::{ApiError, CallContext, ErrorCode};
use futures::future::BoxFuture;
use support::agent_data::HostData;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

fn host(name: &str) -> HostId {
    match HostId::parse(name) {
        Ok(id) => id,
        Err(error) => panic!("host id {name}: {error}"),
    }
}

/// The remote side, scripted: each host answers after `delay` with its fixture data, or
/// fails while it is listed in `failing`.
struct Script {
    origin: Instant,
    hosts: Mutex<Vec<HostId>>,
    list_failures: Mutex<u32>,
    delay: Mutex<HashMap<String, Duration>>,
    default_delay: Duration,
    failing: Mutex<Vec<String>>,
    gate: Option<Arc<Notify>>,
    calls: Mutex<Vec<(String, Duration)>>,
    running: Mutex<(usize, usize)>,
}

impl Script {
    fn new(names: &[String], default_delay: Duration) -> Script {
        Script {
            origin: Instant::now(),
            hosts: Mutex::new(names.iter().map(|n| host(n)).collect()),
            list_failures: Mutex::new(0),
            delay: Mutex::new(HashMap::new()),
            default_delay,
            failing: Mutex::new(Vec::new()),
            gate: None,
            calls: Mutex::new(Vec::new()),
            running: Mutex::new((0, 0)),
        }
    }

    fn calls(&self) -> Vec<(String, Duration)> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn max_running(&self) -> usize {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
    }
}

impl Collector for Script {
    fn list_hosts(&self) -> BoxFuture<'_, Result<Vec<HostId>, ApiError>> {
        Box::pin(async move {
            let mut failures = self
                .list_failures
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if *failures > 0 {
                *failures -= 1;
                return Err(ApiError::new(ErrorCode::Unavailable, "connection refused"));
            }
            Ok(self
                .hosts
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone())
        })
    }

    fn collect<'a>(
        &'a self,
        host: &'a HostId,
        _context: &'a CallContext,
        _timeout: Duration,
    ) -> BoxFuture<'a, Result<InventoryCollectResult, CollectError>> {
        Box::pin(async move {
            let name = host.to_string();
            self.calls
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((name.clone(), self.origin.elapsed()));
            {
                let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
                running.0 += 1;
                running.1 = running.1.max(running.0);
            }
            let delay = self
                .delay
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&name)
                .copied()
                .unwrap_or(self.default_delay);
            tokio::time::sleep(delay).await;
            if let Some(gate) = &self.gate {
                gate.notified().await;
            }
            self.running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .0 -= 1;
            if self
                .failing
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&name)
            {
                return Err(CollectError::Failed(ApiError::new(
                    ErrorCode::Unavailable,
                    format!("WinRM on {name} did not answer"),
                )));
            }
            // hvNN has host number NN + 1, so every host's VM ids differ.
            let number = name.trim_start_matches("hv").parse::<u32>().unwrap_or(0) + 1;
            Ok(HostData::new(&name).vms(number, 3).0)
        })
    }
}

#[derive(Default)]
struct Heard(Mutex<Vec<String>>);

impl RefreshHooks for Heard {
    fn host_unreachable(&self, host: &HostId, reason: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(format!("unreachable {host}: {reason}"));
    }
    fn host_recovered(&self, host: &HostId) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(format!("recovered {host}"));
    }
    fn host_slow(&self, host: &HostId, took: Duration) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(format!("slow {host} {}s", took.as_secs()));
    }
    fn cycle_overrun(&self, _took: Duration, _interval: Duration) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push("overrun".to_string());
    }
}

impl Heard {
    fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

struct Running {
    refresher: Arc<Refresher>,
    listing: watch::Receiver<Listing>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn start(
    script: Arc<Script>,
    hooks: Arc<Heard>,
    interval: Duration,
    concurrency: usize,
) -> Running {
    let stop = CancellationToken::new();
    let store = Arc::new(Store::new(
        StoreSettings {
            fleet: FleetSettings {
                slow_threshold: Duration::from_secs(4),
                ..FleetSettings::default()
            },
            history: 10_000,
            watch_buffer: 64,
        },
        1,
    ));
    let refresher = Arc::new(Refresher::new(
        store,
        script,
        hooks,
        RefreshSettings {
            host_timeout: Duration::from_secs(20),
        },
        stop.clone(),
    ));
    let (sender, listing) = watch::channel(Listing::Waiting("starting".into()));
    let task = tokio::spawn(schedule::run(
        refresher.clone(),
        ScheduleSettings {
            interval,
            concurrency,
        },
        sender,
        stop.clone(),
    ));
    Running {
        refresher,
        listing,
        stop,
        task,
    }
}

impl Running {
    async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
        self.refresher.close().await;
    }
}

fn names(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("hv{i:02}")).collect()
}

#[test]
fn offsets_spread_hosts_evenly_over_the_interval() {
    let spread = offsets(4, Duration::from_secs(30));
    assert_eq!(
        spread,
        [0, 7_500, 15_000, 22_500].map(Duration::from_millis)
    );
    assert!(offsets(0, Duration::from_secs(30)).is_empty());
    let many = offsets(2_000, Duration::from_secs(30));
    assert_eq!(many[1], Duration::from_millis(15));
    assert!(many[1_999] < Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn new_hosts_start_at_once_then_every_host_at_its_slot_each_interval() {
    let script = Arc::new(Script::new(&names(10), Duration::from_millis(100)));
    let running = start(
        script.clone(),
        Arc::new(Heard::default()),
        Duration::from_secs(30),
        64,
    );
    tokio::time::sleep(Duration::from_secs(61)).await;
    let calls = script.calls();
    let first: Vec<Duration> = calls.iter().take(10).map(|(_, at)| *at).collect();
    assert!(
        first.iter().all(|at| *at == Duration::ZERO),
        "first cycle at once: {first:?}"
    );
    let second: Vec<(String, Duration)> = calls[10..20].to_vec();
    for (i, (name, at)) in second.iter().enumerate() {
        assert_eq!(name, &format!("hv{i:02}"));
        assert_eq!(*at, Duration::from_secs(30 + 3 * i as u64), "{name}");
    }
    assert_eq!(
        calls[20].1,
        Duration::from_secs(60),
        "third cycle starts one interval later"
    );
    let status = running
        .refresher
        .with_stats(|stats| (stats.cycles_completed, stats.last_cycle));
    assert!(status.0 >= 1);
    let Some(cycle) = status.1 else {
        panic!("a cycle report")
    };
    assert!(!cycle.overrun, "{cycle:?}");
    assert_eq!(cycle.max_start_delay, Duration::ZERO);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_bounded_and_a_cycle_that_cannot_keep_up_is_noticed() {
    // 10 hosts at 5 s each, one at a time, every 30 s: 50 s of work per 30 s.
    let script = Arc::new(Script::new(&names(10), Duration::from_secs(5)));
    let heard = Arc::new(Heard::default());
    let running = start(script.clone(), heard.clone(), Duration::from_secs(30), 1);
    tokio::time::sleep(Duration::from_secs(200)).await;
    assert_eq!(script.max_running(), 1);
    let Some(cycle) = running.refresher.with_stats(|stats| stats.last_cycle) else {
        panic!("a cycle report")
    };
    assert!(cycle.overrun, "{cycle:?}");
    assert!(
        cycle.max_start_delay >= Duration::from_secs(30),
        "{cycle:?}"
    );
    assert!(heard.lines().contains(&"overrun".to_string()));
    // Each host slow (5 s > the 4 s threshold) was heard, and marked.
    assert!(
        heard.lines().iter().any(|line| line == "slow hv03 5s"),
        "{:?}",
        heard.lines()
    );
    let slow = running
        .refresher
        .store()
        .read(|fleet| fleet.hosts().filter(|h| h.slow).count());
    assert_eq!(slow, 10);
    running.stop().await;

    // With room (4 at once) the same work keeps up.
    let script = Arc::new(Script::new(&names(10), Duration::from_secs(1)));
    let running = start(
        script.clone(),
        Arc::new(Heard::default()),
        Duration::from_secs(30),
        4,
    );
    tokio::time::sleep(Duration::from_secs(100)).await;
    assert_eq!(
        script.max_running(),
        4,
        "the first cycle starts everything at once, 4 at a time"
    );
    let Some(cycle) = running.refresher.with_stats(|stats| stats.last_cycle) else {
        panic!("a cycle report")
    };
    assert!(!cycle.overrun, "{cycle:?}");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_on_demand_refresh_joins_the_one_running() {
    let gate = Arc::new(Notify::new());
    let mut script = Script::new(&names(1), Duration::from_millis(10));
    script.gate = Some(gate.clone());
    let script = Arc::new(script);
    let running = start(
        script.clone(),
        Arc::new(Heard::default()),
        Duration::from_secs(3600),
        8,
    );
    // The first cycle's refresh of hv00 is held at the gate.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(script.calls().len(), 1);
    let context = CallContext::background("test").unwrap_or_else(|error| panic!("{error}"));
    let refresher = running.refresher.clone();
    let (a, b) = {
        let id = host("hv00");
        let one = {
            let refresher = refresher.clone();
            let id = id.clone();
            let context = context.clone();
            tokio::spawn(async move { refresher.refresh(&id, &context).await })
        };
        let two = {
            let refresher = refresher.clone();
            let context = context.clone();
            tokio::spawn(async move { refresher.refresh(&id, &context).await })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        gate.notify_waiters();
        (one.await, two.await)
    };
    let (Ok(Ok(a)), Ok(Ok(b))) = (a, b) else {
        panic!("refreshes failed")
    };
    assert!(Arc::ptr_eq(&a, &b), "both callers got the one outcome");
    assert!(a.ok);
    assert_eq!(script.calls().len(), 1, "no second collection");
    // An unknown host is an error, not an outcome.
    let unknown = refresher.refresh(&host("nope"), &context).await;
    assert!(unknown.is_err());
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn readiness_waits_for_the_host_list_and_the_list_is_followed() {
    let script = Arc::new(Script::new(&names(3), Duration::from_millis(10)));
    *script
        .list_failures
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = 2;
    let heard = Arc::new(Heard::default());
    let mut running = start(script.clone(), heard.clone(), Duration::from_secs(30), 8);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let waiting = running.listing.borrow_and_update().clone();
    let Listing::Waiting(reason) = waiting else {
        panic!("listed too early")
    };
    assert!(reason.contains("connection refused"), "{reason}");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(*running.listing.borrow(), Listing::Listed);
    assert_eq!(running.refresher.store().read(|fleet| fleet.vms().len()), 9);

    // hv01 goes unreachable, then hv02 is removed from the configuration.
    // Listed at 3 s (after retries at 1 s and 3 s): cycles at 3, 33, 63 s; hv01's slot
    // is 10 s into each with three hosts, 15 s with two.
    script
        .failing
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push("hv01".into());
    tokio::time::sleep(Duration::from_secs(40)).await;
    let status = running.refresher.store().read(|fleet| {
        fleet
            .host(&host("hv01"))
            .map(|h| (h.status, h.status_reason.to_string()))
    });
    assert_eq!(
        status,
        Some((
            HostStatus::Unreachable,
            "winRM on hv01 did not answer".to_string()
        ))
    );
    assert!(
        heard
            .lines()
            .contains(&"unreachable hv01: winRM on hv01 did not answer".to_string())
    );
    assert_eq!(
        running.refresher.store().read(|fleet| fleet.vms().len()),
        9,
        "vms kept"
    );
    script
        .failing
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
    script
        .hosts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|h| h.as_str() != "hv02");
    tokio::time::sleep(Duration::from_secs(35)).await;
    assert!(heard.lines().contains(&"recovered hv01".to_string()));
    let (hosts, vms) = running
        .refresher
        .store()
        .read(|fleet| (fleet.hosts().count(), fleet.vms().len()));
    assert_eq!((hosts, vms), (2, 6));
    running.stop().await;
}
