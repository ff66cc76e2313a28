//! `fleet-bench`: the suite as separate processes — the release `aetherv up` with a
//! simulated fleet — measured end to end, on this machine, with the load generator on it
//! too. Prints, per run and as medians over the runs:
//!
//! - time from start to a complete inventory (every host refreshed and reachable, every VM
//!   known), with the simulator's and the services' start-up apart;
//! - CPU seconds and peak resident memory (VmHWM) of each process;
//! - p50/p99 of `GET /api/v1/vms` (a page of 100; a filtered, sorted page of 100; a name
//!   search) and of gRPC `ListVms` (a page of 100), sequential on one connection;
//! - the delay from an out-of-band change in the simulator to its `/ws` event, as the
//!   host watches (`inventory.watch`) find it — or, with `--no-host-watch`, the refresh
//!   schedule — and with an immediate `RefreshHost`.
//!
//! ```text
//! cargo run --release -p aetherv-tests --bin fleet-bench -- --hosts 500 --vms-per-host 25 --runs 3
//! ```
//!
//! It builds the release `aetherv` first (`--no-build` skips that). Timings belong here,
//! never in tests.

mod launch;
mod measure;
mod report;

use std::path::PathBuf;
use std::time::Duration;

use aetherv_tests::http::HttpClient;
use anyhow::Context;
use clap::Parser;

use report::{Percentiles, Run};

/// Measures the suite on a simulated fleet.
#[derive(Debug, Parser)]
#[command(name = "fleet-bench")]
struct Args {
    /// Simulated hosts.
    #[arg(long, default_value_t = 500)]
    hosts: u32,
    /// VMs per host.
    #[arg(long, default_value_t = 25)]
    vms_per_host: u32,
    /// Failover clusters (default: one per 50 hosts).
    #[arg(long)]
    clusters: Option<u32>,
    /// Runs; the summary shows medians.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Requests per latency figure.
    #[arg(long, default_value_t = 500)]
    samples: usize,
    /// Out-of-band changes per /ws delay figure.
    #[arg(long, default_value_t = 20)]
    changes: usize,
    /// inventory.refresh_interval.
    #[arg(long, default_value = "30s")]
    refresh_interval: String,
    /// telemetry.filter of every service.
    #[arg(long, default_value = "warn")]
    log_filter: String,
    /// Turn inventory's host watches off (inventory.watch.enabled = false): changes are
    /// then found by the refresh schedule only.
    #[arg(long)]
    no_host_watch: bool,
    /// The aetherv binary (default: this workspace's release build).
    #[arg(long)]
    aetherv: Option<PathBuf>,
    /// Do not build the release aetherv first.
    #[arg(long)]
    no_build: bool,
}

