//! Benchmark of the WinRM `HostAgent` against one simulated host with 25 VMs, over NTLM
//! with message encryption: `inventory.collect` operations per second and p50/p99
//! latency with a reused connection and with a fresh connection per operation, and the
//! CPU time per operation on each side. The simulator runs as its own process so that
//! its CPU time (from /proc/<pid>/stat) is apart from the client's (/proc/self/stat).
//!
//! Run: `cargo build --release -p aetherv-hvsim && cargo bench -p aetherv-hyperv --bench winrm_agent`
//! (`AETHERV_HVSIM_BIN` names another simulator binary; `AETHERV_BENCH_OPS` the number of
//! operations per measurement, default 300).

use std::error::Error;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aetherv_hyperv::{
    AuthKind, CallOptions, EndpointSettings, HostAgentExt, HostTarget, Secret, Timeouts,
    WinrmAgentOptions, WinrmHostAgent,
};
use serde_json::Value;

type Res<T> = Result<T, Box<dyn Error>>;

const PASSWORD: &str = "bench-Password-1";
const VMS: u32 = 25;

/// The simulator process; killed when dropped.
struct SimProcess {
    child: Child,
    endpoint: String,
    host: String,
    username: String,
    _state: tempfile::TempDir,
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn simulator_binary() -> Res<PathBuf> {
    if let Some(path) = std::env::var_os("AETHERV_HVSIM_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or("cannot find the target folder")?;
    let path = profile_dir.join("aetherv-hvsim");
    if !path.is_file() {
        return Err(format!(
            "{} is missing: run `cargo build --release -p aetherv-hvsim` first",
            path.display()
        )
        .into());
    }
    Ok(path)
}

fn start_simulator() -> Res<SimProcess> {
    let state = tempfile::tempdir()?;
    let mut child = Command::new(simulator_binary()?)
        .args([
            "--hosts",
            "1",
            "--vms-per-host",
            &VMS.to_string(),
            "--clusters",
            "0",
        ])
        .args(["--http-port", "0", "--base-address", "127.0.10.201"])
        .args(["--control-listen", "127.0.0.1:0", "--log-filter", "error"])
        .arg("--state-dir")
        .arg(state.path())
        .env("AETHERV_HVSIM_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        let Ok(ready) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if ready["ready"] != Value::Bool(true) {
            continue;
        }
        let host = &ready["hosts"][0];
        return Ok(SimProcess {
            child,
            endpoint: host["http"].as_str().ok_or("no http endpoint")?.to_owned(),
            host: host["name"].as_str().ok_or("no host name")?.to_owned(),
            username: ready["username"].as_str().ok_or("no username")?.to_owned(),
            _state: state,
        });
    }
    Err("the simulator exited before it was ready".into())
}

/// Clock ticks per second of /proc's CPU times.
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of a process, in ticks.
fn cpu_ticks(pid: &str) -> Res<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').ok_or("bad /proc stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat; the slice starts at field 3.
    let utime: u64 = fields.get(11).ok_or("no utime")?.parse()?;
    let stime: u64 = fields.get(12).ok_or("no stime")?.parse()?;
    Ok(utime + stime)
}

struct Figures {
    label: String,
    operations: usize,
    wall: Duration,
    latencies: Vec<Duration>,
    client_cpu: f64,
    sim_cpu: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Figures {
    fn print(&mut self) {
        self.latencies.sort();
        let n = self.operations as f64;
        println!(
            "{:<34} {:>8.1} ops/s   p50 {:>7.2} ms   p99 {:>7.2} ms   cpu/op client {:>6.2} ms, simulator {:>6.2} ms",
            self.label,
            n / self.wall.as_secs_f64(),
            percentile(&self.latencies, 50.0).as_secs_f64() * 1e3,
            percentile(&self.latencies, 99.0).as_secs_f64() * 1e3,
            self.client_cpu / n * 1e3,
            self.sim_cpu / n * 1e3,
        );
    }
}

async fn measure(
    label: &str,
    agent: Arc<WinrmHostAgent>,
    target: Arc<HostTarget>,
    sim_pid: &str,
    operations: usize,
    concurrency: usize,
) -> Res<Figures> {
    let ticks = clock_ticks();
    let (client_before, sim_before) = (cpu_ticks("self")?, cpu_ticks(sim_pid)?);
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let (agent, target) = (agent.clone(), target.clone());
        let share = operations / concurrency + usize::from(worker < operations % concurrency);
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for _ in 0..share {
                let begun = Instant::now();
                let inventory = agent
                    .collect_inventory(&target, CallOptions::default())
                    .await
                    .map_err(|e| e.to_string())?;
                latencies.push(begun.elapsed());
                if inventory.vms.len() != VMS as usize {
                    return Err(format!("{} vms instead of {VMS}", inventory.vms.len()));
                }
            }
            Ok::<_, String>(latencies)
        }));
    }
    let mut latencies = Vec::with_capacity(operations);
    for worker in workers {
        latencies.extend(worker.await??);
    }
    let wall = started.elapsed();
    let (client_after, sim_after) = (cpu_ticks("self")?, cpu_ticks(sim_pid)?);
    Ok(Figures {
        label: label.to_owned(),
        operations,
        wall,
        latencies,
        client_cpu: (client_after - client_before) as f64 / ticks,
        sim_cpu: (sim_after - sim_before) as f64 / ticks,
    })
}

fn main() -> Res<()> {
    let operations: usize = std::env::var("AETHERV_BENCH_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let sim = start_simulator()?;
    let pid = sim.child.id().to_string();
    let target = Arc::new(HostTarget::new(
        &sim.host,
        EndpointSettings {
            url: Some(sim.endpoint.clone()),
            auth: AuthKind::Ntlm,
            username: sim.username.clone(),
            password: Secret::new(PASSWORD),
            ca_file: None,
            insecure_http: false,
            timeouts: Timeouts::default(),
        },
    )?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let reused = Arc::new(WinrmHostAgent::new()?);
    let fresh = Arc::new(WinrmHostAgent::with_options(WinrmAgentOptions {
        reuse_connections: false,
        ..WinrmAgentOptions::default()
    })?);
    let size = runtime.block_on(async {
        reused
            .collect_inventory(&target, CallOptions::default())
            .await
            .map(|i| serde_json::to_vec(&i).map(|v| v.len()).unwrap_or(0))
    })?;
    println!(
        "inventory.collect of one simulated host with {VMS} VMs ({size} bytes of result), NTLM with message encryption over HTTP, {operations} operations each"
    );
    println!(
        "agent bundle {} bytes, sent packed as {} bytes on stdin per operation; bootstrap command line {} characters",
        reused.bundle().len(),
        reused.bundle().packed().len(),
        reused.bootstrap().command_line().len()
    );
    runtime.block_on(async {
        for _ in 0..10 {
            reused
                .collect_inventory(&target, CallOptions::default())
                .await?;
            fresh
                .collect_inventory(&target, CallOptions::default())
                .await?;
        }
        let runs = [
            ("reused connection, 1 at a time", reused.clone(), 1),
            ("fresh connection per op, 1 at a time", fresh.clone(), 1),
            ("reused connections, 4 at a time", reused.clone(), 4),
            ("fresh connection per op, 4 at a time", fresh.clone(), 4),
        ];
        for (label, agent, concurrency) in runs {
            let mut figures =
                measure(label, agent, target.clone(), &pid, operations, concurrency).await?;
            figures.print();
        }
        Ok::<_, Box<dyn Error>>(())
    })?;
    Ok(())
}
