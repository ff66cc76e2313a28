//! The suite in this process (simulated fleet, remote-tasks, notifications, inventory,
//! jobs, gateway — each on its own loopback port) and the HTTP calls the bench makes.

use std::time::{Duration, Instant};

use aetherv_hvsim::SimFleet;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::{Args, LATENCY};

/// Raises the soft open-file limit to what the clients need (both ends of every WebSocket
/// are in this process), or says how far it falls short.
pub fn raise_open_files(clients: usize, hosts: u32) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let need = (clients as u64) * 2 + u64::from(hosts) * 40 + 4096;
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current.unwrap_or(u64::MAX);
    if current >= need {
        return;
    }
    let wanted = limit.maximum.map_or(need, |max| max.min(need));
    let raised = rustix::process::Rlimit {
        current: Some(wanted),
        maximum: limit.maximum,
    };
    if setrlimit(Resource::Nofile, raised).is_err() || wanted < need {
        println!(
            "warning: open-file limit {current} (hard {:?}) is below the ~{need} this run needs; run `ulimit -n {need}` first",
            limit.maximum
        );
    }
}

async fn bind() -> (TcpListener, String) {
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(error) => panic!("bind: {error}"),
    };
    match listener.local_addr() {
        Ok(addr) => (listener, format!("http://{addr}")),
        Err(error) => panic!("address: {error}"),
    }
}

/// The suite, started in this process: (fleet, gateway URL, jobs URL).
/// The suite, started in this process: (fleet, gateway URL, jobs URL). The simulated
/// hosts run on `hosts` (their own runtime, so their CPU time is counted apart).
pub async fn start_stack(
    args: &Args,
    hosts: &tokio::runtime::Handle,
) -> (SimFleet, String, String) {
    let builder = SimFleet::builder()
        .hosts(args.hosts)
        .vms_per_host(args.vms_per_host)
        .clusters(0)
        .seed(5)
        .time_scale(0.01);
    let fleet = match hosts.spawn(builder.start()).await {
        Ok(Ok(fleet)) => fleet,
        Ok(Err(error)) => panic!("simulated fleet: {error}"),
        Err(error) => panic!("simulated fleet task: {error}"),
    };
    for host in fleet.hosts() {
        host.set_latency(LATENCY);
    }
    let hosts = fleet
        .hosts()
        .iter()
        .filter_map(|h| {
            h.http_endpoint()
                .map(|e| aetherv_remote_tasks::HostEntry::at(h.name(), &e))
        })
        .collect();
    let password = fleet.password();
    let mut remote =
        aetherv_remote_tasks::Config::for_testing(hosts, fleet.username(), password.expose());
    // As the power_jobs bench: the default global limit of 64 alone would make 1,000
    // operations of 200 ms last at least 3.2 s.
    remote.limits.global_in_flight = 1000;
    remote.limits.control.in_flight = 1000;
    remote.limits.inventory.in_flight = 400;
    let (listener, remote_url) = bind().await;
    tokio::spawn(aetherv_remote_tasks::serve(
        remote,
        listener,
        std::future::pending::<()>(),
    ));
    let (listener, notifications_url) = bind().await;
    tokio::spawn(aetherv_notifications::serve(
        aetherv_notifications::Config::for_testing(),
        listener,
        std::future::pending::<()>(),
    ));
    let mut inventory = aetherv_inventory::Config::for_testing(&remote_url);
    inventory.refresh_interval = Duration::from_secs(600);
    inventory.refresh_concurrency = 200;
    inventory.notifications.endpoint = notifications_url.clone();
    let (listener, inventory_url) = bind().await;
    tokio::spawn(aetherv_inventory::serve(
        inventory,
        listener,
        std::future::pending::<()>(),
    ));
    let mut jobs = aetherv_jobs::Config::for_testing(&remote_url, &inventory_url);
    jobs.notifications.endpoint = notifications_url.clone();
    let (listener, jobs_url) = bind().await;
    tokio::spawn(aetherv_jobs::serve(
        jobs,
        listener,
        std::future::pending::<()>(),
    ));
    let mut gateway = aetherv_gateway::Config::for_testing(&inventory_url, &remote_url);
    gateway.jobs.endpoint = jobs_url.clone();
    gateway.notifications.endpoint = notifications_url;
    let (listener, base) = bind().await;
    tokio::spawn(aetherv_gateway::serve(
        gateway,
        listener,
        std::future::pending::<()>(),
    ));

    let http = http_client();
    let total = u64::from(args.hosts) * u64::from(args.vms_per_host);
    let started = Instant::now();
    loop {
        let ready = matches!(
            call(&http, http::Method::GET, &format!("{base}/readyz")).await,
            Ok((200, _))
        );
        let converged = get_json(&http, &format!("{base}/api/v1/inventory"))
            .await
            .is_some_and(|body| {
                body["refresh"]["initial_refresh_done"] == true
                    && body["counts"]["vms"].as_u64() == Some(total)
                    && body["counts"]["hosts_by_status"]["reachable"] == body["counts"]["hosts"]
            });
        if ready && converged {
            break;
        }
        if started.elapsed() > Duration::from_secs(300) {
            panic!("the suite was not ready with {total} VMs within 5 minutes");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (fleet, base, jobs_url)
}

pub type HttpClient = Client<HttpConnector, Empty<Bytes>>;

pub fn http_client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// One request with an empty body: (status, body).
pub async fn call(
    client: &HttpClient,
    method: http::Method,
    url: &str,
) -> Result<(u16, Bytes), String> {
    let request = Request::builder()
        .method(method)
        .uri(url)
        .body(Empty::new())
        .map_err(|e| format!("{url}: {e}"))?;
    let response = client
        .request(request)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .to_bytes();
    Ok((status, body))
}

async fn get_json(client: &HttpClient, url: &str) -> Option<Value> {
    match call(client, http::Method::GET, url).await {
        Ok((200, body)) => serde_json::from_slice(&body).ok(),
        _ => None,
    }
}

/// Every VM with the power action its state allows, read through REST; hosts with a VM in
/// a transitional state are refreshed first.
pub async fn work(client: &HttpClient, base: &str) -> Vec<(String, &'static str)> {
    for _ in 0..20 {
        let Some(page) = get_json(client, &format!("{base}/api/v1/vms?all=true")).await else {
            panic!("GET /api/v1/vms?all=true failed");
        };
        let mut work = Vec::new();
        let mut unsettled = Vec::new();
        for vm in page["vms"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let id = vm["id"].as_str().unwrap_or_default().to_string();
            let action = match vm["state"].as_str().unwrap_or_default() {
                "running" => "stop",
                "paused" => "resume",
                "off" | "saved" => "start",
                _ => {
                    unsettled.push(vm["host"].as_str().unwrap_or_default().to_string());
                    continue;
                }
            };
            work.push((id, action));
        }
        if unsettled.is_empty() {
            return work;
        }
        unsettled.sort();
        unsettled.dedup();
        for host in unsettled {
            let url = format!("{base}/api/v1/hosts/{host}/refresh");
            let _ = call(client, http::Method::POST, &url).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("VMs stayed in transitional states");
}
