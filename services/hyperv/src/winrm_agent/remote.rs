//! One remote command run to the end, to a deadline or to a cancel: a WinRS shell is
//! opened for it, stdin is sent, then each stdout/stderr chunk goes to the caller as it
//! arrives, and the command is never left behind. On every way out
//! the command gets Signal terminate and its shell is deleted; the clean-up is awaited,
//! except when the future itself is dropped, where a spawned task finishes it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aetherv_winrm::client::check_command_line;
use aetherv_winrm::{
    Client, CommandSpec, Error as WinrmError, OutputChunk, OutputStream, Shell, Signal,
};
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// How long the clean-up (Signal, then Delete) may take.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(30);

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// It exited with this code.
    Exited(i32),
    /// The deadline passed; it was terminated.
    TimedOut,
    /// The token was cancelled; it was terminated.
    Cancelled,
}

#[derive(Default)]
struct Remote {
    shell_id: Option<String>,
    command_id: Option<String>,
    cleaned: bool,
}

/// Terminates the command and deletes its shell: awaited via [`Cleanup::run`], or from a
/// spawned task when dropped before that.
struct Cleanup {
    client: Client,
    remote: Arc<Mutex<Remote>>,
}

impl Cleanup {
    fn record(&self, update: impl FnOnce(&mut Remote)) {
        if let Ok(mut remote) = self.remote.lock() {
            update(&mut remote);
        }
    }

    fn take(&self) -> (Option<String>, Option<String>) {
        match self.remote.lock() {
            Ok(mut remote) => {
                remote.cleaned = true;
                (remote.shell_id.take(), remote.command_id.take())
            }
            Err(_) => (None, None),
        }
    }

    async fn run(&self) {
        let (shell, command) = self.take();
        terminate(self.client.clone(), shell, command).await;
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let pending = self
            .remote
            .lock()
            .map(|r| !r.cleaned && r.shell_id.is_some())
            .unwrap_or(false);
        if !pending {
            return;
        }
        let (shell, command) = self.take();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                debug!(endpoint = %self.client.endpoint(), "remote command abandoned; terminating it");
                handle.spawn(terminate(self.client.clone(), shell, command));
            }
            Err(_) => warn!(
                endpoint = %self.client.endpoint(),
                "remote command abandoned outside a runtime; its shell is left to the idle timeout"
            ),
        }
    }
}

async fn terminate(client: Client, shell_id: Option<String>, command_id: Option<String>) {
    let Some(shell_id) = shell_id else { return };
    let shell = Shell::attach(&client, shell_id);
    let work = async {
        if let Some(command) = &command_id
            && let Err(error) = shell.signal(command, Signal::Terminate).await
        {
            debug!(%error, "signal terminate failed");
        }
        if let Err(error) = shell.delete().await {
            debug!(%error, "delete shell failed");
        }
    };
    if tokio::time::timeout(CLEANUP_TIMEOUT, work).await.is_err() {
        warn!(endpoint = %client.endpoint(), shell_id = %shell.id(), "clean-up of the remote shell timed out");
    }
}

/// Runs `spec` (its `deadline` field is ignored: pass `deadline`) with `stdin`, sending
/// every output chunk to `sink` (a closed sink is not an error: output is then dropped).
/// Returns how it ended; a WinRM failure is an error. Either way the remote command is
/// gone when this returns.
pub async fn run_command(
    client: &Client,
    spec: &CommandSpec,
    stdin: Option<Bytes>,
    sink: mpsc::Sender<OutputChunk>,
    cancel: &CancellationToken,
    deadline: Option<Instant>,
) -> Result<RunOutcome, WinrmError> {
    check_command_line(&spec.command, &spec.args, spec.options.skip_cmd_shell)?;
    let cleanup = Cleanup {
        client: client.clone(),
        remote: Arc::new(Mutex::new(Remote::default())),
    };
    let expiry = async {
        match deadline {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        result = execute(client, spec, stdin, sink, &cleanup) => result.map(RunOutcome::Exited),
        () = cancel.cancelled() => Ok(RunOutcome::Cancelled),
        () = expiry => Ok(RunOutcome::TimedOut),
    };
    cleanup.run().await;
    outcome
}

async fn execute(
    client: &Client,
    spec: &CommandSpec,
    stdin: Option<Bytes>,
    sink: mpsc::Sender<OutputChunk>,
    cleanup: &Cleanup,
) -> Result<i32, WinrmError> {
    // A pooled connection may have been closed by the host since its last use; nothing
    // has run yet, so one more try on a new connection is safe.
    let shell = match client.open_shell(&spec.shell).await {
        Err(WinrmError::Connect { .. }) => client.open_shell(&spec.shell).await?,
        other => other?,
    };
    cleanup.record(|r| r.shell_id = Some(shell.id().to_owned()));
    let command_id = shell
        .command(&spec.command, &spec.args, &spec.options)
        .await?;
    cleanup.record(|r| r.command_id = Some(command_id.clone()));
    // All of stdin first, then the output: a call needs one connection at a time, so
    // concurrent calls cannot starve each other of the pool (a Receive long poll holds its
    // connection for up to the OperationTimeout). The agent reads all of stdin before it
    // writes anything, and WinRS buffers stdin for any other command.
    // Sent stdin is dropped before the output is awaited: it holds the request and the
    // packed bundle (~35 KB), and a watch waits for output for minutes.
    if let Some(data) = stdin {
        shell.send_stdin(&command_id, &data, true).await?;
    }
    receive_until_done(&shell, &command_id, &sink).await
}

async fn receive_until_done(
    shell: &Shell,
    command_id: &str,
    sink: &mpsc::Sender<OutputChunk>,
) -> Result<i32, WinrmError> {
    loop {
        let output = shell.receive(command_id).await?;
        let done = output.is_done();
        let exit_code = output.exit_code();
        for chunk in output.streams {
            let stream = match chunk.name.as_str() {
                "stdout" => OutputStream::Stdout,
                "stderr" => OutputStream::Stderr,
                _ => continue,
            };
            if chunk.data.is_empty() {
                continue;
            }
            // A closed sink only means nobody wants the output any more.
            let _ = sink
                .send(OutputChunk {
                    stream,
                    data: Bytes::from(chunk.data),
                })
                .await;
        }
        if done {
            return exit_code.ok_or_else(|| WinrmError::Protocol {
                endpoint: shell.client().endpoint().to_owned(),
                reason: "command state Done without an exit code".to_owned(),
                excerpt: String::new(),
            });
        }
    }
}
