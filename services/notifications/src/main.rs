//! `aetherv-notifications`: flags → configuration → telemetry → bind → serve until SIGINT
//! or SIGTERM.

use std::process::ExitCode;

use aetherv_notifications::{Config, serve};
use aetherv_runtime::config::{CommonArgs, Loader, process_env};
use clap::Parser;

/// The Aether-V notifications service: operator notifications and their event stream.
#[derive(Debug, Parser)]
#[command(name = "aetherv-notifications", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Address to listen on, e.g. 127.0.0.1:50055 (notifications.server.listen).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
}

fn load(args: &Args) -> Result<Config, aetherv_runtime::config::Error> {
    let mut loader = Loader::new().env(process_env()).args(&args.common);
    if let Some(listen) = &args.listen {
        loader = loader.flag("server.listen", listen.clone(), "--listen");
    }
    loader.load()
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match load(&args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("aetherv-notifications: configuration is invalid:");
            for reason in error.reasons() {
                eprintln!("  {reason}");
            }
            return ExitCode::from(2);
        }
    };
    if let Err(error) = aetherv_runtime::telemetry::init(&config.telemetry) {
        eprintln!(
            "aetherv-notifications: {}",
            aetherv_runtime::display_chain(&error)
        );
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("aetherv-notifications: cannot start the async runtime: {error}");
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
                tracing::error!(error = %aetherv_runtime::display_chain(&error), "notifications stopped");
                ExitCode::FAILURE
            }
        }
    })
}
