//! Running the suite for a measurement: the release `aetherv up` with free ports and a
//! ready file, its output drained (the time the simulator was ready is taken from it),
//! then SIGINT and its exit.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rustix::process::{Pid, Signal, kill_process};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// What to start.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// Hosts.
    pub hosts: u32,
    /// VMs per host.
    pub vms_per_host: u32,
    /// Failover clusters.
    pub clusters: u32,
    /// inventory.refresh_interval.
    pub refresh_interval: String,
    /// telemetry.filter of every service.
    pub log_filter: String,
    /// inventory.watch.enabled (host watches).
    pub host_watch: bool,
}

/// A running `aetherv up`.
pub struct Suite {
    child: Child,
    /// When it was started.
    pub started: Instant,
    /// When its output said the simulator was ready (it moved on to remote-tasks).
    pub sim_ready: Arc<Mutex<Option<Instant>>>,
    tail: Arc<Mutex<Vec<String>>>,
    ready_file: PathBuf,
    _dir: tempfile::TempDir,
}

/// The `aetherv` binary of the release build in this workspace's target folder.
pub fn release_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("release/aetherv")
}

/// `cargo build --release -p aetherv-cli`.
pub async fn build() -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("building the release aetherv (cargo build --release -p aetherv-cli)…");
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "aetherv-cli"])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .status()
        .await
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("cargo build --release -p aetherv-cli failed: {status}");
    }
    Ok(())
}

impl Suite {
    /// Starts `aetherv up` for `fleet`.
    pub fn start(aetherv: &Path, fleet: &Fleet) -> anyhow::Result<Suite> {
        let dir = tempfile::tempdir()?;
        let ready_file = dir.path().join("ready.json");
        let started = Instant::now();
        let mut child = Command::new(aetherv)
            .arg("up")
            .args(["--hosts", &fleet.hosts.to_string()])
            .args(["--vms-per-host", &fleet.vms_per_host.to_string()])
            .args(["--clusters", &fleet.clusters.to_string()])
            .args(["--refresh-interval", &fleet.refresh_interval])
            .env(
                "AETHERV_INVENTORY__WATCH__ENABLED",
                if fleet.host_watch { "true" } else { "false" },
            )
            .args(["--log-filter", &fleet.log_filter])
            .args(["--start-timeout", "600s"])
            .arg("--ephemeral-ports")
            .arg("--ready-file")
            .arg(&ready_file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", aetherv.display()))?;
        let sim_ready = Arc::new(Mutex::new(None));
        let tail = Arc::new(Mutex::new(Vec::new()));
        let streams: Vec<Box<dyn tokio::io::AsyncRead + Unpin + Send>> = [
            child.stdout.take().map(|s| Box::new(s) as Box<_>),
            child.stderr.take().map(|s| Box::new(s) as Box<_>),
        ]
        .into_iter()
        .flatten()
        .collect();
        for stream in streams {
            let (sim_ready, tail) = (sim_ready.clone(), tail.clone());
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line.starts_with("[up] starting remote-tasks")
                        && let Ok(mut at) = sim_ready.lock()
                    {
                        at.get_or_insert_with(Instant::now);
                    }
                    if let Ok(mut tail) = tail.lock() {
                        if tail.len() >= 40 {
                            tail.remove(0);
                        }
                        tail.push(line);
                    }
                }
            });
        }
        Ok(Suite {
            child,
            started,
            sim_ready,
            tail,
            ready_file,
            _dir: dir,
        })
    }

    /// The last lines it printed.
    pub fn tail(&self) -> String {
        self.tail.lock().map(|t| t.join("\n")).unwrap_or_default()
    }

    /// Waits for the ready file (every service healthy); returns it and when it appeared.
    pub async fn ready(&mut self, limit: Duration) -> anyhow::Result<(Value, Instant)> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(text) = std::fs::read_to_string(&self.ready_file)
                && let Ok(ready) = serde_json::from_str::<Value>(&text)
            {
                return Ok((ready, Instant::now()));
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!(
                    "aetherv up exited ({status}) before it was ready:\n{}",
                    self.tail()
                );
            }
            if Instant::now() > deadline {
                bail!("aetherv up was not ready after {limit:?}:\n{}", self.tail());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGINT, then waits for the exit.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(pid) = self
            .child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(Pid::from_raw)
        {
            kill_process(pid, Signal::INT)?;
        }
        let status = tokio::time::timeout(Duration::from_secs(120), self.child.wait())
            .await
            .context("aetherv up did not stop within 120 s")??;
        if !status.success() {
            bail!("aetherv up stopped with {status}:\n{}", self.tail());
        }
        Ok(())
    }

    /// The launcher's process id.
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }
}
