//! The process behind each WinRS command on a simulated host ([`AgentHandler`], the
//! `aetherv_winrm` `CommandHandler`):
//!
//! - `powershell.exe` (bare or full path, any case) with `-EncodedCommand <bootstrap>`:
//!   reads stdin to its end, checks the script's SHA-256 against the pinned one
//!   (AGENT_INTEGRITY), decodes and validates the request (INVALID_REQUEST naming the
//!   field, UNSUPPORTED_PROTOCOL, UNSUPPORTED_OPERATION), applies the host's fault knobs,
//!   runs the operation on the model, streams `log`/`progress` lines and one `result`;
//!   exit code 0 when ok, 1 otherwise;
//! - `powershell.exe` with anything else: what powershell.exe prints (a bad parameter:
//!   plain text and exit code 64; PowerShell code: the CLIXML "not recognized" error the
//!   simulated host, which has no cmdlets, gives, and exit code 1);
//! - any other command: cmd.exe's "is not recognized" on stderr and exit code 1 (with
//!   `WINRS_SKIP_CMD_SHELL` a command that is not a full path to powershell.exe gets the
//!   file-not-found fault, as Windows answers).
//!
//! Every outgoing `ok` result is checked against its schema; a result that fails (a
//! defect of the simulator) is replaced by an INTERNAL error saying why.

pub mod bootstrap;
pub mod cmdline;
pub mod emit;
pub mod exec;

use aetherv_hyperv::{
    AgentError, AgentRequest, ErrorDetails, InternalDetails, Operation, ResultLine, validate_result,
};
use aetherv_winrm::fault::Fault;
use aetherv_winrm::server::{CommandHandler, CommandRequest, ProcessFuture, ProcessIo};
use bytes::Bytes;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::host::SimHost;
use crate::knobs::MalformedMode;
use crate::model::errors;
use crate::oplog::Outcome;
use bootstrap::Script;
use cmdline::Invocation;
use emit::Emitter;

/// The longest request line read (a request is a few KiB).
pub const MAX_REQUEST_LINE: usize = 16 * 1024 * 1024;

/// The simulated host's process table: one per host.
#[derive(Debug, Clone)]
pub struct AgentHandler {
    host: SimHost,
}

impl AgentHandler {
    /// The handler of `host`.
    pub fn new(host: SimHost) -> AgentHandler {
        AgentHandler { host }
    }
}

/// The command's entry in the operation log; marks it terminated if dropped unfinished.
struct Record {
    host: SimHost,
    seq: u64,
    finished: bool,
}

impl Record {
    fn set(&self, f: impl FnOnce(&mut crate::oplog::OperationRecord)) {
        self.host.log().update(self.seq, f);
    }

    fn finish(mut self, outcome: Outcome, exit_code: i32) -> i32 {
        self.finished = true;
        self.host.log().finish(self.seq, outcome, Some(exit_code));
        exit_code
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        if !self.finished {
            self.host.log().finish(self.seq, Outcome::Terminated, None);
        }
    }
}

impl CommandHandler for AgentHandler {
    fn start(&self, request: CommandRequest, io: ProcessIo) -> Result<ProcessFuture, Fault> {
        let tokens = cmdline::split(&request.command_line());
        let exe = tokens.first().cloned().unwrap_or_default();
        let powershell = cmdline::is_powershell(&exe);
        if request.skip_cmd_shell && !(powershell && exe.contains('\\')) {
            return Err(Fault::file_not_found(&request.machine));
        }
        let seq = self.host.log().start(
            &exe,
            &request.command_id,
            &request.shell.user,
            &request.shell.client.to_string(),
        );
        let record = Record {
            host: self.host.clone(),
            seq,
            finished: false,
        };
        if !powershell {
            return Ok(Box::pin(async move {
                let _ = io
                    .stderr
                    .send(Bytes::from(cmdline::not_recognized(&exe)))
                    .await;
                record.finish(Outcome::Rejected, 1)
            }));
        }
        let args = tokens.get(1..).unwrap_or_default().to_vec();
        Ok(Box::pin(powershell_process(record, args, io)))
    }
}

async fn write(tx: &mpsc::Sender<Bytes>, text: String) {
    let _ = tx.send(Bytes::from(text)).await;
}

async fn powershell_process(record: Record, args: Vec<String>, io: ProcessIo) -> i32 {
    let ProcessIo {
        stdin,
        stdout,
        stderr,
        cancel,
    } = io;
    let script = match cmdline::parse_powershell(&args) {
        Invocation::MissingValue(name) => {
            write(&stderr, cmdline::missing_value(name)).await;
            return record.finish(Outcome::Rejected, cmdline::EXIT_BAD_COMMAND_LINE);
        }
        Invocation::File(path) => {
            write(&stderr, cmdline::file_not_found(&path)).await;
            return record.finish(Outcome::Rejected, cmdline::EXIT_BAD_COMMAND_LINE);
        }
        Invocation::Command(text) => text,
        Invocation::Stdin => {
            let read = read_stdin(stdin, &cancel).await;
            let text = format!(
                "{}\n{}",
                read.request_line,
                String::from_utf8_lossy(&read.head)
            );
            if text.trim().is_empty() {
                return record.finish(Outcome::Rejected, 0);
            }
            text
        }
        Invocation::Encoded(value) => match bootstrap::decode_encoded_command(&value) {
            Err(_) => {
                write(&stderr, cmdline::BAD_ENCODING.to_owned()).await;
                return record.finish(Outcome::Rejected, cmdline::EXIT_BAD_COMMAND_LINE);
            }
            Ok(script) => match bootstrap::classify(&script) {
                Script::Bootstrap { pinned_sha256 } => {
                    return agent(record, pinned_sha256, stdin, stdout, cancel).await;
                }
                Script::Other => script,
            },
        },
    };
    write(&stderr, cmdline::command_not_found(&script)).await;
    record.finish(Outcome::Rejected, 1)
}

