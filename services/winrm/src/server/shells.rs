//! WinRS semantics: the shell table (with owners), each shell's commands, stdin delivery,
//! the Receive long poll, signals and deletion — as Windows behaves where a client can tell.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::handler::{CommandHandler, CommandRequest, ProcessIo, ShellInfo};
use super::{ServerEvent, ServerInner};
use crate::fault::Fault;
use crate::messages::{
    CommandLine, CommandState, CommandStatus, ReceiveOutput, Signal, StreamChunk,
};

const CMD_LINE_LIMIT: usize = 8191;
const CREATE_PROCESS_LIMIT: usize = 32767;
const LINE_TOO_LONG: &[u8] = b"The command line is too long.\r\n";

struct StreamState {
    rx: mpsc::Receiver<Bytes>,
    closed: bool,
    end_reported: bool,
}

struct OutputState {
    stdout: StreamState,
    stderr: StreamState,
}

pub(crate) struct CommandEntry {
    stdin: Mutex<Option<mpsc::Sender<Bytes>>>,
    output: tokio::sync::Mutex<OutputState>,
    exit: watch::Receiver<Option<i32>>,
    cancel: CancellationToken,
    task: AbortHandle,
}

impl CommandEntry {
    fn kill(&self) {
        self.cancel.cancel();
        self.task.abort();
    }
}

pub(crate) struct ShellEntry {
    pub(crate) info: Arc<ShellInfo>,
    commands: Mutex<HashMap<String, Arc<CommandEntry>>>,
}

/// The shells of one server.
#[derive(Default)]
pub(crate) struct Shells {
    map: Mutex<HashMap<String, Arc<ShellEntry>>>,
}

impl Shells {
    pub(crate) fn count(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub(crate) fn insert(&self, info: ShellInfo) -> Arc<ShellEntry> {
        let entry = Arc::new(ShellEntry {
            info: Arc::new(info),
            commands: Mutex::new(HashMap::new()),
        });
        if let Ok(mut m) = self.map.lock() {
            m.insert(entry.info.shell_id.to_ascii_uppercase(), entry.clone());
        }
        entry
    }

    /// The shell, if it exists and belongs to `user`.
    pub(crate) fn get(&self, shell_id: &str, user: &str) -> Option<Arc<ShellEntry>> {
        let m = self.map.lock().ok()?;
        m.get(&shell_id.to_ascii_uppercase())
            .filter(|s| s.info.user.eq_ignore_ascii_case(user))
            .cloned()
    }

    /// Removes the shell and kills its commands.
    pub(crate) fn remove(&self, shell_id: &str, user: &str) -> bool {
        let Some(shell) = self.get(shell_id, user) else {
            return false;
        };
        if let Ok(mut m) = self.map.lock() {
            m.remove(&shell_id.to_ascii_uppercase());
        }
        let commands: Vec<_> = shell
            .commands
            .lock()
            .map(|mut c| c.drain().map(|(_, v)| v).collect())
            .unwrap_or_default();
        for c in commands {
            c.kill();
        }
        true
    }

    /// Kills everything (server shutdown).
    pub(crate) fn clear(&self) {
        let shells: Vec<_> = self
            .map
            .lock()
            .map(|mut m| m.drain().map(|(_, v)| v).collect())
            .unwrap_or_default();
        for s in shells {
            let commands: Vec<_> = s
                .commands
                .lock()
                .map(|mut c| c.drain().map(|(_, v)| v).collect())
                .unwrap_or_default();
            for c in commands {
                c.kill();
            }
        }
    }
}

impl ShellEntry {
    fn command(&self, id: &str) -> Option<Arc<CommandEntry>> {
        self.commands
            .lock()
            .ok()?
            .get(&id.to_ascii_uppercase())
            .cloned()
    }

