//! Benchmark (not a test): the gateway in front of inventory holding 50,000 VMs.
//!
//! ```text
//! cargo bench -p aetherv-gateway --bench api                       # 200 hosts × 250 VMs
//! cargo bench -p aetherv-gateway --bench api -- --hosts 100 --vms-per-host 500 --seconds 5
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
}

fn args() -> Args {
    let mut parsed = Args {
        hosts: 200,
        vms_per_host: 250,
        seconds: 5,
    };
    let list: Vec<String> = std::env::args().collect();
    let mut index = 1;
    while index < list.len() {
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
    latencies.sort();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Figures {
        requests: latencies.len(),
        errors,
        per_second: latencies.len() as f64 / elapsed,
        p50: pick(0.50),
        p99: pick(0.99),
    }
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
        "{name:<48} {:>9.0} req/s  p50 {:>10}  p99 {:>10}  ({} requests, {} errors)",
        figures.per_second,
        ms(figures.p50),
        ms(figures.p99),
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
    let page = format!("{base}/api/v1/vms?state=running&page_size=100");
    let search = format!("{base}/api/v1/vms?q={needle}&page_size=100");
    let page_url = page.clone();
    row(
        "GET /vms?state=running&page_size=100, 1 conn",
        &load(1, seconds, move |_| page_url.clone()).await,
    );
    let page_url = page.clone();
    row(
        "GET /vms?state=running&page_size=100, 8 conns",
        &load(8, seconds, move |_| page_url.clone()).await,
    );
    let search_url = search.clone();
    row(
        "GET /vms?q=…&page_size=100, 1 conn",
        &load(1, seconds, move |_| search_url.clone()).await,
    );
    let search_url = search.clone();
    row(
        "GET /vms?q=…&page_size=100, 8 conns",
        &load(8, seconds, move |_| search_url.clone()).await,
    );
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

    // Where the whole list's time goes: one page of 1,000 through the gateway, and the same
    // page straight from inventory over gRPC.
    let thousand = format!("{base}/api/v1/vms?page_size=1000");
    row(
        "GET /vms?page_size=1000, 1 conn",
        &load(1, seconds, move |_| thousand.clone()).await,
    );
    let mut grpc = match aetherv_proto::inventory::v1::inventory_client::InventoryClient::connect(
        inventory_url.clone(),
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

    for gzip in [false, true] {
        let mut runs = Vec::new();
        let mut size = 0;
        for _ in 0..5 {
            let start = Instant::now();
            let (status, bytes) = fetch(&http, &format!("{base}/api/v1/vms?all=true"), gzip).await;
            runs.push(start.elapsed());
            size = bytes;
            assert_eq!(status, 200, "the whole list answered {status}");
        }
        runs.sort();
        println!(
            "GET /vms?all=true ({:<8}) {total} VMs            p50 {:>10}  min {:>10}  ({:.1} MB on the wire)",
            if gzip { "gzip" } else { "identity" },
            ms(runs[2]),
            ms(runs[0]),
            size as f64 / 1e6
        );
    }
    println!(
        "\npeak resident memory of this process (sim + remote-tasks + inventory + gateway + load): {:.0} MB",
        peak_rss_mb()
    );
}
