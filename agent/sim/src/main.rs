//! `aetherv-hvsim`: starts a simulated Hyper-V fleet and serves it until Ctrl-C/SIGTERM.
//!
//! stdout: `password-file <path>` (when the password was generated), `ca-file <path>`
//! (with --https), one `host <name> <address> <endpoint>…` line per host, then one JSON
//! line `{"ready":true,…}` with the control API address and every endpoint. Logs go to
//! stderr. The password comes from AETHERV_HVSIM_PASSWORD or --users-file, never a flag;
//! without either one is generated into a 0600 file.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use aetherv_hvsim::credentials::{
    PASSWORD_ENV, generate_password, read_users_file, write_secret_file,
};
use aetherv_hvsim::{KnobsPatch, Scenario, Scheme, SimFleet};
use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use serde_json::json;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ConfigScheme {
    Http,
    Https,
}

/// A simulated fleet of Hyper-V hosts, each a WinRM endpoint on its own loopback address.
#[derive(Debug, Parser)]
#[command(name = "aetherv-hvsim", version, about, long_about = None)]
struct Args {
    /// Number of hosts.
    #[arg(long, default_value_t = 3)]
    hosts: u32,
    /// VMs on each host.
    #[arg(long, default_value_t = 10)]
    vms_per_host: u32,
    /// Failover clusters (two hosts or more each; the rest are standalone).
    #[arg(long, default_value_t = 1)]
    clusters: u32,
    /// Generation seed: the same seed gives the same fleet.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Scale of every simulated duration (0.1: ten times faster).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// The first host's address; the next ones follow (…254, then the next /24).
    #[arg(long, default_value = "127.0.10.1")]
    base_address: Ipv4Addr,
    /// HTTP port of every host (NTLM with message encryption); 0 for a free port each.
    #[arg(long, default_value_t = 5985)]
    http_port: u16,
    /// Also serve HTTPS (Basic or NTLM) with one self-signed certificate.
    #[arg(long)]
    https: bool,
    /// HTTPS port of every host; 0 for a free port each.
    #[arg(long, default_value_t = 5986)]
    https_port: u16,
    /// The account every host accepts (with the password from AETHERV_HVSIM_PASSWORD or
    /// a generated one).
    #[arg(long, default_value = "aetherv")]
    username: String,
    /// A file of `username:password` lines (mode 0600) instead of --username.
    #[arg(long)]
    users_file: Option<PathBuf>,
    /// Folder for the generated password and the CA file (default: a new private
    /// folder in the temporary directory, removed on exit).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Where to write the CA certificate (PEM) with --https (default: <state-dir>/ca.pem).
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Address of the control API (HTTP + JSON).
    #[arg(long, default_value = "127.0.0.1:0")]
    control_listen: SocketAddr,
    /// Write the fleet config (hosts, endpoints, WinRM settings) to this TOML file.
    #[arg(long)]
    write_fleet_config: Option<PathBuf>,
    /// Which endpoints the fleet config lists.
    #[arg(long, value_enum, default_value = "http")]
    fleet_config_scheme: ConfigScheme,
    /// Knobs to set at start (TOML, see the crate's README).
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Latency added to every operation on every host (e.g. 200ms).
    #[arg(long, value_parser = humantime::parse_duration)]
    latency: Option<Duration>,
    /// Log filter (tracing EnvFilter syntax), logs go to stderr.
    #[arg(long, default_value = "warn")]
    log_filter: String,
}

/// Where the password is and whether we made the state folder.
struct Secrets {
    password_file: Option<PathBuf>,
    password_env: Option<String>,
    state_dir: PathBuf,
    remove_state_dir: bool,
}

