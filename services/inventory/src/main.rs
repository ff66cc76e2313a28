//! `aetherv-inventory`: flags → configuration → telemetry → bind → serve until SIGINT or
//! SIGTERM.

use std::process::ExitCode;

use aetherv_inventory::{Config, serve};
use aetherv_runtime::config::{CommonArgs, Loader, process_env};
use clap::Parser;

/// The Aether-V inventory service: the fleet model, refreshed through remote-tasks.
#[derive(Debug, Parser)]
#[command(name = "aetherv-inventory", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Address to listen on, e.g. 127.0.0.1:50053 (inventory.server.listen).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// The remote-tasks service, e.g. http://127.0.0.1:50051 (inventory.remote_tasks.endpoint).
    #[arg(long, value_name = "URL")]
    remote_tasks: Option<String>,
    /// How often each host is refreshed, e.g. 30s (inventory.refresh_interval).
    #[arg(long, value_name = "DURATION")]
    refresh_interval: Option<String>,
    /// The notifications service, e.g. http://127.0.0.1:50055
    /// (inventory.notifications.endpoint); none by default.
    #[arg(long, value_name = "URL")]
    notifications: Option<String>,
}

fn load(args: &Args) -> Result<Config, aetherv_runtime::config::Error> {
    let mut loader = Loader::new().env(process_env()).args(&args.common);
    if let Some(listen) = &args.listen {
        loader = loader.flag("server.listen", listen.clone(), "--listen");
    }
    if let Some(endpoint) = &args.remote_tasks {
        loader = loader.flag("remote_tasks.endpoint", endpoint.clone(), "--remote-tasks");
    }
    if let Some(interval) = &args.refresh_interval {
        loader = loader.flag("refresh_interval", interval.clone(), "--refresh-interval");
    }
    if let Some(endpoint) = &args.notifications {
        loader = loader.flag(
            "notifications.endpoint",
            endpoint.clone(),
            "--notifications",
        );
    }
    loader.load()
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match load(&args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("aetherv-inventory: configuration is invalid:");
            for reason in error.reasons() {
                eprintln!("  {reason}");
            }
            return ExitCode::from(2);
        }
    };
    if let Err(error) = aetherv_runtime::telemetry::init(&config.telemetry) {
        eprintln!(
            "aetherv-inventory: {}",
            aetherv_runtime::display_chain(&error)
        );
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("aetherv-inventory: cannot start the async runtime: {error}");
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
        match serve(config, listener, aetherv_runtime::signal_shutdown()).await {
            Ok(_) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(error = %aetherv_runtime::display_chain(&error), "inventory stopped");
                ExitCode::FAILURE
            }
        }
    })
}
