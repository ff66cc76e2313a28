//! Benchmark (not a test): the gateway in front of inventory holding 50,000 VMs.
//!
//! ```text
//! cargo bench -p aetherv-gateway --bench api                       # 200 hosts × 250 VMs
//! cargo bench -p aetherv-gateway --bench api -- --hosts 100 --vms-per-host 500 --seconds 5
//! cargo bench -p aetherv-gateway --bench api -- --only by-id,all   # pages search by-id thousand all
//! ```
//!
//! Starts, in this process, a simulated fleet (real WinRM on loopback), remote-tasks,
//! inventory (refresh interval 10 min, so nothing refreshes while measuring) and the
//! gateway; waits until inventory holds every VM; then measures over HTTP with keep-alive
//! connections (the load generator shares the 2 cores):
//!
//! - `GET /api/v1/vms?state=running&page_size=100` (a page of 100 with a filter) and
//!   `GET /api/v1/vms?q=<substring>&page_size=100` (a name search): latency p50/p99 on one
//!   connection, and throughput on 8;
//! - `GET /api/v1/vms/{id}` over random ids on 8 connections: requests/s, p50/p99;
//! - `GET /api/v1/vms?all=true`: the whole list, with and without gzip, p50 of 5 runs.
//!
//! Prints one table; the process's peak resident memory at the end covers all four
//! components together.

use std::time::{Duration, Instant};

use aetherv_hvsim::SimFleet;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;

struct Args {
    hosts: u32,
    vms_per_host: u32,
    seconds: u64,
    /// Measures to run (`pages`, `search`, `by-id`, `thousand`, `all`); empty: every one.
    only: Vec<String>,
}

impl Args {
    fn runs(&self, measure: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|m| m == measure)
    }
}

fn args() -> Args {
    let mut parsed = Args {
        hosts: 200,
        vms_per_host: 250,
        seconds: 5,
        only: Vec::new(),
    };
    let list: Vec<String> = std::env::args().collect();
    let mut index = 1;
    while index < list.len() {
        if list[index] == "--only"
            && let Some(measures) = list.get(index + 1)
        {
            parsed.only = measures.split(',').map(str::to_string).collect();
            index += 2;
            continue;
        }
        let value = list.get(index + 1).and_then(|v| v.parse::<u64>().ok());
        match (list[index].as_str(), value) {
            ("--hosts", Some(v)) => parsed.hosts = v as u32,
            ("--vms-per-host", Some(v)) => parsed.vms_per_host = v as u32,
            ("--seconds", Some(v)) => parsed.seconds = v,
            _ => {
                index += 1;
                continue;
            }
        }
        index += 2;
    }
    parsed
}

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

fn client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// One GET; returns (status, body bytes on the wire).
async fn fetch(client: &HttpClient, url: &str, gzip: bool) -> (u16, usize) {
    let mut request = Request::get(url);
    if gzip {
        request = request.header("accept-encoding", "gzip");
    }
    let Ok(request) = request.body(Empty::new()) else {
        return (0, 0);
    };
    match client.request(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let size = match response.into_body().collect().await {
                Ok(body) => body.to_bytes().len(),
                Err(_) => 0,
            };
            (status, size)
        }
        Err(_) => (0, 0),
    }
}