fn state_dir(args: &Args) -> anyhow::Result<(PathBuf, bool)> {
    match &args.state_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create state dir {}", dir.display()))?;
            Ok((dir.clone(), false))
        }
        None => {
            let dir = tempfile::Builder::new()
                .prefix("aetherv-hvsim-")
                .tempdir()
                .context("cannot create a state dir in the temporary directory")?;
            Ok((dir.keep(), true))
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let (dir, remove_state_dir) = state_dir(&args)?;
    let mut builder = SimFleet::builder()
        .hosts(args.hosts)
        .vms_per_host(args.vms_per_host)
        .clusters(args.clusters)
        .seed(args.seed)
        .time_scale(args.time_scale)
        .base_address(args.base_address)
        .http_port(args.http_port);
    if args.https {
        builder = builder.https(args.https_port);
    }
    let mut secrets = Secrets {
        password_file: None,
        password_env: None,
        state_dir: dir.clone(),
        remove_state_dir,
    };
    if let Some(path) = &args.users_file {
        for user in read_users_file(path)? {
            builder = builder.user(user.username, user.password);
        }
    } else if let Ok(password) = std::env::var(PASSWORD_ENV) {
        if password.is_empty() {
            anyhow::bail!("{PASSWORD_ENV} is set but empty");
        }
        builder = builder.user(args.username.clone(), password);
        secrets.password_env = Some(PASSWORD_ENV.to_owned());
    } else {
        let path = dir.join("password");
        let password = generate_password();
        write_secret_file(&path, &password)?;
        println!("password-file {}", path.display());
        builder = builder.user(args.username.clone(), password);
        secrets.password_file = Some(path);
    }
    let mut scenario = match &args.scenario {
        Some(path) => Scenario::read(path)?,
        None => Scenario::default(),
    };
    if let Some(latency) = args.latency {
        scenario.hosts.insert(
            0,
            aetherv_hvsim::scenario::ScenarioEntry {
                host: "*".to_owned(),
                knobs: KnobsPatch {
                    latency_ms: Some(latency.as_millis() as u64),
                    ..KnobsPatch::default()
                },
            },
        );
    }
    let fleet = builder.scenario(scenario).start().await?;
    let result = serve(&args, &fleet, &secrets).await;
    fleet.shutdown().await;
    if secrets.remove_state_dir {
        let _ = std::fs::remove_dir_all(&secrets.state_dir);
    }
    result
}

async fn serve(args: &Args, fleet: &SimFleet, secrets: &Secrets) -> anyhow::Result<()> {
    let ca_file = if args.https {
        let path = args
            .ca_file
            .clone()
            .unwrap_or_else(|| secrets.state_dir.join("ca.pem"));
        fleet.write_ca_file(&path)?;
        println!("ca-file {}", path.display());
        Some(path)
    } else {
        None
    };
    let control = fleet.start_control_api(args.control_listen).await?;
    let scheme = match args.fleet_config_scheme {
        ConfigScheme::Http => Scheme::Http,
        ConfigScheme::Https => Scheme::Https,
    };
    if let Some(path) = &args.write_fleet_config {
        fleet
            .fleet_config(
                scheme,
                secrets.password_file.clone(),
                secrets.password_env.clone(),
                ca_file.clone(),
            )?
            .write(path)?;
    }
    let mut hosts = Vec::new();
    for h in fleet.hosts() {
        let endpoints = [h.http_endpoint(), h.https_endpoint()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
        println!("host {} {} {}", h.name(), h.address(), endpoints.join(" "));
        hosts.push(json!({
            "name": h.name(),
            "computer_name": h.computer_name(),
            "cluster": h.cluster(),
            "address": h.address().to_string(),
            "http": h.http_endpoint(),
            "https": h.https_endpoint(),
        }));
    }
    let ready = json!({
        "ready": true,
        "control": format!("http://{control}"),
        "username": fleet.username(),
        "password_file": secrets.password_file.as_deref().map(Path::display).map(|d| d.to_string()),
        "password_env": secrets.password_env,
        "ca_file": ca_file.as_deref().map(Path::display).map(|d| d.to_string()),
        "fleet_config": args.write_fleet_config.as_deref().map(Path::display).map(|d| d.to_string()),
        "hosts": hosts,
    });
    println!("{ready}");
    wait_for_signal().await
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot listen for Ctrl-C")?,
        _ = term.recv() => {}
    }
    tracing::info!("stopping");
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let filter = EnvFilter::try_new(&args.log_filter).unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