/// Reads stdin to its end (or until Ctrl+C / terminate) as the bootstrap does.
async fn read_stdin(
    mut stdin: mpsc::Receiver<Bytes>,
    cancel: &CancellationToken,
) -> bootstrap::Stdin {
    let mut reader = bootstrap::StdinReader::new(MAX_REQUEST_LINE);
    loop {
        let chunk = tokio::select! {
            c = stdin.recv() => c,
            _ = cancel.cancelled() => None,
        };
        let Some(chunk) = chunk else { break };
        reader.feed(&chunk);
    }
    reader.finish()
}

fn internal(message: String) -> AgentError {
    AgentError::new(
        ErrorDetails::Internal(InternalDetails {
            exception_type: "System.InvalidOperationException".to_owned(),
            script_stack_trace: None,
        }),
        message,
    )
}

/// Checks an ok result against its schema before it goes out.
fn checked(operation: Operation, data: Map<String, Value>) -> ResultLine {
    let value = Value::Object(data);
    match validate_result(operation, &value) {
        Ok(()) => match value {
            Value::Object(data) => ResultLine::Ok { data },
            _ => ResultLine::Error {
                error: internal("the result is not an object".to_owned()),
            },
        },
        Err(e) => {
            tracing::error!(%operation, error = %e, "simulator produced a result that fails its schema");
            ResultLine::Error {
                error: internal(format!("aetherv-hvsim defect: {e}")),
            }
        }
    }
}

async fn agent(
    record: Record,
    pinned: String,
    stdin: mpsc::Receiver<Bytes>,
    stdout: mpsc::Sender<Bytes>,
    cancel: CancellationToken,
) -> i32 {
    let out = Emitter::new(stdout);
    let stdin = read_stdin(stdin, &cancel).await;
    let line = stdin.request_line.clone();
    let host = record.host.clone();
    let peek: Option<Value> = serde_json::from_str(line.trim_start_matches('\u{feff}')).ok();
    let name = peek
        .as_ref()
        .and_then(|v| v.get("operation")?.as_str().map(str::to_owned));
    let correlation = peek
        .as_ref()
        .and_then(|v| v.get("correlation_id")?.as_str().map(str::to_owned));
    record.set(|r| {
        r.operation = name.clone();
        r.correlation_id = correlation.clone();
    });
    let operation = name.as_deref().and_then(Operation::from_wire);
    let (result, malformed) = if stdin.script_sha256 != pinned {
        let malformed = host.knobs_mut().take_malformed(operation);
        let error = errors::integrity(&pinned, &stdin.script_sha256);
        (ResultLine::Error { error }, malformed)
    } else {
        match AgentRequest::decode(&line) {
            Err(e) => {
                let malformed = host.knobs_mut().take_malformed(operation);
                (
                    ResultLine::Error {
                        error: e.to_agent_error(),
                    },
                    malformed,
                )
            }
            Ok((request, params)) => {
                let op = request.operation();
                let (latency, failure, malformed) = {
                    let mut k = host.knobs_mut();
                    (
                        k.latency_of(Some(op)),
                        k.take_failure(op),
                        k.take_malformed(Some(op)),
                    )
                };
                if !latency.is_zero() {
                    tokio::select! {
                        _ = tokio::time::sleep(latency) => {}
                        _ = cancel.cancelled() => return record.finish(Outcome::Terminated, 1),
                    }
                }
                let result = match failure {
                    Some(f) => ResultLine::Error {
                        error: errors::injected(f.code, &f.message, Some(op), exec::vm_of(&params)),
                    },
                    None => {
                        let version = stdin
                            .declared_version
                            .clone()
                            .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned());
                        let call = exec::Call {
                            host: &host,
                            out: &out,
                            cancel: &cancel,
                            correlation_id: request.correlation_id().as_str(),
                            agent_sha256: &stdin.script_sha256,
                            agent_version: &version,
                        };
                        match exec::execute(&call, params).await {
                            Ok(data) => checked(op, data),
                            Err(error) => ResultLine::Error { error },
                        }
                    }
                };
                (result, malformed)
            }
        }
    };
    let (ok, code) = match &result {
        ResultLine::Ok { .. } => (true, None),
        ResultLine::Error { error } => (false, Some(error.code().as_str().to_owned())),
    };
    out.result(result, malformed).await;
    drop(out);
    let exit = if ok || malformed == Some(MalformedMode::NoResult) {
        0
    } else {
        1
    };
    let outcome = match (malformed, ok) {
        (Some(_), _) => Outcome::Malformed,
        (None, true) => Outcome::Ok,
        (None, false) => Outcome::Error,
    };
    record.set(|r| {
        r.error_code = code;
        r.malformed = malformed.map(|m| m.as_str().to_owned());
    });
    record.finish(outcome, exit)
}
