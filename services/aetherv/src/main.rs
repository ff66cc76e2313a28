//! `aetherv`, the operator command line of Aether-V. It owns the subcommands an operator
//! runs by hand, one module each: `up` (the whole suite on this machine, one process per
//! service) and `serve` (one service in the foreground; what `up` starts), which link
//! every service library, the gateway and the simulator; `winrm run` and `agent call`,
//! which call `aetherv-winrm` (WinRS) and `aetherv-hyperv` (the agent protocol and its
//! WinRM agent). Exit codes are in `exit` and in `--help`; passwords only ever come from
//! the environment or from files.

#![forbid(unsafe_code)]

mod agent;
mod connection;
mod exit;
mod up;
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
    /// Start the whole suite on this machine (a simulated fleet unless --config lists
    /// hosts), one process per service, until Ctrl-C.
    Up(up::UpArgs),
    /// Run one service in the foreground (what `up` starts for each service).
    #[command(subcommand)]
    Serve(up::serve::ServeCommand),
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
    let command = match cli.command {
        Command::Up(args) => return ExitCode::from(up::run(args).await),
        Command::Serve(command) => return ExitCode::from(up::serve::run(command).await),
        command => command,
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
    let result = match command {
        Command::Winrm(winrm::WinrmCommand::Run(args)) => winrm::run(args, interrupt).await,
        Command::Agent(agent::AgentCommand::Call(args)) => agent::call(args, interrupt).await,
        Command::Up(_) | Command::Serve(_) => Ok(0),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("aetherv: {failure}");
            ExitCode::from(failure.code)
        }
    }
}
