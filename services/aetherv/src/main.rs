//! `aetherv`, the operator command line of Aether-V. It owns the subcommands an operator
//! runs by hand (`winrm run`, `agent call`; `up` comes later), one module each, and calls
//! `aetherv-winrm` (WinRS) and `aetherv-hyperv` (the agent protocol and its WinRM agent).
//! Exit codes are in `exit` and in `--help`; the password only ever comes from the
//! environment.

#![forbid(unsafe_code)]

mod agent;
mod connection;
mod exit;
mod winrm;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

/// Aether-V operator command line.
#[derive(Debug, Parser)]
#[command(name = "aetherv", version, after_help = exit::HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// WinRM diagnostics: run commands on a host.
    #[command(subcommand)]
    Winrm(winrm::WinrmCommand),
    /// Host agent operations.
    #[command(subcommand)]
    Agent(agent::AgentCommand),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() { exit::USAGE } else { 0 };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AETHERV_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let interrupt = CancellationToken::new();
    let on_interrupt = interrupt.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });
    let result = match cli.command {
        Command::Winrm(winrm::WinrmCommand::Run(args)) => winrm::run(args, interrupt).await,
        Command::Agent(agent::AgentCommand::Call(args)) => agent::call(args, interrupt).await,
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("aetherv: {failure}");
            ExitCode::from(failure.code)
        }
    }
}
