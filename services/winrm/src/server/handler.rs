//! The seam between the WinRS server and whatever plays the process behind a Command.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::fault::Fault;

/// The future of a running process; it resolves to the exit code.
pub type ProcessFuture = Pin<Box<dyn Future<Output = i32> + Send + 'static>>;

/// What the server knows about the shell a command runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellInfo {
    /// Upper-case GUID.
    pub shell_id: String,
    /// The authenticated user that owns the shell (account name, as the client sent it).
    pub user: String,
    /// The client's address.
    pub client: SocketAddr,
    /// `WINRS_CODEPAGE`, when given.
    pub codepage: Option<u32>,
    /// `WINRS_NOPROFILE`.
    pub no_profile: bool,
    /// Shell environment variables.
    pub environment: Vec<(String, String)>,
    /// Shell working directory.
    pub working_directory: Option<String>,
}

/// A WinRS Command to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRequest {
    pub shell: Arc<ShellInfo>,
    /// Upper-case GUID (or the id the client chose).
    pub command_id: String,
    /// `rsp:Command` as sent (e.g. `powershell.exe` or a full path).
    pub command: String,
    /// `rsp:Arguments`, in order.
    pub arguments: Vec<String>,
    /// `WINRS_SKIP_CMD_SHELL`: false means Windows would run it through `cmd.exe /c`.
    pub skip_cmd_shell: bool,
    /// `WINRS_CONSOLEMODE_STDIN`, when given.
    pub console_mode_stdin: Option<bool>,
    /// The server's computer name, for faults the handler builds (`Fault::file_not_found(machine)`).
    pub machine: String,
}

impl CommandRequest {
    /// Command and arguments joined with spaces, as Windows sees the command line.
    pub fn command_line(&self) -> String {
        crate::messages::joined_command_line(&self.command, &self.arguments)
    }
}

/// The process's pipes, handed to [`CommandHandler::start`].
///
/// - `stdin` yields the client's stdin chunks in order; it ends (`recv()` gives `None`)
///   after the chunk sent with `End="true"` (or when the command is terminated).
/// - `stdout`/`stderr` are bounded: a send waits while the client is not receiving.
///   Dropping a sender ends that stream (`End="true"`); both end when the future returns.
/// - `cancel` fires on Signal terminate / ctrl_c / ctrl_break and on Delete of the shell.
///   After terminate or Delete the server also drops the future, so a handler only needs
///   the token to stop work it spawned elsewhere.
#[derive(Debug)]
pub struct ProcessIo {
    pub stdin: mpsc::Receiver<Bytes>,
    pub stdout: mpsc::Sender<Bytes>,
    pub stderr: mpsc::Sender<Bytes>,
    pub cancel: CancellationToken,
}

/// Supplies the process behind each WinRS Command.
///
/// `start` is called once per Command, after the server has applied the shell's own rules
/// (the cmd.exe 8191-character limit and CreateProcess's 32767 limit never reach the
/// handler). Returning `Err` answers the Command request with that fault (e.g.
/// [`Fault::file_not_found`]); returning a future runs it — the server polls it, streams its
/// output to Receive, and reports its output as the exit code.
pub trait CommandHandler: Send + Sync + 'static {
    fn start(&self, request: CommandRequest, io: ProcessIo) -> Result<ProcessFuture, Fault>;
}

impl<F> CommandHandler for F
where
    F: Fn(CommandRequest, ProcessIo) -> Result<ProcessFuture, Fault> + Send + Sync + 'static,
{
    fn start(&self, request: CommandRequest, io: ProcessIo) -> Result<ProcessFuture, Fault> {
        self(request, io)
    }
}
