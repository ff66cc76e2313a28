//! 1,000 power jobs across 200 simulated hosts with 200 ms of latency per operation on the
//! hosts — a bench binary that prints figures (`cargo bench -p aetherv-jobs --bench
//! power_jobs`), not a test.
//!
//! Everything runs in this process over its real protocols: the simulated fleet (WinRM
//! with NTLM and message encryption on 127.0.10.1–200, every operation delayed 200 ms),
//! remote-tasks, inventory and jobs on loopback gRPC. Each VM gets one power job whose
//! action its state allows (start, turn off or resume), submitted by 64 concurrent
//! clients. Measured per run:
//!
//! - time to drain: from the first Submit until the 1,000th job has finished, as seen by a
//!   `Watch` of all jobs;
//! - Submit latency p50/p99 (validation, pre-checks against inventory, queueing);
//! - peak resident memory of the process (fleet, remote-tasks, inventory and jobs
//!   together) and what the run added to it.
//!
//! remote-tasks runs with limits sized for the load (1,000 operations in flight
//! globally, the default 4 per host); with its default global limit of 64, 1,000
//! operations of 200 ms cannot take less than about 3.2 s. Figures of several runs are
//! printed with their median; `RUNS` sets the number (default 3).

#[path = "../tests/support/suite.rs"]
#[allow(dead_code)]
mod suite;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aetherv_hvsim::SimFleet;
use aetherv_proto::inventory::v1 as inv;
use aetherv_proto::inventory::v1::inventory_client::InventoryClient;
use aetherv_proto::jobs::v1 as pb;
use aetherv_proto::jobs::v1::job_event::Event as Kind;
use aetherv_proto::jobs::v1::jobs_client::JobsClient;
use aetherv_proto::remotetasks::v1 as rt;
use aetherv_proto::remotetasks::v1::remote_tasks_client::RemoteTasksClient;
use tokio::sync::Semaphore;

const HOSTS: u32 = 200;
const VMS_PER_HOST: u32 = 5;
const LATENCY: Duration = Duration::from_millis(200);
const SUBMITTERS: usize = 64;

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

struct Figures {
    drain: Duration,
    submit_p50: Duration,
    submit_p99: Duration,
    succeeded: usize,
}

/// Every VM of the fleet with the power job its state allows.
async fn work(
    inventory: &InventoryClient<tonic::transport::Channel>,
) -> Vec<(String, String, pb::JobType)> {
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = inventory
            .clone()
            .list_vms(inv::ListVmsRequest {
                page: Some(aetherv_proto::common::v1::PageRequest {
                    page_size: 1000,
                    page_token: token.clone(),
                }),
                ..inv::ListVmsRequest::default()
            })
            .await;
        let page = match page {
            Ok(page) => page.into_inner(),
            Err(status) => panic!("ListVms: {status:?}"),
        };
        for vm in &page.vms {
            let job_type = match inv::VmState::try_from(vm.state) {
                Ok(inv::VmState::Running) => pb::JobType::StopVm,
                Ok(inv::VmState::Paused) => pb::JobType::ResumeVm,
                _ => pb::JobType::StartVm,
            };
            all.push((vm.host.clone(), vm.id.clone(), job_type));
        }
        token = page.page.map(|p| p.next_page_token).unwrap_or_default();
        if token.is_empty() {
            return all;
        }
    }
}

/// What remote-tasks alone does with the same load: 1,000 `Run vm.power` sent at once, no jobs service, no inventory refresh. Returns (drain, p99 of a run).
async fn remote_tasks_alone(
    fleet: &SimFleet,
    remote: &RemoteTasksClient<tonic::transport::Channel>,
) -> (Duration, Duration) {
    let mut work = Vec::new();
    for host in fleet.hosts() {
        for vm in host.vms() {
            let action = match vm.state {
                aetherv_hyperv::VmState::Running => "stop",
                aetherv_hyperv::VmState::Paused => "resume",
                _ => "start",
            };
            work.push((host.name().to_owned(), vm.id.to_string(), action));
        }
    }
    // All at once, as the jobs service runs them (remote-tasks queues and limits them).
    let gate = Arc::new(Semaphore::new(work.len()));
    let started = Instant::now();
    let mut runs = Vec::new();
    for (host, vm, action) in work {
        let remote = remote.clone();
        let gate = gate.clone();
        runs.push(tokio::spawn(async move {
            let _permit = gate.acquire().await;
            let begun = Instant::now();
            let request = rt::RunRequest {
                host,
                operation: "vm.power".into(),
                params_json: serde_json::json!({ "vm_id": vm, "action": action }).to_string(),
                category: rt::Category::Control as i32,
                timeout: None,
                correlation_id: String::new(),
            };
            let mut stream = match remote.clone().run(request).await {
                Ok(stream) => stream.into_inner(),
                Err(status) => panic!("Run: {status:?}"),
            };
            loop {
                match stream.message().await {
                    Ok(Some(event)) => {
                        if let Some(rt::run_event::Event::Result(result)) = event.event {
                            assert!(result.ok, "{:?}", result.error);
                            break;
                        }
                    }
                    other => panic!("run ended without a result: {other:?}"),
                }
            }
            begun.elapsed()
        }));
    }
    let mut latencies = Vec::new();
    for run in runs {
        match run.await {
            Ok(latency) => latencies.push(latency),
            Err(error) => panic!("{error}"),
        }
    }
    latencies.sort();
    (started.elapsed(), percentile(&latencies, 0.99))
}

