//! ListVms at 50,000 VMs (2,000 hosts × 25 VMs, 40 clusters, 2 disks and 1–2 NICs per
//! VM), a bench binary that prints figures (`cargo bench -p aetherv-inventory --bench
//! list_vms`):
//!
//! - cold start: inventory serving on loopback, its schedule refreshing 2,000 hosts
//!   through an in-memory collector (no WinRM: this isolates inventory's own cost) until
//!   every host is in the model;
//! - resident memory growth per VM of the model;
//! - gRPC `ListVms` over loopback, p50/p99: a page of 100 with a state filter, a name
//!   search, the first and a deep page unfiltered, one host's VMs, `GetVm`;
//! - the same queries while the schedule keeps refreshing (one changed VM per host
//!   refresh, ~67 refreshes/s), which invalidates cached orders.

#[path = "../tests/support/agent_data.rs"]
mod agent_data;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aetherv_hyperv::ops::inventory::InventoryCollectResult;
use aetherv_hyperv::{HostId, VmState};
use aetherv_inventory::Config;
use aetherv_inventory::refresh::collector::{CollectError, Collector, LogHooks};
use aetherv_proto::common::v1::{PageRequest, SortDirection};
use aetherv_proto::inventory::v1 as pb;
use aetherv_proto::inventory::v1::inventory_client::InventoryClient;
use aetherv_runtime::{ApiError, CallContext, ClientConfig};
use agent_data::{HostData, VmData};
use futures::future::BoxFuture;
use tonic::transport::Channel;

const HOSTS: u32 = 2_000;
const VMS_PER_HOST: u32 = 25;
const CLUSTERS: u32 = 40;
const SAMPLES: usize = 400;

fn host_name(number: u32) -> String {
    format!("hv{number:04}.lab.local")
}

/// The fleet, generated on demand; with `churn`, each collection of a host flips one of
/// its VMs between Running and Off.
struct Fleet {
    started: Instant,
    churn: std::sync::atomic::AtomicBool,
    calls: AtomicU64,
}

impl Fleet {
    fn data(&self, number: u32) -> InventoryCollectResult {
        let elapsed = self.started.elapsed().as_secs();
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        let mut data = HostData::new(&host_name(number));
        if !number.is_multiple_of(50) {
            data = data.cluster(&format!("cluster-{:02}", number % CLUSTERS));
        }
        for vm in 1..=VMS_PER_HOST {
            let mut one = VmData::new(number, vm).name(&format!(
                "{}-{number:04}-{vm:02}",
                ["web", "db", "app", "cache", "build"][(vm % 5) as usize]
            ));
            if vm.is_multiple_of(4) {
                one = one.state(VmState::Off);
            }
            if vm.is_multiple_of(2) {
                let mut second = one.0.nics[0].clone();
                second.name = "Backup Adapter".to_string();
                second.mac_address = format!("00155E{:02X}{:04X}", number % 256, vm);
                one.0.nics.push(second);
            }
            one.0.uptime_seconds = if one.0.uptime_seconds > 0 {
                3600 + elapsed
            } else {
                0
            };
            if self.churn.load(Ordering::Relaxed) && vm == 1 && call % 2 == 1 {
                one = one.state(VmState::Off);
            }
            data = data.vm(one);
        }
        data.0
    }
}

impl Collector for Fleet {
    fn list_hosts(&self) -> BoxFuture<'_, Result<Vec<HostId>, ApiError>> {
        Box::pin(async {
            Ok((1..=HOSTS)
                .filter_map(|n| HostId::parse(&host_name(n)).ok())
                .collect())
        })
    }

    fn collect<'a>(
        &'a self,
        host: &'a HostId,
        _context: &'a CallContext,
        _timeout: Duration,
    ) -> BoxFuture<'a, Result<InventoryCollectResult, CollectError>> {
        Box::pin(async move {
            let number = host.as_str()[2..6].parse::<u32>().unwrap_or(1);
            Ok(self.data(number))
        })
    }
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index.min(samples.len() - 1)]
}

async fn measure<F, Fut>(label: &str, mut call: F)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let mut samples = Vec::with_capacity(SAMPLES);
    let mut returned = 0;
    for i in 0..SAMPLES {
        let started = Instant::now();
        returned = call(i).await;
        samples.push(started.elapsed());
    }
    let p50 = percentile(&mut samples, 0.50);
    let p99 = percentile(&mut samples, 0.99);
    println!(
        "  {label:<44} p50 {:>7.2} ms   p99 {:>7.2} ms   ({returned} returned)",
        p50.as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0
    );
}

fn page(size: u32, token: &str) -> Option<PageRequest> {
    Some(PageRequest {
        page_size: size,
        page_token: token.to_string(),
    })
}

async fn list(
    client: &InventoryClient<Channel>,
    request: pb::ListVmsRequest,
) -> pb::ListVmsResponse {
    match client.clone().list_vms(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("ListVms: {status}"),
    }
}