    /// Starts a command: the shell's own length rules first, then the handler.
    pub(crate) fn start(
        &self,
        server: &Arc<ServerInner>,
        handler: &dyn CommandHandler,
        line: CommandLine,
    ) -> Result<String, Fault> {
        let machine = &server.config.computer_name;
        let length = line.joined().encode_utf16().count();
        if length > CREATE_PROCESS_LIMIT {
            return Err(Fault::filename_too_long(machine));
        }
        let command_id = line
            .command_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
            .to_ascii_uppercase();
        let buffer = server.config.stream_buffer;
        let (stdin_tx, stdin_rx) = mpsc::channel(buffer);
        let (out_tx, out_rx) = mpsc::channel(buffer);
        let (err_tx, err_rx) = mpsc::channel(buffer);
        let cancel = CancellationToken::new();
        let io = ProcessIo {
            stdin: stdin_rx,
            stdout: out_tx,
            stderr: err_tx,
            cancel: cancel.clone(),
        };
        let process = if !line.options.skip_cmd_shell && length > CMD_LINE_LIMIT {
            // cmd.exe refuses the line: empty stdout, the message on stderr, exit code 1.
            let ProcessIo { stderr, .. } = io;
            Box::pin(async move {
                let _ = stderr.send(Bytes::from_static(LINE_TOO_LONG)).await;
                1
            })
        } else {
            handler.start(
                CommandRequest {
                    shell: self.info.clone(),
                    command_id: command_id.clone(),
                    command: line.command.clone(),
                    arguments: line.arguments.clone(),
                    skip_cmd_shell: line.options.skip_cmd_shell,
                    console_mode_stdin: line.options.console_mode_stdin,
                    machine: machine.clone(),
                },
                io,
            )?
        };
        let (exit_tx, exit_rx) = watch::channel(None);
        let events = server.events.clone();
        let (shell_id, cid) = (self.info.shell_id.clone(), command_id.clone());
        let task = tokio::spawn(async move {
            let code = process.await;
            let _ = exit_tx.send(Some(code));
            let _ = events.send(ServerEvent::CommandFinished {
                shell_id,
                command_id: cid,
                exit_code: code,
            });
        });
        let entry = Arc::new(CommandEntry {
            stdin: Mutex::new(Some(stdin_tx)),
            output: tokio::sync::Mutex::new(OutputState {
                stdout: StreamState {
                    rx: out_rx,
                    closed: false,
                    end_reported: false,
                },
                stderr: StreamState {
                    rx: err_rx,
                    closed: false,
                    end_reported: false,
                },
            }),
            exit: exit_rx,
            cancel,
            task: task.abort_handle(),
        });
        if let Ok(mut c) = self.commands.lock() {
            c.insert(command_id.clone(), entry);
        }
        Ok(command_id)
    }

    /// Delivers stdin chunks in order; waits up to `timeout` for room in the pipe.
    pub(crate) async fn send(
        &self,
        machine: &str,
        chunks: Vec<StreamChunk>,
        timeout: Duration,
    ) -> Result<(usize, bool), Fault> {
        let mut total = 0;
        let mut ended = false;
        for chunk in chunks {
            let id = chunk
                .command_id
                .as_deref()
                .ok_or_else(|| Fault::invalid_parameter(machine))?;
            let cmd = self
                .command(id)
                .ok_or_else(|| Fault::unknown_command(machine))?;
            let tx = cmd.stdin.lock().ok().and_then(|g| g.clone());
            if let Some(tx) = tx {
                total += chunk.data.len();
                if !chunk.data.is_empty() {
                    match tokio::time::timeout(timeout, tx.send(Bytes::from(chunk.data))).await {
                        Err(_) => return Err(Fault::operation_timeout(machine)),
                        Ok(Err(_)) => {} // the process stopped reading stdin: Windows drops it too
                        Ok(Ok(())) => {}
                    }
                }
                if chunk.end {
                    ended = true;
                    if let Ok(mut g) = cmd.stdin.lock() {
                        g.take();
                    }
                }
            }
        }
        Ok((total, ended))
    }

    /// Sends a signal. Terminate kills the command and forgets it.
    pub(crate) fn signal(
        &self,
        machine: &str,
        command_id: &str,
        signal: Signal,
    ) -> Result<(), Fault> {
        let cmd = self
            .command(command_id)
            .ok_or_else(|| Fault::unknown_command(machine))?;
        match signal {
            Signal::Terminate => {
                cmd.kill();
                if let Ok(mut c) = self.commands.lock() {
                    c.remove(&command_id.to_ascii_uppercase());
                }
            }
            Signal::CtrlC | Signal::CtrlBreak => cmd.cancel.cancel(),
        }
        Ok(())
    }