async fn run_once(
    args: &Args,
    aetherv: &std::path::Path,
    fleet: &launch::Fleet,
) -> anyhow::Result<Run> {
    let mut suite = launch::Suite::start(aetherv, fleet)?;
    let limit = Duration::from_secs(900);
    let (ready, ready_at) = suite.ready(limit).await?;
    let processes = measure::processes(&ready, suite.pid());
    let address = |name: &str| -> anyhow::Result<std::net::SocketAddr> {
        ready["processes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == name)
            .and_then(|p| p["address"].as_str())
            .and_then(|a| a.parse().ok())
            .with_context(|| format!("no {name} in the ready file"))
    };
    let gateway = ready["gateway"].as_str().context("no gateway")?.to_string();
    let control = ready["simulator"]["control"]
        .as_str()
        .context("no simulator")?
        .to_string();
    let mut inventory = measure::inventory(address("inventory")?).await?;
    let vms = args.hosts * args.vms_per_host;
    let complete_at = measure::complete(&mut inventory, args.hosts, vms, limit).await?;
    let sim_ready = suite
        .sim_ready
        .lock()
        .ok()
        .and_then(|at| *at)
        .unwrap_or(ready_at);
    let at_complete = measure::usage(&processes);
    println!(
        "  inventory complete after {:.1} s; measuring latencies…",
        (complete_at - suite.started).as_secs_f64()
    );

    let http = HttpClient::new();
    let page = format!("{gateway}/api/v1/vms?page_size=100");
    let rest_page = measure::latencies(args.samples, || measure::get_ok(&http, &page)).await?;
    let filtered =
        format!("{gateway}/api/v1/vms?page_size=100&state=running&sort=memory_assigned&order=desc");
    let rest_filtered =
        measure::latencies(args.samples, || measure::get_ok(&http, &filtered)).await?;
    let [narrow, broad] = measure::search_terms(&http, &gateway).await?;
    let search = format!("{gateway}/api/v1/vms?q={}&page_size=100", narrow.0);
    let rest_search = measure::latencies(args.samples, || measure::get_ok(&http, &search)).await?;
    let search = format!("{gateway}/api/v1/vms?q={}&page_size=100", broad.0);
    let rest_broad = measure::latencies(args.samples, || measure::get_ok(&http, &search)).await?;
    let all = format!("{gateway}/api/v1/vms?all=true");
    let rest_all = measure::latencies((args.samples / 25).max(10), || {
        measure::get_gzip_ok(&http, &all)
    })
    .await?;
    let grpc = inventory.clone();
    let grpc_page = measure::latencies(args.samples, || {
        let mut client = grpc.clone();
        async move { measure::list_vms(&mut client).await }
    })
    .await?;
    let interval = humantime::parse_duration(&args.refresh_interval)?;
    let wait = interval * 3 + Duration::from_secs(30);
    println!("  waiting for a steady refresh schedule (two complete cycles)…");
    measure::cycles(&mut inventory, 2, wait).await?;
    println!("  measuring out-of-band changes to /ws…");
    let scheduled = measure::ws_delays(
        &http,
        &gateway,
        &control,
        &mut inventory,
        args.changes,
        false,
        wait,
    )
    .await?;
    let refreshed = measure::ws_delays(
        &http,
        &gateway,
        &control,
        &mut inventory,
        args.changes,
        true,
        wait,
    )
    .await?;
    let at_end = measure::usage(&processes);
    let started = suite.started;
    suite.stop().await?;
    Ok(Run {
        host_watch: fleet.host_watch,
        sim_ready: sim_ready.saturating_duration_since(started),
        services_ready: ready_at.saturating_duration_since(started),
        complete: complete_at.saturating_duration_since(started),
        at_complete,
        at_end,
        rest_page: Percentiles::of(rest_page),
        rest_filtered: Percentiles::of(rest_filtered),
        rest_search: Percentiles::of(rest_search),
        rest_broad: Percentiles::of(rest_broad),
        rest_all: Percentiles::of(rest_all),
        search: narrow,
        broad,
        grpc_page: Percentiles::of(grpc_page),
        ws_scheduled: Percentiles::of(scheduled),
        ws_refreshed: Percentiles::of(refreshed),
    })
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match bench(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fleet-bench: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn bench(args: Args) -> anyhow::Result<()> {
    if !args.no_build && args.aetherv.is_none() {
        launch::build().await?;
    }
    let aetherv = args.aetherv.clone().unwrap_or_else(launch::release_binary);
    anyhow::ensure!(
        aetherv.is_file(),
        "{} is missing: build it (cargo build --release -p aetherv-cli)",
        aetherv.display()
    );
    let fleet = launch::Fleet {
        hosts: args.hosts,
        vms_per_host: args.vms_per_host,
        clusters: args.clusters.unwrap_or((args.hosts / 50).max(1)),
        refresh_interval: args.refresh_interval.clone(),
        log_filter: args.log_filter.clone(),
        host_watch: !args.no_host_watch,
    };
    println!("{}", report::machine());
    println!(
        "fleet: {} hosts × {} VMs = {} VMs, {} clusters; refresh interval {}; host watches {}; {} samples per latency; {} changes per /ws figure",
        fleet.hosts,
        fleet.vms_per_host,
        fleet.hosts * fleet.vms_per_host,
        fleet.clusters,
        fleet.refresh_interval,
        if fleet.host_watch { "on" } else { "off" },
        args.samples,
        args.changes
    );
    let mut runs = Vec::new();
    for number in 1..=args.runs {
        println!("run {number}/{}: starting {}", args.runs, aetherv.display());
        let run = run_once(&args, &aetherv, &fleet).await?;
        println!("{}", run.render(&format!("run {number}")));
        runs.push(run);
    }
    if runs.len() > 1 {
        println!("{}", report::medians(&runs));
    }
    Ok(())
}