struct Figures {
    /// CPU time of the whole process (every component and the load) per request.
    cpu_per_request: Duration,
    requests: usize,
    errors: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

/// `connections` workers, each on its own connection, GET `urls()` for `seconds`.
async fn load(
    connections: usize,
    seconds: u64,
    urls: impl Fn(usize) -> String + Clone + Send + 'static,
) -> Figures {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let cpu = cpu_time();
    let workers = (0..connections).map(|worker| {
        let urls = urls.clone();
        tokio::spawn(async move {
            let client = client();
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut n = worker;
            while Instant::now() < deadline {
                let url = urls(n);
                n += connections;
                let start = Instant::now();
                let (status, _) = fetch(&client, &url, false).await;
                latencies.push(start.elapsed());
                if status != 200 {
                    errors += 1;
                }
            }
            (latencies, errors)
        })
    });
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in futures::future::join_all(workers)
        .await
        .into_iter()
        .flatten()
    {
        latencies.extend(worker.0);
        errors += worker.1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_time().saturating_sub(cpu);
    latencies.sort();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Figures {
        cpu_per_request: cpu / u32::try_from(latencies.len().max(1)).unwrap_or(u32::MAX),
        requests: latencies.len(),
        errors,
        per_second: latencies.len() as f64 / elapsed,
        p50: pick(0.50),
        p99: pick(0.99),
    }
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat` (clock
/// ticks of 10 ms). On a shared machine this is steadier than wall time.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn row(name: &str, figures: &Figures) {
    println!(
        "{name:<48} {:>9.0} req/s  p50 {:>10}  p99 {:>10}  cpu {:>7.0} µs/req  ({} requests, {} errors)",
        figures.per_second,
        ms(figures.p50),
        ms(figures.p99),
        figures.cpu_per_request.as_secs_f64() * 1e6,
        figures.requests,
        figures.errors
    );
}

async fn bind() -> (TcpListener, String) {
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(error) => panic!("bind: {error}"),
    };
    let url = match listener.local_addr() {
        Ok(addr) => format!("http://{addr}"),
        Err(error) => panic!("address: {error}"),
    };
    (listener, url)
}

/// gRPC `GetVm` straight from inventory, 8 calls at a time on one channel, for `seconds`.
async fn grpc_get_vm(inventory_url: &str, ids: &[String], seconds: u64) {
    let grpc = match aetherv_proto::inventory::v1::inventory_client::InventoryClient::connect(
        inventory_url.to_string(),
    )
    .await
    {
        Ok(client) => client,
        Err(error) => panic!("inventory: {error}"),
    };
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers = (0..8).map(|worker| {
        let mut grpc = grpc.clone();
        let ids = ids.to_vec();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = worker;
            while Instant::now() < deadline {
                let request = aetherv_proto::inventory::v1::GetVmRequest {
                    vm_id: ids[(n * 7919) % ids.len()].clone(),
                };
                n += 8;
                let start = Instant::now();
                let ok = grpc.get_vm(request).await.is_ok();
                latencies.push(start.elapsed());
                assert!(ok, "GetVm failed");
            }
            latencies
        })
    });
    let mut latencies: Vec<Duration> = futures::future::join_all(workers)
        .await
        .into_iter()
        .flatten()
        .flatten()
        .collect();
    latencies.sort();
    println!(
        "{:<48} {:>9.0} req/s  p50 {:>10}  p99 {:>10}",
        "gRPC GetVm (direct), 8 at a time",
        latencies.len() as f64 / started.elapsed().as_secs_f64(),
        ms(latencies[latencies.len() / 2]),
        ms(latencies[latencies.len() * 99 / 100]),
    );
}

/// gRPC `ListVms` pages of 1,000 straight from inventory for `seconds`: p50.
async fn grpc_thousand(inventory_url: &str, seconds: u64) {
    let mut grpc = match aetherv_proto::inventory::v1::inventory_client::InventoryClient::connect(
        inventory_url.to_string(),
    )
    .await
    {
        Ok(client) => client,
        Err(error) => panic!("inventory: {error}"),
    };
    let mut latencies = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        let request = aetherv_proto::inventory::v1::ListVmsRequest {
            page: Some(aetherv_proto::common::v1::PageRequest {
                page_size: 1000,
                page_token: String::new(),
            }),
            ..Default::default()
        };
        let start = Instant::now();
        let ok = grpc.list_vms(request).await.is_ok();
        latencies.push(start.elapsed());
        assert!(ok, "ListVms failed");
    }
    latencies.sort();
    println!(
        "{:<48} p50 {:>10}  ({} calls)",
        "gRPC ListVms page_size=1000 (direct)",
        ms(latencies[latencies.len() / 2]),
        latencies.len()
    );
}

#[tokio::main]
async fn main() {
    let args = args();
    let total = u64::from(args.hosts) * u64::from(args.vms_per_host);
    println!(
        "gateway benchmark: {} hosts × {} VMs = {total} VMs",
        args.hosts, args.vms_per_host
    );
    let started = Instant::now();
    let fleet = SimFleet::builder()
        .hosts(args.hosts)
        .vms_per_host(args.vms_per_host)
        .clusters((args.hosts / 10).max(1))
        .seed(11)
        .start()
        .await;
    let fleet = match fleet {
        Ok(fleet) => fleet,
        Err(error) => panic!("fleet: {error}"),
    };
    let hosts = fleet
        .hosts()
        .iter()
        .filter_map(|h| {
            h.http_endpoint()
                .map(|e| aetherv_remote_tasks::HostEntry::at(h.name(), &e))
        })
        .collect();
    let password = fleet.password();
    let remote =
        aetherv_remote_tasks::Config::for_testing(hosts, fleet.username(), password.expose());
    let (listener, remote_url) = bind().await;
    tokio::spawn(aetherv_remote_tasks::serve(
        remote,
        listener,
        std::future::pending::<()>(),
    ));
    let mut inventory = aetherv_inventory::Config::for_testing(&remote_url);
    inventory.refresh_interval = Duration::from_secs(600);
    let (listener, inventory_url) = bind().await;
    tokio::spawn(aetherv_inventory::serve(
        inventory,
        listener,
        std::future::pending::<()>(),
    ));
    let gateway = aetherv_gateway::Config::for_testing(&inventory_url, &remote_url);
    let (listener, base) = bind().await;
    tokio::spawn(aetherv_gateway::serve(
        gateway,
        listener,
        std::future::pending::<()>(),
    ));

    let http = client();
    loop {
        let url = format!("{base}/api/v1/vms?page_size=1");
        let request = Request::get(&url).body(Empty::new());
        let counted = match request {
            Ok(request) => match http.request(request).await {
                Ok(response) => match response.into_body().collect().await {
                    Ok(body) => serde_json::from_slice::<serde_json::Value>(&body.to_bytes())
                        .ok()
                        .and_then(|v| v["total_size"].as_u64()),
                    Err(_) => None,
                },
                Err(_) => None,
            },
            Err(_) => None,
        };
        if counted == Some(total) {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            panic!("inventory did not converge in 10 minutes (at {counted:?} of {total})");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "inventory complete through the gateway after {:.1} s\n",
        started.elapsed().as_secs_f64()
    );

    // Ids and a name fragment for the runs.
    let ids: Vec<String> = fleet
        .hosts()
        .iter()
        .flat_map(|h| h.vms().into_iter().map(|vm| vm.id.to_string()))
        .collect();
    let sample = fleet.hosts()[0].vms()[0].name.clone();
    let needle: String = sample.chars().take(5).collect();
    println!("name search needle: {needle:?}");

    let seconds = args.seconds;
    if args.runs("pages") {
        let page = format!("{base}/api/v1/vms?state=running&page_size=100");
        let page_url = page.clone();
        row(
            "GET /vms?state=running&page_size=100, 1 conn",
            &load(1, seconds, move |_| page_url.clone()).await,
        );
        row(
            "GET /vms?state=running&page_size=100, 8 conns",
            &load(8, seconds, move |_| page.clone()).await,
        );
    }
    if args.runs("search") {
        let search = format!("{base}/api/v1/vms?q={needle}&page_size=100");
        let search_url = search.clone();
        row(
            "GET /vms?q=…&page_size=100, 1 conn",
            &load(1, seconds, move |_| search_url.clone()).await,
        );
        row(
            "GET /vms?q=…&page_size=100, 8 conns",
            &load(8, seconds, move |_| search.clone()).await,
        );
    }
    if args.runs("by-id") {
        let by_id = {
            let ids = ids.clone();
            let base = base.clone();
            move |n: usize| format!("{base}/api/v1/vms/{}", ids[(n * 7919) % ids.len()])
        };
        row(
            "GET /vms/{id}, 1 conn",
            &load(1, seconds, by_id.clone()).await,
        );
        row("GET /vms/{id}, 8 conns", &load(8, seconds, by_id).await);
        // Where a by-id request's time goes: the HTTP stack alone (a handler that calls no
        // service), and GetVm straight from inventory over one gRPC channel.
        let health = format!("{base}/healthz");
        row(
            "GET /healthz (no service call), 8 conns",
            &load(8, seconds, move |_| health.clone()).await,
        );
        grpc_get_vm(&inventory_url, &ids, seconds).await;
    }
    if args.runs("thousand") {
        // Where the whole list's time goes: one page of 1,000 through the gateway, and the
        // same page straight from inventory over gRPC.
        let thousand = format!("{base}/api/v1/vms?page_size=1000");
        row(
            "GET /vms?page_size=1000, 1 conn",
            &load(1, seconds, move |_| thousand.clone()).await,
        );
        grpc_thousand(&inventory_url, seconds).await;
    }
    if args.runs("all") {
        for gzip in [false, true] {
            let mut runs = Vec::new();
            let mut size = 0;
            let cpu = cpu_time();
            for _ in 0..5 {
                let start = Instant::now();
                let (status, bytes) =
                    fetch(&http, &format!("{base}/api/v1/vms?all=true"), gzip).await;
                runs.push(start.elapsed());
                size = bytes;
                assert_eq!(status, 200, "the whole list answered {status}");
            }
            let cpu = cpu_time().saturating_sub(cpu) / 5;
            runs.sort();
            println!(
                "GET /vms?all=true ({:<8}) {total} VMs            p50 {:>10}  min {:>10}  cpu {:>8} per list  ({:.1} MB on the wire)",
                if gzip { "gzip" } else { "identity" },
                ms(runs[2]),
                ms(runs[0]),
                ms(cpu),
                size as f64 / 1e6
            );
        }
    }
    println!(
        "\npeak resident memory of this process (sim + remote-tasks + inventory + gateway + load): {:.0} MB",
        peak_rss_mb()
    );
}
