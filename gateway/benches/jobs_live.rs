//! Benchmark (not a test): 1,000 power jobs submitted through the gateway's REST API while N
//! WebSocket clients follow the `jobs` topic.
//!
//! ```text
//! cargo bench -p aetherv-gateway --bench jobs_live                      # 200 clients, 3 runs
//! cargo bench -p aetherv-gateway --bench jobs_live -- --clients 1000 --runs 3
//! ```
//!
//! Starts, in this process and over the real protocols: a simulated fleet of 200 hosts × 5
//! VMs (WinRM with NTLM and message encryption on 127.0.10.x, 200 ms of latency on every
//! operation), remote-tasks (limits sized as the jobs service's `power_jobs` bench does:
//! 1,000 operations in flight), notifications, inventory, jobs and the gateway on loopback
//! gRPC/HTTP. Then, per run: N WebSocket clients (tokio-tungstenite, one connection each)
//! subscribe to `jobs` and wait for `synced`; 64 concurrent submitters send one power
//! action per VM (`POST /api/v1/vms/{id}/start|stop|resume`, whichever the VM's state
//! allows). The simulated hosts, the services with the gateway, and the load generator
//! (clients, submitters) each run on their own 2-thread runtime, all sharing the machine's
//! cores. Printed per run, with medians:
//!
//! - time to drain: first submit until every client has seen all jobs finish (and, for
//!   comparison, until a direct gRPC `Jobs/Watch` saw them finish);
//! - REST submit latency p50/p99;
//! - fan-out delay, p50/p99/max over every (event, client) pair. A frame's `data.time` is
//!   RFC 3339 in whole seconds, too coarse for this, so two delays are measured instead:
//!   *spread*, from the moment the first client received an event id to each client's
//!   receipt, and *from creation*, from the event's `time` as the jobs service stamped it
//!   (nanoseconds, read from a direct gRPC `Jobs/Watch` in this process, same clock) to
//!   each client's receipt — the latter includes the jobs → gateway hop;
//! - peak resident memory of the process (VmHWM: fleet, services, gateway and the
//!   clients together) and what the run added to the memory the suite held when ready;
//! - CPU seconds from the first submit to the drain of the simulated hosts, of the services
//!   and gateway, and of the load generator, apart (each has its own 2-thread runtime;
//!   `/proc/self/task/*/stat` by thread name).

#[path = "jobs_live/clients.rs"]
mod clients;
#[path = "jobs_live/measure.rs"]
mod measure;
#[path = "jobs_live/stack.rs"]
mod stack;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc};

use clients::{client, creation_times, head_event_id};
use measure::{Cpu, Histogram, Shared, cpu_seconds, kib, median, percentile};
use stack::{call, http_client, raise_open_files, start_stack, work};

const LATENCY: Duration = Duration::from_millis(200);
const SUBMITTERS: usize = 64;
/// Event slots measured per run (a power job makes well under 32 events).
const SLOTS_PER_JOB: usize = 32;

/// Command-line options (`--clients`, `--runs`, `--hosts`, `--vms-per-host`, `--timeout`
/// in seconds for one run).
struct Args {
    clients: usize,
    runs: usize,
    hosts: u32,
    vms_per_host: u32,
    timeout: Duration,
}

fn args() -> Args {
    let mut parsed = Args {
        clients: 200,
        runs: 3,
        hosts: 200,
        vms_per_host: 5,
        timeout: Duration::from_secs(600),
    };
    let list: Vec<String> = std::env::args().collect();
    let mut index = 1;
    while index < list.len() {
        let value = list.get(index + 1).and_then(|v| v.parse::<u64>().ok());
        match (list[index].as_str(), value) {
            ("--clients", Some(v)) => parsed.clients = v.max(1) as usize,
            ("--runs", Some(v)) => parsed.runs = v.max(1) as usize,
            ("--hosts", Some(v)) => parsed.hosts = v.max(1) as u32,
            ("--vms-per-host", Some(v)) => parsed.vms_per_host = v.max(1) as u32,
            ("--timeout", Some(v)) => parsed.timeout = Duration::from_secs(v.max(10)),
            // cargo bench passes `--bench`; anything unknown is skipped.
            _ => {
                index += 1;
                continue;
            }
        }
        index += 2;
    }
    parsed
}

/// One run's figures (times in seconds or milliseconds as named by the printout).
struct Figures {
    drain: Option<f64>,
    service_drain: f64,
    submit: (f64, f64),
    accepted: usize,
    spread: (f64, f64, f64),
    from_created: (f64, f64, f64),
    frames_per_client: f64,
    problems: Vec<String>,
    unresolved: u64,
    outside: u64,
    connected_mib: u64,
    peak_mib: u64,
    /// CPU seconds from the first submit to the drain.
    cpu: Cpu,
}

