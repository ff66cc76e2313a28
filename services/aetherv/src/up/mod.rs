//! `aetherv up`: the whole suite on this machine, one process per service. It re-executes
//! this binary as `aetherv serve <service> …` (every service library is linked in, so
//! `cargo run -p aetherv-cli -- up` is all a fresh machine needs) and starts, in order:
//! the simulated fleet (`hvsim`, unless `--config` lists real hosts), remote-tasks,
//! notifications, inventory, jobs and the gateway, each on loopback, each waited for until it is
//! healthy ([`ready`]). It then prints the UI URL and every gRPC address, shows every
//! child's log lines prefixed with `[name]`, and on Ctrl-C (or SIGTERM) stops them in
//! reverse order — SIGTERM, then SIGKILL after `--stop-timeout`. When a child dies or never
//! becomes healthy it says which and why, stops the others and exits 1.
//!
//! The simulator's password is generated into a 0600 file in a private temporary folder
//! (removed on exit) that the fleet file names; remote-tasks reads it from there. Nothing
//! secret is on a command line. Children watch their stdin (`--exit-with-parent`), so they
//! end with the launcher even when it is killed outright.

pub mod child;
mod console;
mod plan;
pub mod ready;
pub mod report;
pub mod serve;
mod suite;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::exit;
use plan::Plan;

/// `aetherv up` flags.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Simulated hosts (default 4: three in a cluster, one standalone).
    #[arg(long, value_name = "N")]
    pub hosts: Option<u32>,
    /// VMs on each simulated host (default 12).
    #[arg(long, value_name = "M")]
    pub vms_per_host: Option<u32>,
    /// Failover clusters among the simulated hosts (default 1).
    #[arg(long, value_name = "K")]
    pub clusters: Option<u32>,
    /// Seed of the simulated fleet: the same seed gives the same fleet (default 1).
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Scale of simulated durations such as power transitions (default 1).
    #[arg(long, value_name = "SCALE")]
    pub time_scale: Option<f64>,
    /// The first simulated host's loopback address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.10.1")]
    pub sim_base_address: Ipv4Addr,
    /// The suite configuration file: each service reads its own table from it. When its
    /// [remote_tasks] table lists hosts (hosts or hosts_file), the services manage that
    /// real fleet and no simulator starts.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run every service (and every simulated host) on a free port instead of the defaults
    /// (50051, 50053, 50054, 50055, 8080; 5985 for the simulated hosts).
    #[arg(long)]
    pub ephemeral_ports: bool,
    /// The gateway's address (default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub gateway_listen: Option<SocketAddr>,
    /// How often inventory refreshes each host (inventory.refresh_interval, default 30s).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub refresh_interval: Option<Duration>,
    /// Log filter of every service (telemetry.filter, e.g. "info,aetherv_inventory=debug").
    #[arg(long, value_name = "FILTER")]
    pub log_filter: Option<String>,
    /// How long each service has to become healthy.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    pub start_timeout: Duration,
    /// How long each service has to stop after SIGTERM before it is killed.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
    pub stop_timeout: Duration,
    /// Once everything is ready, write the addresses and process ids here (JSON).
    #[arg(long, value_name = "FILE")]
    pub ready_file: Option<PathBuf>,
}

/// SIGINT, SIGTERM and SIGHUP, any of which stops the suite.
pub struct Signals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// The next signal's name.
    pub async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.hangup.recv() => "SIGHUP",
        }
    }
}

/// A new temporary folder only its owner can enter (0700), removed when dropped.
fn private_folder() -> std::io::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::Builder::new().prefix("aetherv-up-").tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
    Ok(dir)
}

/// Runs `aetherv up`; returns the exit code: 0 after a clean stop, 1 when a service failed
/// (died, never became healthy, or had to be killed), 64 for bad flags.
pub async fn run(args: UpArgs) -> u8 {
    let plan = match Plan::new(&args) {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("aetherv up: {error}");
            return exit::USAGE;
        }
    };
    let signals = match Signals::install() {
        Ok(signals) => signals,
        Err(error) => {
            eprintln!("aetherv up: cannot listen for signals: {error}");
            return 1;
        }
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(error) => {
            eprintln!("aetherv up: cannot find its own executable: {error}");
            return 1;
        }
    };
    let state = match private_folder() {
        Ok(dir) => dir,
        Err(error) => {
            eprintln!("aetherv up: cannot create a private temporary folder: {error}");
            return 1;
        }
    };
    let settings = suite::Settings {
        exe,
        state: state.path().to_path_buf(),
        start_timeout: args.start_timeout,
        stop_timeout: args.stop_timeout,
        ready_file: args.ready_file.clone(),
    };
    let code = suite::run(&plan, &settings, signals).await;
    if let Some(path) = &args.ready_file {
        let _ = std::fs::remove_file(path);
    }
    drop(state);
    code
}
