//! `aetherv-remote-tasks`: args → config → telemetry → bind → serve.
//!
//! Exit codes: 0 after a clean shutdown; 1 when the listener cannot be bound or the server
//! fails; 2 when not even the `server` table of the configuration can be read (an invalid
//! configuration otherwise starts the service NOT_SERVING with the reasons).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use aetherv_remote_tasks::config::{Startup, forbidden_password_sources, startup};
use aetherv_runtime::config::{CommonArgs, Loader, process_env};
use aetherv_runtime::{signal_shutdown, telemetry};
use clap::Parser;
use tokio::net::TcpListener;

/// Runs agent operations on Hyper-V hosts over WinRM, under concurrency limits, for the
/// other Aether-V services (gRPC `aetherv.remotetasks.v1.RemoteTasks`, default port 50051).
/// The WinRM password comes from the environment variable
/// AETHERV_REMOTE_TASKS__WINRM__PASSWORD or from `winrm.password_file`, never from a flag.
#[derive(Debug, Parser)]
#[command(name = "aetherv-remote-tasks", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Address to listen on (sets `server.listen`).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// The fleet file written by `aetherv-hvsim --write-fleet-config` (sets `hosts_file`).
    #[arg(long, value_name = "FILE")]
    hosts_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let env = process_env();
    let loader = || {
        let mut loader = Loader::new().env(env.clone()).args(&args.common);
        if let Some(listen) = args.listen {
            loader = loader.flag("server.listen", listen.to_string(), "--listen");
        }
        if let Some(file) = &args.hosts_file {
            loader = loader.flag("hosts_file", file.display().to_string(), "--hosts-file");
        }
        loader
    };
    let set_keys: Vec<String> = args.common.set.iter().map(|kv| kv.key.clone()).collect();
    let forbidden = forbidden_password_sources(args.common.config.as_deref(), &set_keys);
    let startup = match startup(loader, forbidden) {
        Ok(startup) => startup,
        Err(reasons) => {
            for reason in reasons {
                eprintln!("aetherv-remote-tasks: {reason}");
            }
            return ExitCode::from(2);
        }
    };
    let config = startup.config().clone();
    if let Err(error) = telemetry::init(&config.telemetry) {
        eprintln!(
            "aetherv-remote-tasks: {}",
            aetherv_runtime::display_chain(&error)
        );
        return ExitCode::from(2);
    }
    if let Startup::Invalid { reasons, .. } = &startup {
        tracing::error!(
            problems = reasons.len(),
            "the configuration is invalid: serving NOT_SERVING until it is fixed and the service restarted"
        );
    }
    let listener = match TcpListener::bind(config.server.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(listen = %config.server.listen, %error, "cannot listen");
            return ExitCode::from(1);
        }
    };
    match aetherv_remote_tasks::serve(startup, listener, signal_shutdown()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %aetherv_runtime::display_chain(&error), "remote-tasks stopped");
            ExitCode::from(1)
        }
    }
}