/// One run: connect and subscribe the clients, submit every VM's power action through
/// REST, wait until every client has seen every job finish.
async fn run_once(args: &Args, base: &str, jobs: &str, load: &tokio::runtime::Handle) -> Figures {
    let http = http_client();
    let work = Arc::new(work(&http, base).await);
    let slots = work.len() * SLOTS_PER_JOB;
    let shared = Arc::new(Shared {
        base: head_event_id(jobs).await,
        first: (0..slots).map(|_| AtomicU64::new(0)).collect(),
        created: (0..slots).map(|_| AtomicU64::new(0)).collect(),
        expected: AtomicUsize::new(work.len()),
        spread: Histogram::new(),
        from_created: Histogram::new(),
        outside: AtomicU64::new(0),
    });
    let deadline = Instant::now() + args.timeout;
    let (ready, mut readies) = mpsc::channel(args.clients + 1);
    let watcher = load.spawn(creation_times(
        jobs.to_string(),
        shared.clone(),
        ready.clone(),
        deadline,
    ));
    let url = format!("{}/ws", base.replacen("http://", "ws://", 1));
    // At most 64 handshakes at once (well inside the listen backlog).
    let connecting = Arc::new(Semaphore::new(64));
    let mut clients = Vec::with_capacity(args.clients);
    for _ in 0..args.clients {
        let (url, shared, ready) = (url.clone(), shared.clone(), ready.clone());
        let connecting = connecting.clone();
        clients.push(load.spawn(async move {
            let permit = connecting.acquire_owned().await.ok();
            client(url, shared, ready, deadline, permit).await
        }));
    }
    drop(ready);
    for _ in 0..=args.clients {
        match readies.recv().await {
            Some(Ok(())) => {}
            Some(Err(error)) => panic!("a client did not subscribe: {error}"),
            None => panic!("clients ended before subscribing"),
        }
    }
    let connected_mib = kib("VmRSS:") / 1024;

    let cpu_before = cpu_seconds();
    // Submit: 64 workers, each with its own connection, share the work list.
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let submitters: Vec<_> = (0..SUBMITTERS)
        .map(|_| {
            let (work, next, base) = (work.clone(), next.clone(), base.to_string());
            load.spawn(async move {
                let http = http_client();
                let mut latencies = Vec::new();
                let mut refused = Vec::new();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some((id, action)) = work.get(index) else {
                        return (latencies, refused);
                    };
                    let url = format!("{base}/api/v1/vms/{id}/{action}");
                    let begun = Instant::now();
                    let answer = call(&http, http::Method::POST, &url).await;
                    latencies.push(begun.elapsed());
                    match answer {
                        Ok((202, _)) => {}
                        Ok((status, body)) => refused.push(format!(
                            "{action} {id}: {status} {}",
                            String::from_utf8_lossy(&body[..body.len().min(200)])
                        )),
                        Err(error) => refused.push(error),
                    }
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut problems = Vec::new();
    for submitter in submitters {
        match submitter.await {
            Ok((mine, refused)) => {
                latencies.extend(mine);
                problems.extend(refused);
            }
            Err(error) => panic!("submitter: {error}"),
        }
    }
    let accepted = work.len() - problems.len();
    shared.expected.store(accepted, Ordering::Release);
    latencies.sort();

    let mut drain = Some(Duration::ZERO);
    let mut frames = 0u64;
    let mut pending = Vec::new();
    for handle in clients {
        match handle.await {
            Ok(end) => {
                frames += end.frames;
                pending.extend(end.pending);
                match (end.finished_at, end.problem) {
                    (Some(at), _) => drain = drain.map(|d| d.max(at - started)),
                    (None, problem) => {
                        drain = None;
                        problems.push(problem.unwrap_or_else(|| "client ended".into()));
                    }
                }
            }
            Err(error) => panic!("client task: {error}"),
        }
    }
    let service_drain = match watcher.await {
        Ok(Ok(at)) => (at - started).as_secs_f64(),
        Ok(Err(error)) => {
            problems.push(format!("direct Jobs/Watch: {error}"));
            f64::NAN
        }
        Err(error) => panic!("direct watch task: {error}"),
    };
    let cpu_after = cpu_seconds();
    let mut unresolved = 0;
    for (slot, at) in pending {
        match shared.created[slot].load(Ordering::Acquire) {
            0 => unresolved += 1,
            created => shared.from_created.record(at.saturating_sub(created)),
        }
    }
    Figures {
        drain: drain.map(|d| d.as_secs_f64()),
        service_drain,
        submit: (percentile(&latencies, 0.50), percentile(&latencies, 0.99)),
        accepted,
        spread: shared.spread.summary(),
        from_created: shared.from_created.summary(),
        frames_per_client: frames as f64 / args.clients as f64,
        problems,
        unresolved,
        outside: shared.outside.load(Ordering::Relaxed),
        connected_mib,
        peak_mib: kib("VmHWM:") / 1024,
        cpu: cpu_after - cpu_before,
    }
}

fn triple((p50, p99, max): (f64, f64, f64)) -> String {
    format!("p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms")
}

async fn bench(args: Args, hosts: tokio::runtime::Handle, load: tokio::runtime::Handle) {
    let before = kib("VmRSS:") / 1024;
    let (fleet, base, jobs) = start_stack(&args, &hosts).await;
    let ready = kib("VmRSS:") / 1024;
    println!(
        "jobs_live: {} hosts × {} VMs, {} ms per host operation, {} WebSocket clients on `jobs`, {SUBMITTERS} REST submitters",
        args.hosts,
        args.vms_per_host,
        LATENCY.as_millis(),
        args.clients
    );
    println!(
        "  resident memory: {before} MiB at start, {ready} MiB with fleet + services + gateway ready"
    );
    let mut all = Vec::new();
    for run in 1..=args.runs {
        let figures = run_once(&args, &base, &jobs, &load).await;
        let drain = figures
            .drain
            .map_or_else(|| "not reached".to_string(), |d| format!("{d:.2} s"));
        println!(
            "  run {run}: drain {drain} to all clients ({:.2} s as the jobs service's own Watch saw it), {} of {} accepted, submit p50 {:.1} ms p99 {:.1} ms",
            figures.service_drain,
            figures.accepted,
            args.hosts * args.vms_per_host,
            figures.submit.0,
            figures.submit.1
        );
        println!(
            "         delay first client → each client: {}; event created → each client: {}",
            triple(figures.spread),
            triple(figures.from_created)
        );
        println!(
            "         {:.0} event frames per client; RSS {} MiB with clients connected, peak {} MiB (+{} MiB over ready){}",
            figures.frames_per_client,
            figures.connected_mib,
            figures.peak_mib,
            figures.peak_mib.saturating_sub(ready),
            if figures.unresolved + figures.outside > 0 {
                format!(
                    "; {} receipts without a creation time, {} outside the run",
                    figures.unresolved, figures.outside
                )
            } else {
                String::new()
            }
        );
        println!(
            "         CPU from the first submit to the drain: simulated hosts {:.1} s, services + gateway {:.1} s, load generator (clients, submitters) {:.1} s, other {:.1} s",
            figures.cpu.hosts, figures.cpu.suite, figures.cpu.load, figures.cpu.other
        );
        for problem in figures.problems.iter().take(5) {
            println!("         problem: {problem}");
        }
        if figures.problems.len() > 5 {
            println!("         … {} problems in all", figures.problems.len());
        }
        all.push(figures);
    }
    let pick = |f: &dyn Fn(&Figures) -> f64| median(all.iter().map(f).collect());
    println!(
        "  median of {} runs, {} clients: drain {:.2} s (jobs service {:.2} s), submit p50 {:.1} ms p99 {:.1} ms; first client → each: p50 {:.1} ms p99 {:.1} ms max {:.1} ms; created → each: p50 {:.1} ms p99 {:.1} ms max {:.1} ms; peak RSS {} MiB (+{} MiB over ready)",
        args.runs,
        args.clients,
        pick(&|f| f.drain.unwrap_or(f64::INFINITY)),
        pick(&|f| f.service_drain),
        pick(&|f| f.submit.0),
        pick(&|f| f.submit.1),
        pick(&|f| f.spread.0),
        pick(&|f| f.spread.1),
        pick(&|f| f.spread.2),
        pick(&|f| f.from_created.0),
        pick(&|f| f.from_created.1),
        pick(&|f| f.from_created.2),
        kib("VmHWM:") / 1024,
        (kib("VmHWM:") / 1024).saturating_sub(ready)
    );
    println!(
        "  median CPU from the first submit to the drain: simulated hosts {:.1} s, services + gateway {:.1} s, load generator {:.1} s",
        pick(&|f| f.cpu.hosts),
        pick(&|f| f.cpu.suite),
        pick(&|f| f.cpu.load)
    );
    fleet.shutdown().await;
}

fn main() {
    let args = args();
    raise_open_files(args.clients, args.hosts);
    let runtime = |name: &str| {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        match builder
            .worker_threads(2)
            .thread_name(name)
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => panic!("tokio runtime: {error}"),
        }
    };
    // The simulated hosts, the suite (services and gateway) and the load generator
    // (clients, submitters) each on their own runtime, so their CPU time is told apart.
    let hosts = runtime("hosts");
    let suite = runtime("suite");
    let load = runtime("load");
    suite.block_on(bench(args, hosts.handle().clone(), load.handle().clone()));
    load.shutdown_background();
    hosts.shutdown_background();
    suite.shutdown_background();
}
