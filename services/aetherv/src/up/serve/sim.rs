//! `aetherv serve hvsim`: the simulated fleet (aetherv-hvsim's [`SimFleet`]) with its
//! control API, writing the fleet file remote-tasks reads. The password every simulated
//! host accepts is read from `--password-file` (the launcher writes it, mode 0600), or
//! from `AETHERV_HVSIM_PASSWORD`; it is never a flag, and the fleet file names the file or
//! variable, never the password.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use aetherv_hvsim::credentials::PASSWORD_ENV;
use aetherv_hvsim::scenario::ScenarioEntry;
use aetherv_hvsim::{KnobsPatch, Scenario, Scheme, SimFleet};
use clap::Args;
use tracing_subscriber::EnvFilter;

use super::{Announcement, CONFIG, ControlArgs, FAILED, shutdown};

/// `aetherv serve hvsim` flags.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Number of hosts (1–5000).
    #[arg(long, default_value_t = 4)]
    pub hosts: u32,
    /// VMs on each host (0–1000).
    #[arg(long, default_value_t = 12)]
    pub vms_per_host: u32,
    /// Failover clusters (two hosts or more each; the rest are standalone).
    #[arg(long, default_value_t = 1)]
    pub clusters: u32,
    /// Generation seed: the same seed gives the same fleet.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Scale of every simulated duration (0.1: ten times faster). Keep 1 for inventory:
    /// uptimes then advance in real time.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// The first host's address; the next ones follow.
    #[arg(long, default_value = "127.0.10.1")]
    pub base_address: Ipv4Addr,
    /// HTTP port of every host (NTLM with message encryption); 0 for a free port each.
    #[arg(long, default_value_t = 5985)]
    pub http_port: u16,
    /// The account every host accepts.
    #[arg(long, default_value = "aetherv")]
    pub username: String,
    /// A file whose first line is the password (else AETHERV_HVSIM_PASSWORD).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Write the fleet file (hosts, endpoints, WinRM settings) for remote-tasks here.
    #[arg(long, value_name = "FILE")]
    pub write_fleet_config: Option<PathBuf>,
    /// Address of the control API (HTTP + JSON).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub control_listen: SocketAddr,
    /// Latency added to every operation on every host (e.g. 200ms).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub latency: Option<Duration>,
    /// Log filter (tracing EnvFilter syntax); logs go to stderr.
    #[arg(long, default_value = "info")]
    pub log_filter: String,
    #[command(flatten)]
    pub control: ControlArgs,
}

/// Where the password came from, for the fleet file.
enum PasswordSource {
    File(PathBuf),
    Env,
}

fn password(args: &SimArgs) -> Result<(String, PasswordSource), String> {
    if let Some(path) = &args.password_file {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("--password-file {}: {error}", path.display()))?;
        let password = text.lines().next().unwrap_or_default().to_string();
        if password.is_empty() {
            return Err(format!(
                "--password-file {}: the first line is empty",
                path.display()
            ));
        }
        return Ok((password, PasswordSource::File(path.clone())));
    }
    match std::env::var(PASSWORD_ENV) {
        Ok(password) if !password.is_empty() => Ok((password, PasswordSource::Env)),
        _ => Err(format!(
            "no password: give --password-file or set {PASSWORD_ENV}"
        )),
    }
}

fn scenario(args: &SimArgs) -> Scenario {
    let mut scenario = Scenario::default();
    if let Some(latency) = args.latency {
        scenario.hosts.push(ScenarioEntry {
            host: "*".to_string(),
            knobs: KnobsPatch {
                latency_ms: Some(u64::try_from(latency.as_millis()).unwrap_or(u64::MAX)),
                ..KnobsPatch::default()
            },
        });
    }
    scenario
}

/// Runs the fleet until shutdown; returns the exit code.
pub async fn run(args: SimArgs) -> u8 {
    let filter = EnvFilter::try_new(&args.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .try_init();
    let (password, source) = match password(&args) {
        Ok(found) => found,
        Err(message) => {
            eprintln!("aetherv serve hvsim: {message}");
            return CONFIG;
        }
    };
    let started = SimFleet::builder()
        .hosts(args.hosts)
        .vms_per_host(args.vms_per_host)
        .clusters(args.clusters)
        .seed(args.seed)
        .time_scale(args.time_scale)
        .base_address(args.base_address)
        .http_port(args.http_port)
        .user(args.username.clone(), password)
        .scenario(scenario(&args))
        .start()
        .await;
    let fleet = match started {
        Ok(fleet) => fleet,
        Err(error) => {
            eprintln!(
                "aetherv serve hvsim: the fleet cannot start: {}",
                aetherv_runtime::display_chain(&error)
            );
            return FAILED;
        }
    };
    let code = match serve(&args, &fleet, source).await {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("aetherv serve hvsim: {message}");
            FAILED
        }
    };
    fleet.shutdown().await;
    code
}

async fn serve(args: &SimArgs, fleet: &SimFleet, source: PasswordSource) -> Result<(), String> {
    let control = fleet
        .start_control_api(args.control_listen)
        .await
        .map_err(|error| aetherv_runtime::display_chain(&error).to_string())?;
    if let Some(path) = &args.write_fleet_config {
        let (file, env) = match source {
            PasswordSource::File(file) => (Some(file), None),
            PasswordSource::Env => (None, Some(PASSWORD_ENV.to_string())),
        };
        fleet
            .fleet_config(Scheme::Http, file, env, None)
            .and_then(|config| config.write(path))
            .map_err(|error| aetherv_runtime::display_chain(&error).to_string())?;
    }
    let spec = fleet.spec();
    let announcement = Announcement {
        fleet_config: args
            .write_fleet_config
            .as_deref()
            .map(Path::display)
            .map(|d| d.to_string()),
        hosts: Some(spec.hosts),
        vms: Some(u64::from(spec.hosts) * u64::from(spec.vms_per_host)),
        ..Announcement::service("hvsim", control)
    };
    let first = fleet.hosts().first().and_then(|h| h.http_endpoint());
    tracing::info!(
        hosts = spec.hosts,
        vms = spec.hosts * spec.vms_per_host,
        first = first.as_deref().unwrap_or("none"),
        control = %format!("http://{control}"),
        "simulated fleet serving"
    );
    announcement.print(args.control);
    shutdown(args.control).await;
    Ok(())
}
