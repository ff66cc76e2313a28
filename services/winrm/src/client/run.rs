//! [`Client::run`]: one command in its own shell, stdout/stderr streamed to the caller as
//! they arrive, the exit code returned, and the command never left running on the host.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::error::{Error, TimeoutKind};
use super::shell::{Client, Shell, check_command_line};
use crate::messages::{CommandOptions, ShellOptions, Signal};

/// One command to run with [`Client::run`].
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// The executable (a full path with `skip_cmd_shell`).
    pub command: String,
    /// Arguments, joined with spaces by Windows (not quoted).
    pub args: Vec<String>,
    /// Data for stdin, sent in envelope-sized chunks with End on the last; `None` sends nothing.
    pub stdin: Option<Bytes>,
    /// The whole command must finish within this time from the call; when it passes the
    /// command is terminated (Signal terminate, then Delete the shell) and the call returns
    /// [`Error::Timeout`] with [`TimeoutKind::Command`].
    pub deadline: Option<Duration>,
    /// Options of the shell opened for this command.
    pub shell: ShellOptions,
    /// Options of the command.
    pub options: CommandOptions,
}

impl CommandSpec {
    /// A command with the project's defaults: UTF-8 shell (`WINRS_CODEPAGE=65001`), no
    /// profile, console-mode stdin off, through cmd.exe, no stdin and no deadline.
    pub fn new(command: impl Into<String>, args: Vec<String>) -> CommandSpec {
        CommandSpec {
            command: command.into(),
            args,
            stdin: None,
            deadline: None,
            shell: ShellOptions {
                codepage: Some(65001),
                no_profile: Some(true),
                ..ShellOptions::default()
            },
            options: CommandOptions {
                skip_cmd_shell: false,
                console_mode_stdin: Some(false),
            },
        }
    }
}

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// Raw bytes of stdout or stderr, in arrival order. Chunks may split UTF-8 sequences:
/// concatenate per stream before decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputChunk {
    pub stream: OutputStream,
    pub data: Bytes,
}

/// How long cleanup (Signal + Delete) may take.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Default)]
struct CleanupState {
    shell_id: Option<String>,
    command_id: Option<String>,
    done: bool,
}

/// Terminates the command and deletes the shell if the run future is dropped midway.
struct CleanupGuard {
    client: Client,
    state: Arc<Mutex<CleanupState>>,
}

impl CleanupGuard {
    fn take(&self) -> (Option<String>, Option<String>) {
        match self.state.lock() {
            Ok(mut s) => {
                s.done = true;
                (s.shell_id.take(), s.command_id.take())
            }
            Err(_) => (None, None),
        }
    }

    async fn cleanup_now(&self) {
        let (shell, command) = self.take();
        cleanup(self.client.clone(), shell, command).await;
    }
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        // Marking the run done also tells a shell still being opened to delete itself
        // (see `open_owned_shell`).
        let (shell, command) = self.take();
        if shell.is_none() {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                debug!(endpoint = %self.client.endpoint(), "run cancelled; terminating the remote command");
                handle.spawn(cleanup(self.client.clone(), shell, command));
            }
            Err(_) => {
                warn!(endpoint = %self.client.endpoint(), "run dropped outside a runtime; remote shell left to its idle timeout")
            }
        }
    }
}

/// Opens the run's shell in a task of its own, so that a run cancelled or timed out while
/// the Create request is in flight still learns the new shell's id: the task records it
/// for the cleanup, or, when the run is already over, deletes the shell itself.
async fn open_owned_shell(
    client: &Client,
    options: &ShellOptions,
    state: Arc<Mutex<CleanupState>>,
) -> Result<Shell, Error> {
    let client = client.clone();
    let options = options.clone();
    let endpoint = client.endpoint().to_owned();
    let opening = tokio::spawn(async move {
        let shell = client.open_shell(&options).await?;
        let abandoned = match state.lock() {
            Ok(mut s) if !s.done => {
                s.shell_id = Some(shell.id().to_owned());
                false
            }
            _ => true,
        };
        if abandoned {
            debug!(endpoint = %client.endpoint(), "run ended while its shell was opening; deleting it");
            cleanup(client, Some(shell.id().to_owned()), None).await;
            return Err(Error::Cancelled);
        }
        Ok(shell)
    });
    match opening.await {
        Ok(result) => result,
        Err(join) => Err(Error::protocol(
            &endpoint,
            format!("the task opening the shell failed: {join}"),
            b"",
        )),
    }
}

