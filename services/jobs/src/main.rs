//! `aetherv-jobs`: flags → configuration → telemetry → bind → serve until SIGINT or
//! SIGTERM.

use std::process::ExitCode;

use aetherv_jobs::{Config, serve};
use aetherv_runtime::config::{CommonArgs, Loader, process_env};
use clap::Parser;

/// The Aether-V jobs service: every mutation of the fleet, as jobs run through remote-tasks.
#[derive(Debug, Parser)]
#[command(name = "aetherv-jobs", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Address to listen on, e.g. 127.0.0.1:50054 (jobs.server.listen).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// The remote-tasks service, e.g. http://127.0.0.1:50051 (jobs.remote_tasks.endpoint).
    #[arg(long, value_name = "URL")]
    remote_tasks: Option<String>,
    /// The inventory service, e.g. http://127.0.0.1:50053 (jobs.inventory.endpoint).
    #[arg(long, value_name = "URL")]
    inventory: Option<String>,
    /// The notifications service, e.g. http://127.0.0.1:50055 (jobs.notifications.endpoint);
    /// none by default.
    #[arg(long, value_name = "URL")]
    notifications: Option<String>,
}

fn load(args: &Args) -> Result<Config, aetherv_runtime::config::Error> {
    let mut loader = Loader::new().env(process_env()).args(&args.common);
    let flags = [
        ("server.listen", &args.listen, "--listen"),
        (
            "remote_tasks.endpoint",
            &args.remote_tasks,
            "--remote-tasks",
        ),
        ("inventory.endpoint", &args.inventory, "--inventory"),
        (
            "notifications.endpoint",
            &args.notifications,
            "--notifications",
        ),
    ];
    for (key, value, flag) in flags {
        if let Some(value) = value {
            loader = loader.flag(key, value.clone(), flag);
        }
    }
    loader.load()
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match load(&args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("aetherv-jobs: configuration is invalid:");
            for reason in error.reasons() {
                eprintln!("  {reason}");
            }
            return ExitCode::from(2);
        }
    };
    if let Err(error) = aetherv_runtime::telemetry::init(&config.telemetry) {
        eprintln!("aetherv-jobs: {}", aetherv_runtime::display_chain(&error));
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("aetherv-jobs: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(config.server.listen).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(address = %config.server.listen, %error, "cannot listen");
                return ExitCode::FAILURE;
            }
        };
        let address = listener
            .local_addr()
            .map_or_else(|_| config.server.listen.to_string(), |a| a.to_string());
        tracing::info!(%address, "jobs listening");
        match serve(config, listener, aetherv_runtime::signal_shutdown()).await {
            Ok(_) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(error = %aetherv_runtime::display_chain(&error), "jobs stopped");
                ExitCode::FAILURE
            }
        }
    })
}