async fn queries(client: &InventoryClient<Channel>, deep_token: &str) {
    measure("page of 100, state filter (running), by name", |_| async {
        list(
            client,
            pb::ListVmsRequest {
                states: vec![pb::VmState::Running as i32],
                page: page(100, ""),
                ..Default::default()
            },
        )
        .await
        .vms
        .len()
    })
    .await;
    measure("page of 100, name search \"db-01\", by name", |_| async {
        list(
            client,
            pb::ListVmsRequest {
                name_contains: "DB-01".to_string(),
                page: page(100, ""),
                ..Default::default()
            },
        )
        .await
        .vms
        .len()
    })
    .await;
    measure(
        "page of 100, cluster + state, by memory desc",
        |i| async move {
            list(
                client,
                pb::ListVmsRequest {
                    cluster: format!("cluster-{:02}", i as u32 % CLUSTERS),
                    states: vec![pb::VmState::Running as i32],
                    sort_field: pb::VmSortField::MemoryAssigned as i32,
                    sort_direction: SortDirection::Descending as i32,
                    page: page(100, ""),
                    ..Default::default()
                },
            )
            .await
            .vms
            .len()
        },
    )
    .await;
    measure("first page of 100, no filter, by name", |_| async {
        list(
            client,
            pb::ListVmsRequest {
                page: page(100, ""),
                ..Default::default()
            },
        )
        .await
        .vms
        .len()
    })
    .await;
    measure("deep page (token after 25,000), by name", |_| async {
        list(
            client,
            pb::ListVmsRequest {
                page: page(100, deep_token),
                ..Default::default()
            },
        )
        .await
        .vms
        .len()
    })
    .await;
    measure("one host's VMs", |i| async move {
        list(
            client,
            pb::ListVmsRequest {
                host: host_name(1 + i as u32 % HOSTS),
                ..Default::default()
            },
        )
        .await
        .vms
        .len()
    })
    .await;
    measure("GetVm", |i| async move {
        let id = agent_data::vm_id(1 + i as u32 % HOSTS, 1 + i as u32 % VMS_PER_HOST);
        match client
            .clone()
            .get_vm(pb::GetVmRequest {
                vm_id: id.to_string(),
            })
            .await
        {
            Ok(_) => 1,
            Err(status) => panic!("GetVm: {status}"),
        }
    })
    .await;
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => panic!("runtime: {error}"),
    };
    runtime.block_on(run());
}

async fn run() {
    let fleet = Arc::new(Fleet {
        started: Instant::now(),
        churn: std::sync::atomic::AtomicBool::new(false),
        calls: AtomicU64::new(0),
    });
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(error) => panic!("bind: {error}"),
    };
    let address = match listener.local_addr() {
        Ok(address) => address,
        Err(error) => panic!("{error}"),
    };
    let mut config = Config::for_testing("http://127.0.0.1:1");
    config.refresh_interval = Duration::from_secs(30);
    config.telemetry.filter = "warn".to_string();
    let rss_before = rss_bytes();
    let started = Instant::now();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let collector: Arc<dyn Collector> = fleet.clone();
    let server = tokio::spawn(aetherv_inventory::serve_with(
        config,
        listener,
        async {
            let _ = stopped.await;
        },
        collector,
        Arc::new(LogHooks),
    ));
    let channel = match aetherv_runtime::connect_lazy(&ClientConfig {
        endpoint: format!("http://{address}"),
        ..ClientConfig::local(0)
    }) {
        Ok(channel) => channel,
        Err(error) => panic!("channel: {error}"),
    };
    let client = InventoryClient::new(channel).max_decoding_message_size(64 << 20);
    let total = u64::from(HOSTS * VMS_PER_HOST);
    loop {
        if let Ok(summary) = client.clone().get_summary(pb::GetSummaryRequest {}).await {
            let summary = summary.into_inner();
            if u64::from(summary.vms_total) == total
                && summary.refresh.is_some_and(|r| r.initial_refresh_done)
            {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cold = started.elapsed();
    let rss_after = rss_bytes();
    println!(
        "inventory ListVms bench: {HOSTS} hosts x {VMS_PER_HOST} VMs = {total} VMs, {CLUSTERS} clusters"
    );
    println!(
        "  cold start to a complete model (in-memory collector) {:>8.2} s",
        cold.as_secs_f64()
    );
    println!(
        "  resident memory: {:.1} MiB before, {:.1} MiB after; growth {:.0} bytes per VM (model, indexes, change log)",
        rss_before as f64 / 1048576.0,
        rss_after as f64 / 1048576.0,
        (rss_after.saturating_sub(rss_before)) as f64 / total as f64
    );
    // A token 25,000 VMs deep.
    let mut token = String::new();
    for _ in 0..25 {
        token = list(
            &client,
            pb::ListVmsRequest {
                page: page(1000, &token),
                ..Default::default()
            },
        )
        .await
        .page
        .map(|p| p.next_page_token)
        .unwrap_or_default();
    }
    println!("quiet model:");
    queries(&client, &token).await;
    fleet.churn.store(true, Ordering::Relaxed);
    // The spread cycles begin one interval after the cold start.
    let spread_from = started + Duration::from_secs(31);
    tokio::time::sleep_until(spread_from.into()).await;
    let before = fleet.calls.load(Ordering::Relaxed);
    let churn_started = Instant::now();
    println!("while the schedule refreshes (one changed VM per host refresh):");
    queries(&client, &token).await;
    let refreshes = fleet.calls.load(Ordering::Relaxed) - before;
    println!(
        "  ({refreshes} host refreshes during the queries, {:.0}/s)",
        refreshes as f64 / churn_started.elapsed().as_secs_f64()
    );
    let _ = stop.send(());
    let _ = server.await;
}
