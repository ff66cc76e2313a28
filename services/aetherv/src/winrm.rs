//! `aetherv winrm run`: runs one command in a WinRS shell on a host and streams its stdout
//! and stderr to ours as they arrive, then exits with the remote exit code. A diagnostic
//! for operators: does WinRM work with these settings, and what does the host say?

use std::io::Read as _;
use std::path::{Path, PathBuf};

use aetherv_hyperv::winrm_agent::{RunOutcome, run_command};
use aetherv_winrm::{Client, CommandSpec, OutputChunk, OutputStream};
use bytes::Bytes;
use clap::{Args, Subcommand};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::connection::{ConnectionArgs, seconds};
use crate::exit::{self, Failure};

/// `aetherv winrm ...`
#[derive(Debug, Subcommand)]
pub enum WinrmCommand {
    /// Run a command in a WinRS shell on a host, printing its output as it arrives.
    #[command(after_help = exit::HELP)]
    Run(RunArgs),
}

/// `aetherv winrm run`
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Terminate the remote command and give up after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Start the executable directly instead of through cmd.exe (needs its full path).
    #[arg(long)]
    pub skip_cmd_shell: bool,
    /// Send this file to the command's stdin (`-`: our own stdin), then close it.
    #[arg(long, value_name = "FILE")]
    pub stdin: Option<PathBuf>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Runs the subcommand; returns the exit code.
pub async fn run(args: RunArgs, interrupt: CancellationToken) -> Result<u8, Failure> {
    let deadline = match args.timeout {
        Some(value) => Some(Instant::now() + seconds("timeout", value)?),
        None => None,
    };
    let Some((command, arguments)) = args.command.split_first() else {
        return Err(Failure::usage("give the command to run after --"));
    };
    let stdin = match &args.stdin {
        None => None,
        Some(path) => Some(Bytes::from(read_stdin(path)?)),
    };
    let client = Client::new(args.connection.client_config()?).map_err(|e| Failure::winrm(&e))?;
    let mut spec = CommandSpec::new(command.clone(), arguments.to_vec());
    spec.options.skip_cmd_shell = args.skip_cmd_shell;
    let (sink, mut output) = mpsc::channel::<OutputChunk>(64);
    let print = async move {
        while let Some(chunk) = output.recv().await {
            // Our own stdout or stderr closing (a pipe) only stops the printing.
            let _ = match chunk.stream {
                OutputStream::Stdout => write_now(&mut std::io::stdout().lock(), &chunk.data),
                OutputStream::Stderr => write_now(&mut std::io::stderr().lock(), &chunk.data),
            };
        }
    };
    let (outcome, ()) = tokio::join!(
        run_command(&client, &spec, stdin, sink, &interrupt, deadline),
        print
    );
    match outcome.map_err(|e| Failure::winrm(&e))? {
        RunOutcome::Exited(code) => Ok(u8::try_from(code).unwrap_or_else(|_| {
            eprintln!(
                "aetherv: the remote exit code {code} does not fit a local exit status; exiting 1"
            );
            1
        })),
        RunOutcome::TimedOut => Err(Failure {
            code: exit::TIMEOUT,
            message: format!("{command} did not finish in time; it was terminated on the host"),
        }),
        RunOutcome::Cancelled => Err(Failure {
            code: exit::INTERRUPTED,
            message: format!("interrupted; {command} was terminated on the host"),
        }),
    }
}

fn read_stdin(path: &Path) -> Result<Vec<u8>, Failure> {
    if path == Path::new("-") {
        let mut data = Vec::new();
        std::io::stdin()
            .read_to_end(&mut data)
            .map_err(|e| Failure::usage(format!("cannot read our stdin: {e}")))?;
        return Ok(data);
    }
    std::fs::read(path).map_err(|e| Failure::usage(format!("--stdin {}: {e}", path.display())))
}

fn write_now(out: &mut dyn std::io::Write, data: &[u8]) -> std::io::Result<()> {
    out.write_all(data)?;
    out.flush()
}