    /// The Receive long poll: returns as soon as there is output or the command is done;
    /// answers the `w:TimedOut` fault when `timeout` passes with nothing new.
    pub(crate) async fn receive(
        &self,
        machine: &str,
        command_id: &str,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<ReceiveOutput, Fault> {
        let cmd = self
            .command(command_id)
            .ok_or_else(|| Fault::unknown_command(machine))?;
        let deadline = Instant::now() + timeout;
        let mut out = match tokio::time::timeout_at(deadline, cmd.output.lock()).await {
            Ok(guard) => guard,
            Err(_) => return Err(Fault::operation_timeout(machine)),
        };
        let mut exit = cmd.exit.clone();
        let mut streams = Vec::new();
        loop {
            let exit_code = *exit.borrow_and_update();
            let mut budget = max_bytes;
            let OutputState { stdout, stderr } = &mut *out;
            drain(
                stdout,
                "stdout",
                &mut streams,
                &mut budget,
                exit_code.is_some(),
            );
            drain(
                stderr,
                "stderr",
                &mut streams,
                &mut budget,
                exit_code.is_some(),
            );
            let finished = exit_code.is_some() && stdout.closed && stderr.closed && budget > 0;
            for (state, name) in [(stdout, "stdout"), (stderr, "stderr")] {
                if state.closed && !state.end_reported && (finished || state_drained(state)) {
                    state.end_reported = true;
                    streams.push(StreamChunk {
                        name: name.into(),
                        command_id: None,
                        data: Vec::new(),
                        end: true,
                    });
                }
            }
            if finished || !streams.is_empty() {
                let status = CommandStatus {
                    command_id: None,
                    state: if finished {
                        CommandState::Done
                    } else {
                        CommandState::Running
                    },
                    exit_code: if finished { exit_code } else { None },
                };
                return Ok(ReceiveOutput {
                    streams: merge_ends(streams),
                    status: Some(status),
                });
            }
            let OutputState { stdout, stderr } = &mut *out;
            tokio::select! {
                Some(b) = stdout.rx.recv(), if !stdout.closed => {
                    streams.push(StreamChunk { name: "stdout".into(), command_id: None, data: b.to_vec(), end: false });
                }
                Some(b) = stderr.rx.recv(), if !stderr.closed => {
                    streams.push(StreamChunk { name: "stderr".into(), command_id: None, data: b.to_vec(), end: false });
                }
                r = exit.changed() => {
                    if r.is_err() && exit.borrow().is_none() {
                        // The process was killed (terminate or Delete) while we waited.
                        return Err(Fault::unknown_command(machine));
                    }
                }
                _ = tokio::time::sleep_until(deadline) => return Err(Fault::operation_timeout(machine)),
            }
            // A recv that returned None (closed) is noticed by the next drain.
        }
    }
}

fn state_drained(state: &StreamState) -> bool {
    state.rx.is_empty()
}

/// Moves available chunks of one stream into `streams`, within `budget` bytes. Marks the
/// stream closed when its senders are gone, or when the process has exited and nothing is
/// left (a handler that leaked a sender must not hold Done back forever).
fn drain(
    state: &mut StreamState,
    name: &str,
    streams: &mut Vec<StreamChunk>,
    budget: &mut usize,
    exited: bool,
) {
    while !state.closed && *budget > 0 {
        match state.rx.try_recv() {
            Ok(b) => {
                *budget = budget.saturating_sub(b.len());
                streams.push(StreamChunk {
                    name: name.into(),
                    command_id: None,
                    data: b.to_vec(),
                    end: false,
                });
            }
            Err(mpsc::error::TryRecvError::Disconnected) => state.closed = true,
            Err(mpsc::error::TryRecvError::Empty) => {
                if exited {
                    state.closed = true;
                }
                break;
            }
        }
    }
}

/// Orders chunks stdout-first like Windows and keeps each stream's End after its data.
fn merge_ends(streams: Vec<StreamChunk>) -> Vec<StreamChunk> {
    let (mut out, mut err): (Vec<_>, Vec<_>) =
        streams.into_iter().partition(|c| c.name == "stdout");
    out.sort_by_key(|c| c.end);
    err.sort_by_key(|c| c.end);
    out.extend(err);
    out
}