/// Inventory operations remote-tasks has completed (the refreshes jobs asked for).
async fn collects(remote: &RemoteTasksClient<tonic::transport::Channel>) -> u64 {
    match remote.clone().metrics(rt::MetricsRequest {}).await {
        Ok(metrics) => metrics
            .into_inner()
            .categories
            .iter()
            .find(|c| c.category == rt::Category::Inventory as i32)
            .map_or(0, |c| c.completed),
        Err(status) => panic!("Metrics: {status:?}"),
    }
}

async fn run_once(
    jobs: &JobsClient<tonic::transport::Channel>,
    inventory: &InventoryClient<tonic::transport::Channel>,
) -> Figures {
    let work = work(inventory).await;
    assert_eq!(work.len(), (HOSTS * VMS_PER_HOST) as usize);
    let mut watch = match jobs.clone().watch(pb::WatchJobsRequest::default()).await {
        Ok(stream) => stream.into_inner(),
        Err(status) => panic!("Watch: {status:?}"),
    };
    // Skip the snapshot of earlier runs' jobs.
    loop {
        match watch.message().await {
            Ok(Some(event)) if matches!(event.event, Some(Kind::Synced(_))) => break,
            Ok(Some(_)) => {}
            other => panic!("watch ended: {other:?}"),
        }
    }
    let expected = work.len();
    let counter = tokio::spawn(async move {
        let mut finished = 0usize;
        let mut succeeded = 0usize;
        while finished < expected {
            match watch.message().await {
                Ok(Some(event)) => {
                    if let Some(Kind::StateChanged(change)) = event.event {
                        let terminal = [
                            pb::JobState::Succeeded,
                            pb::JobState::Failed,
                            pb::JobState::Cancelled,
                        ]
                        .map(|s| s as i32);
                        if terminal.contains(&change.state) {
                            finished += 1;
                            if change.state == pb::JobState::Succeeded as i32 {
                                succeeded += 1;
                            }
                        }
                    }
                }
                other => panic!("watch ended after {finished} jobs: {other:?}"),
            }
        }
        (Instant::now(), succeeded)
    });
    let gate = Arc::new(Semaphore::new(SUBMITTERS));
    let started = Instant::now();
    let mut submits = Vec::with_capacity(work.len());
    for (host, vm, job_type) in work {
        let jobs = jobs.clone();
        let gate = gate.clone();
        submits.push(tokio::spawn(async move {
            let _permit = gate.acquire().await;
            let spec = serde_json::json!({ "host": host, "vm_id": vm }).to_string();
            let begun = Instant::now();
            let answer = jobs
                .clone()
                .submit(pb::SubmitRequest {
                    r#type: job_type as i32,
                    spec_json: spec,
                    request_id: String::new(),
                })
                .await;
            if let Err(status) = answer {
                panic!("Submit: {status:?}");
            }
            begun.elapsed()
        }));
    }
    let mut latencies = Vec::with_capacity(submits.len());
    for submit in submits {
        match submit.await {
            Ok(latency) => latencies.push(latency),
            Err(error) => panic!("submitter: {error}"),
        }
    }
    let (done, succeeded) = match counter.await {
        Ok(done) => done,
        Err(error) => panic!("watcher: {error}"),
    };
    latencies.sort();
    Figures {
        drain: done - started,
        submit_p50: percentile(&latencies, 0.50),
        submit_p99: percentile(&latencies, 0.99),
        succeeded,
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let baseline = rss_kib("VmRSS:");
    let fleet = match SimFleet::builder()
        .hosts(HOSTS)
        .vms_per_host(VMS_PER_HOST)
        .clusters(0)
        .seed(5)
        .time_scale(0.01)
        .user(suite::USERNAME, suite::PASSWORD)
        .start()
        .await
    {
        Ok(fleet) => fleet,
        Err(error) => panic!("simulated fleet: {error}"),
    };
    for host in fleet.hosts() {
        host.set_latency(LATENCY);
    }
    let hosts = fleet
        .hosts()
        .iter()
        .filter_map(|h| {
            Some(aetherv_remote_tasks::HostEntry::at(
                h.name(),
                &h.http_endpoint()?,
            ))
        })
        .collect();
    let mut remote_config =
        aetherv_remote_tasks::Config::for_testing(hosts, suite::USERNAME, suite::PASSWORD);
    remote_config.limits.global_in_flight = 1000;
    remote_config.limits.control.in_flight = 1000;
    remote_config.limits.inventory.in_flight = 400;
    let remote_listener = suite::bind().await;
    let remote_at = remote_listener.local_addr().ok();
    let Some(remote_at) = remote_at else {
        panic!("no address")
    };
    let remote = tokio::spawn(aetherv_remote_tasks::serve(
        remote_config,
        remote_listener,
        std::future::pending(),
    ));
    let mut inventory_config =
        aetherv_inventory::Config::for_testing(&format!("http://{remote_at}"));
    inventory_config.refresh_interval = Duration::from_secs(600);
    inventory_config.refresh_concurrency = 200;
    let inventory = suite::inventory_with(inventory_config).await;
    let jobs_config = aetherv_jobs::Config::for_testing(
        &format!("http://{remote_at}"),
        &format!("http://{}", inventory.address),
    );
    let jobs = suite::jobs(jobs_config, suite::bind().await).await;
    let inventory_client = InventoryClient::new(suite::channel(inventory.address));
    let jobs_client = JobsClient::new(suite::channel(jobs.address));
    // Wait until inventory holds every VM.
    let cold = Instant::now();
    loop {
        let summary = inventory_client
            .clone()
            .get_summary(inv::GetSummaryRequest {})
            .await;
        if let Ok(summary) = summary
            && summary
                .get_ref()
                .refresh
                .as_ref()
                .is_some_and(|r| r.initial_refresh_done)
            && summary.get_ref().vms_total == HOSTS * VMS_PER_HOST
        {
            break;
        }
        assert!(
            cold.elapsed() < Duration::from_secs(120),
            "inventory did not converge"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ready = rss_kib("VmRSS:");
    println!(
        "power_jobs: {HOSTS} hosts, {} VMs, {} ms per operation on the hosts, {SUBMITTERS} concurrent submitters",
        HOSTS * VMS_PER_HOST,
        LATENCY.as_millis()
    );
    println!(
        "  resident memory: {} MiB before the fleet, {} MiB with fleet + services ready",
        baseline / 1024,
        ready / 1024
    );
    let remote_client = RemoteTasksClient::new(suite::channel(remote_at));
    let mut drains = Vec::new();
    let mut p99s = Vec::new();
    let mut p50s = Vec::new();
    let mut bases = Vec::new();
    for run in 1..=runs {
        let (base, base_p99) = remote_tasks_alone(&fleet, &remote_client).await;
        println!(
            "  run {run}: remote-tasks alone (1000 Run vm.power, no jobs, no refresh): {:.2} s, run p99 {:.0} ms",
            base.as_secs_f64(),
            base_p99.as_secs_f64() * 1000.0
        );
        bases.push(base.as_secs_f64());
        // Let inventory see the new states before the jobs' pre-checks read them.
        for host in fleet.hosts() {
            let _ = inventory_client
                .clone()
                .refresh_host(inv::RefreshHostRequest {
                    host: host.name().to_owned(),
                })
                .await;
        }
        let collected = collects(&remote_client).await;
        let figures = run_once(&jobs_client, &inventory_client).await;
        let refreshes = collects(&remote_client).await.saturating_sub(collected);
        println!(
            "  run {run}: jobs: drain {:.2} s ({refreshes} inventory refreshes of hosts), submit p50 {:.1} ms p99 {:.1} ms, {} of 1000 succeeded, peak RSS {} MiB",
            figures.drain.as_secs_f64(),
            figures.submit_p50.as_secs_f64() * 1000.0,
            figures.submit_p99.as_secs_f64() * 1000.0,
            figures.succeeded,
            rss_kib("VmHWM:") / 1024
        );
        drains.push(figures.drain.as_secs_f64());
        p50s.push(figures.submit_p50.as_secs_f64() * 1000.0);
        p99s.push(figures.submit_p99.as_secs_f64() * 1000.0);
    }
    println!(
        "  median of {runs}: jobs drain {:.2} s (target ≤ 3 s; remote-tasks alone {:.2} s), submit p50 {:.1} ms, p99 {:.1} ms; peak RSS {} MiB (after ready: +{} MiB)",
        median(drains),
        median(bases),
        median(p50s),
        median(p99s),
        rss_kib("VmHWM:") / 1024,
        rss_kib("VmHWM:").saturating_sub(ready) / 1024
    );
    jobs.stop().await;
    inventory.stop().await;
    remote.abort();
    fleet.shutdown().await;
}