async fn cleanup(client: Client, shell_id: Option<String>, command_id: Option<String>) {
    let Some(shell_id) = shell_id else { return };
    let shell = Shell::attach(&client, shell_id);
    let work = async {
        if let Some(cmd) = &command_id
            && let Err(e) = shell.signal(cmd, Signal::Terminate).await
        {
            debug!(error = %e, "signal terminate during cleanup failed");
        }
        if let Err(e) = shell.delete().await {
            debug!(error = %e, "delete shell during cleanup failed");
        }
    };
    if tokio::time::timeout(CLEANUP_TIMEOUT, work).await.is_err() {
        warn!(endpoint = %client.endpoint(), shell_id = %shell.id(), "cleanup of the remote shell timed out");
    }
}

impl Client {
    /// Runs one command in a fresh shell: stdin is sent while output is received, each
    /// stdout/stderr chunk goes to `sink` as it arrives, and the exit code is returned.
    ///
    /// The command is never left running on the host: after it finishes it gets the final
    /// Signal terminate and the shell is deleted; on an error, on the deadline, when `sink`
    /// is closed ([`Error::Cancelled`]) or when this future is dropped, the command is
    /// terminated and the shell deleted (from a spawned task when dropped).
    pub async fn run(
        &self,
        spec: CommandSpec,
        sink: mpsc::Sender<OutputChunk>,
    ) -> Result<i32, Error> {
        check_command_line(&spec.command, &spec.args, spec.options.skip_cmd_shell)?;
        let guard = CleanupGuard {
            client: self.clone(),
            state: Arc::new(Mutex::new(CleanupState::default())),
        };
        let deadline = spec.deadline;
        let work = self.run_inner(spec, sink, guard.state.clone());
        let result = match deadline {
            Some(d) => match tokio::time::timeout(d, work).await {
                Ok(r) => r,
                Err(_) => Err(Error::Timeout {
                    kind: TimeoutKind::Command,
                    endpoint: self.endpoint().to_owned(),
                    seconds: d.as_secs_f64(),
                }),
            },
            None => work.await,
        };
        guard.cleanup_now().await;
        result
    }

    async fn run_inner(
        &self,
        spec: CommandSpec,
        sink: mpsc::Sender<OutputChunk>,
        state: Arc<Mutex<CleanupState>>,
    ) -> Result<i32, Error> {
        let shell = open_owned_shell(self, &spec.shell, state.clone()).await?;
        let command_id = shell
            .command(&spec.command, &spec.args, &spec.options)
            .await?;
        if let Ok(mut s) = state.lock() {
            s.command_id = Some(command_id.clone());
        }
        // Stdin that fits one Send goes before the first Receive, so a run needs only one
        // connection at a time. Longer stdin is sent while receiving: the process may write
        // output before it has read all of its input.
        let mut stdin = spec.stdin.clone();
        if let Some(data) = &stdin
            && data.len() <= shell.stdin_chunk_len(&command_id)
        {
            shell.send_stdin(&command_id, data, true).await?;
            stdin = None;
        }
        let send = async {
            match &stdin {
                Some(data) => shell.send_stdin(&command_id, data, true).await,
                None => Ok(()),
            }
        };
        let receive = receive_until_done(&shell, &command_id, &sink);
        tokio::pin!(send, receive);
        let mut sent = stdin.is_none();
        loop {
            tokio::select! {
                r = &mut send, if !sent => { r?; sent = true; }
                r = &mut receive => return r,
            }
        }
    }
}

async fn receive_until_done(
    shell: &Shell,
    command_id: &str,
    sink: &mpsc::Sender<OutputChunk>,
) -> Result<i32, Error> {
    loop {
        let out = shell.receive(command_id).await?;
        for chunk in &out.streams {
            let stream = match chunk.name.as_str() {
                "stdout" => OutputStream::Stdout,
                "stderr" => OutputStream::Stderr,
                _ => continue,
            };
            if chunk.data.is_empty() {
                continue;
            }
            let item = OutputChunk {
                stream,
                data: Bytes::from(chunk.data.clone()),
            };
            if sink.send(item).await.is_err() {
                return Err(Error::Cancelled);
            }
        }
        if out.is_done() {
            return out.exit_code().ok_or_else(|| {
                Error::protocol(
                    shell.client().endpoint(),
                    "command state Done without an exit code",
                    b"",
                )
            });
        }
    }
}
