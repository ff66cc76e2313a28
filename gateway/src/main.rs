//! `aetherv-gateway`: args → config → telemetry → bind → serve.

use std::process::ExitCode;

use aetherv_gateway::Config;
use aetherv_runtime::config::{CommonArgs, Loader, process_env};
use clap::Parser;

/// The Aether-V HTTP gateway: web UI, REST API and WebSocket.
#[derive(Debug, Parser)]
#[command(name = "aetherv-gateway", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Address to listen on (sets `server.listen`), e.g. 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Serve the API without authentication (sets `dev_mode = true`).
    #[arg(long)]
    dev_mode: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut loader = Loader::new().env(process_env()).args(&args.common);
    if let Some(listen) = &args.listen {
        loader = loader.flag("server.listen", listen.clone(), "--listen");
    }
    if args.dev_mode {
        loader = loader.flag("dev_mode", "true", "--dev-mode");
    }
    let config: Config = match loader.load() {
        Ok(config) => config,
        Err(error) => {
            eprintln!(
                "aetherv-gateway: {}",
                aetherv_runtime::display_chain(&error)
            );
            return ExitCode::from(2);
        }
    };
    if let Err(error) = aetherv_runtime::telemetry::init(&config.telemetry) {
        eprintln!(
            "aetherv-gateway: {}",
            aetherv_runtime::display_chain(&error)
        );
        return ExitCode::from(2);
    }
    let listener = match tokio::net::TcpListener::bind(config.server.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(address = %config.server.listen, %error, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    match aetherv_gateway::serve(config, listener, aetherv_runtime::signal_shutdown()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %aetherv_runtime::display_chain(&error), "gateway failed");
            ExitCode::FAILURE
        }
    }
}
