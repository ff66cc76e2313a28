//! The measurements of one run: when inventory became complete, request latencies (REST
//! and gRPC, sequential on one keep-alive connection), the delay from an out-of-band
//! change in the simulator to its `/ws` event, and each process's CPU time and memory.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aetherv_proto::common::v1::PageRequest;
use aetherv_proto::inventory::v1 as pb;
use aetherv_proto::inventory::v1::inventory_client::InventoryClient;
use aetherv_tests::http::HttpClient;
use aetherv_tests::procfs::{self, Usage};
use aetherv_tests::ws::WsClient;
use anyhow::{Context, bail};
use serde_json::{Value, json};
use tonic::transport::Channel;

/// Largest gRPC message accepted.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// An inventory client.
pub async fn inventory(address: SocketAddr) -> anyhow::Result<InventoryClient<Channel>> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))?
        .tcp_nodelay(true)
        .connect()
        .await?;
    Ok(InventoryClient::new(channel).max_decoding_message_size(MAX_MESSAGE))
}

/// Waits until inventory has refreshed every host once, all reachable, with `vms` VMs.
pub async fn complete(
    client: &mut InventoryClient<Channel>,
    hosts: u32,
    vms: u32,
    limit: Duration,
) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + limit;
    loop {
        let summary = client
            .get_summary(pb::GetSummaryRequest {})
            .await?
            .into_inner();
        let reachable = summary
            .hosts_by_status
            .iter()
            .find(|c| c.status == pb::HostStatus::Reachable as i32)
            .map_or(0, |c| c.count);
        let done = summary
            .refresh
            .as_ref()
            .is_some_and(|r| r.initial_refresh_done);
        if done && reachable == hosts && summary.vms_total == vms {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            bail!(
                "inventory incomplete after {limit:?}: {reachable}/{hosts} hosts reachable, {}/{vms} vms",
                summary.vms_total
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the refresh schedule has completed `cycles` cycles (the first cycle after
/// a cold start is offset by it; later ones are steady).
pub async fn cycles(
    client: &mut InventoryClient<Channel>,
    cycles: u64,
    limit: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let summary = client
            .get_summary(pb::GetSummaryRequest {})
            .await?
            .into_inner();
        let done = summary.refresh.as_ref().map_or(0, |r| r.cycles_completed);
        if done >= cycles {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {done} refresh cycles after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Latency samples of `count` sequential calls of `call`.
pub async fn latencies<F, Fut>(count: usize, mut call: F) -> anyhow::Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    // Warm the connection and the caches first.
    for _ in 0..count.min(20) {
        call().await?;
    }
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let began = Instant::now();
        call().await?;
        samples.push(began.elapsed());
    }
    Ok(samples)
}

/// `GET url` answering 200.
pub async fn get_ok(http: &HttpClient, url: &str) -> anyhow::Result<()> {
    let reply = http.get(url).await?;
    if reply.status != 200 {
        bail!("{url}: {} {}", reply.status, reply.text());
    }
    Ok(())
}

/// `GET url` with `accept-encoding: gzip`, answering 200 (the body is decoded too).
pub async fn get_gzip_ok(http: &HttpClient, url: &str) -> anyhow::Result<()> {
    let reply = http
        .send(http::Method::GET, url, &[("accept-encoding", "gzip")], b"")
        .await?;
    if reply.status != 200 {
        bail!("{url}: {} {}", reply.status, reply.text());
    }
    Ok(())
}

/// One page of 100 VMs through gRPC.
pub async fn list_vms(client: &mut InventoryClient<Channel>) -> anyhow::Result<()> {
    client
        .list_vms(pb::ListVmsRequest {
            page: Some(PageRequest {
                page_size: 100,
                page_token: String::new(),
            }),
            ..pb::ListVmsRequest::default()
        })
        .await?;
    Ok(())
}

/// Two name searches: a narrow one (the last characters of a VM's name: a handful of VMs)
/// and a broad one (its first word: a large share of the fleet); each with its match count.
pub async fn search_terms(http: &HttpClient, gateway: &str) -> anyhow::Result<[(String, u64); 2]> {
    let page = http
        .get(&format!(
            "{gateway}/api/v1/vms?page_size=1&sort=name&order=desc"
        ))
        .await?
        .json()?;
    let name = page["vms"][0]["name"]
        .as_str()
        .context("no vm")?
        .to_string();
    let narrow: String = name
        .chars()
        .rev()
        .take(6)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let broad = name.split('-').next().unwrap_or(&name).to_string();
    let mut terms = [(narrow, 0), (broad, 0)];
    for (term, matches) in &mut terms {
        let found = http
            .get(&format!("{gateway}/api/v1/vms?q={term}&page_size=100"))
            .await?
            .json()?;
        *matches = found["total_size"].as_u64().unwrap_or(0);
    }
    Ok(terms)
}

/// The delays from out-of-band changes (the notes of `changes` VMs on different hosts,
/// changed at once through the simulator's control API) to their `vm_upserted` events on
/// `/ws`. With `refresh`, inventory is asked to refresh each host right after its change
/// (the pipeline's own delay, without waiting for the schedule).
pub async fn ws_delays(
    http: &HttpClient,
    gateway: &str,
    control: &str,
    inventory: &mut InventoryClient<Channel>,
    changes: usize,
    refresh: bool,
    limit: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let ws_url = format!("{}/ws", gateway.replacen("http://", "ws://", 1));
    let mut ws = WsClient::connect(&ws_url).await?;
    ws.subscribe("inventory", None).await?;
    let fleet = http.get(&format!("{control}/fleet")).await?.json()?;
    let hosts: Vec<String> = fleet["hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["name"].as_str().map(str::to_string))
        .collect();
    let step = (hosts.len() / changes.max(1)).max(1);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let mut pending: HashMap<String, Instant> = HashMap::new();
    for (i, host) in hosts.iter().step_by(step).take(changes).enumerate() {
        let vms = http
            .get(&format!("{control}/hosts/{host}/vms"))
            .await?
            .json()?;
        let vm = vms
            .as_array()
            .and_then(|list| list.first())
            .or_else(|| vms["vms"].as_array().and_then(|list| list.first()))
            .and_then(|vm| vm["id"].as_str())
            .context("a host without VMs")?
            .to_lowercase();
        let notes = format!("bench {stamp} {i}");
        let changed = http
            .patch_json(
                &format!("{control}/hosts/{host}/vms/{vm}"),
                &json!({"notes": notes}),
            )
            .await?;
        if changed.status != 200 {
            bail!(
                "changing {vm} on {host}: {} {}",
                changed.status,
                changed.text()
            );
        }
        pending.insert(notes, Instant::now());
        if refresh {
            inventory
                .refresh_host(pb::RefreshHostRequest { host: host.clone() })
                .await?;
        }
    }
    let mut delays = Vec::new();
    let deadline = Instant::now() + limit;
    while !pending.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = ws.next(left).await?.with_context(|| {
            format!(
                "{} changes did not arrive on /ws within {limit:?}",
                pending.len()
            )
        })?;
        if frame["kind"] == "vm_upserted"
            && let Some(notes) = frame["data"]["notes"].as_str()
            && let Some(at) = pending.remove(notes)
        {
            delays.push(at.elapsed());
        }
    }
    ws.close().await;
    Ok(delays)
}

/// CPU time and memory of each process, by name.
pub fn usage(processes: &[(String, u32)]) -> Vec<(String, Usage)> {
    processes
        .iter()
        .filter_map(|(name, pid)| procfs::sample(*pid).ok().map(|u| (name.clone(), u)))
        .collect()
}

/// The children of a ready file, plus the launcher: (name, pid).
pub fn processes(ready: &Value, launcher: u32) -> Vec<(String, u32)> {
    let mut list: Vec<(String, u32)> = ready["processes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((
                p["name"].as_str()?.to_string(),
                u32::try_from(p["pid"].as_u64()?).ok()?,
            ))
        })
        .collect();
    list.push(("launcher".to_string(), launcher));
    list
}
