//! The incremental parser of an agent's stdout. Feed it bytes as they arrive (chunks may
//! split lines and UTF-8 sequences anywhere); it yields `log`, `progress` (and, for
//! `inventory.watch`, `event`) events as
//! their lines complete and, at the end, the result line. Any break of the protocol is a
//! [`ProtocolViolation`] naming the host, the operation and the first 200 bytes of stdout.

use serde_json::Value;

use crate::agent_error::FieldError;
use crate::ids::HostId;
use crate::operation::Operation;
use crate::output::{AgentEvent, OutputLine, ResultLine};
use crate::schema::{SchemaError, result_schema_file, validate_output_line, validate_result};

/// How many bytes of stdout a violation quotes.
pub const EXCERPT_BYTES: usize = 200;

/// The default limit on one line (an inventory of a thousand VMs is a few MiB).
pub const DEFAULT_MAX_LINE_BYTES: usize = 32 * 1024 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// What broke the protocol. Line numbers count from 1, over all lines including blank ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViolationKind {
    /// stdout ended without a result line.
    #[error("no result line")]
    NoResult,
    /// A second result line.
    #[error("a second result line at line {line}")]
    DuplicateResult {
        /// Where.
        line: usize,
    },
    /// A log or progress line after the result.
    #[error("output after the result line, at line {line}")]
    OutputAfterResult {
        /// Where.
        line: usize,
    },
    /// An event line in an operation other than `inventory.watch`.
    #[error("an event line at line {line}, outside inventory.watch")]
    UnexpectedEvent {
        /// Where.
        line: usize,
    },
    /// A line that is not UTF-8.
    #[error("line {line} is not utf-8")]
    NotUtf8 {
        /// Where.
        line: usize,
    },
    /// A line that is not JSON.
    #[error("line {line} is not json")]
    NotJson {
        /// Where.
        line: usize,
    },
    /// A JSON line that is not a valid output line.
    #[error("line {line} is not a valid output line: {}", join(errors))]
    InvalidEnvelope {
        /// Where.
        line: usize,
        /// What is wrong, by JSON pointer within the line.
        errors: Vec<FieldError>,
    },
    /// A successful result whose data fails the operation's result schema.
    #[error(
        "the result data at line {line} does not match {schema}: {}",
        join(errors)
    )]
    InvalidResultData {
        /// Where.
        line: usize,
        /// The schema file.
        schema: String,
        /// What is wrong, by JSON pointer within `data`.
        errors: Vec<FieldError>,
    },
    /// A line longer than the limit.
    #[error("line {line} is longer than {limit} bytes")]
    LineTooLong {
        /// Where.
        line: usize,
        /// The limit.
        limit: usize,
    },
    /// The exit code disagrees with the result (0 when ok, non-zero otherwise).
    #[error("exit code {exit_code} with a result whose ok is {ok}")]
    ExitCodeMismatch {
        /// The result's `ok`.
        ok: bool,
        /// The process's exit code.
        exit_code: i32,
    },
}

fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(FieldError::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A host's agent broke the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "host {host} broke the agent protocol in {operation}: {kind}; its output began {excerpt:?}"
)]
pub struct ProtocolViolation {
    /// The host.
    pub host: HostId,
    /// The operation.
    pub operation: Operation,
    /// What went wrong.
    pub kind: ViolationKind,
    /// The first 200 bytes of stdout (lossy UTF-8).
    pub excerpt: String,
}

/// The parser; one per operation run.
#[derive(Debug)]
pub struct OutputParser {
    host: HostId,
    operation: Operation,
    max_line_bytes: usize,
    pending: Vec<u8>,
    excerpt: Vec<u8>,
    lines: usize,
    result: Option<ResultLine>,
    failed: Option<ProtocolViolation>,
}

impl OutputParser {
    /// A parser for `operation` run on `host`.
    pub fn new(host: HostId, operation: Operation) -> Self {
        Self {
            host,
            operation,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            pending: Vec::new(),
            excerpt: Vec::with_capacity(EXCERPT_BYTES),
            lines: 0,
            result: None,
            failed: None,
        }
    }

    /// Changes the limit on one line's length.
    pub fn with_max_line_bytes(mut self, limit: usize) -> Self {
        self.max_line_bytes = limit;
        self
    }

    /// The first 200 bytes of stdout seen so far (lossy UTF-8).
    pub fn excerpt(&self) -> String {
        String::from_utf8_lossy(&self.excerpt).into_owned()
    }

    /// Consumes a chunk of stdout; returns the events of the lines it completes. After a
    /// violation, every call returns that violation again.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<AgentEvent>, ProtocolViolation> {
        if let Some(violation) = &self.failed {
            return Err(violation.clone());
        }
        let room = EXCERPT_BYTES.saturating_sub(self.excerpt.len());
        self.excerpt
            .extend_from_slice(&chunk[..room.min(chunk.len())]);
        let mut events = Vec::new();
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            self.pending.extend_from_slice(&rest[..end]);
            rest = &rest[end + 1..];
            let line = std::mem::take(&mut self.pending);
            self.check_length(line.len())?;
            if let Some(event) = self.line(&line)? {
                events.push(event);
            }
        }
        self.pending.extend_from_slice(rest);
        self.check_length(self.pending.len())?;
        Ok(events)
    }

    /// Ends the stream: handles a last line without a line end, then returns the result.
    /// `exit_code`, when known, must be 0 for an ok result and non-zero otherwise.
    /// Events of the last line, if any, are returned with the result.
    pub fn finish(
        mut self,
        exit_code: Option<i32>,
    ) -> Result<(Vec<AgentEvent>, ResultLine), ProtocolViolation> {
        if let Some(violation) = self.failed.take() {
            return Err(violation);
        }
        let mut events = Vec::new();
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            if let Some(event) = self.line(&line)? {
                events.push(event);
            }
        }
        let Some(result) = self.result.take() else {
            return Err(self.violation(ViolationKind::NoResult));
        };
        let ok = matches!(result, ResultLine::Ok { .. });
        if let Some(exit_code) = exit_code
            && ok != (exit_code == 0)
        {
            return Err(self.violation(ViolationKind::ExitCodeMismatch { ok, exit_code }));
        }
        Ok((events, result))
    }

    fn violation(&mut self, kind: ViolationKind) -> ProtocolViolation {
        let violation = ProtocolViolation {
            host: self.host.clone(),
            operation: self.operation,
            kind,
            excerpt: self.excerpt(),
        };
        self.failed = Some(violation.clone());
        violation
    }

    fn check_length(&mut self, length: usize) -> Result<(), ProtocolViolation> {
        if length > self.max_line_bytes {
            let kind = ViolationKind::LineTooLong {
                line: self.lines + 1,
                limit: self.max_line_bytes,
            };
            return Err(self.violation(kind));
        }
        Ok(())
    }

    /// Handles one complete line (without its `\n`).
    fn line(&mut self, raw: &[u8]) -> Result<Option<AgentEvent>, ProtocolViolation> {
        self.lines += 1;
        let line = self.lines;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let raw = raw.strip_prefix(BOM).unwrap_or(raw);
        let Ok(text) = std::str::from_utf8(raw) else {
            return Err(self.violation(ViolationKind::NotUtf8 { line }));
        };
        if text.trim().is_empty() {
            return Ok(None);
        }
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            return Err(self.violation(ViolationKind::NotJson { line }));
        };
        if let Err(error) = validate_output_line(&value) {
            return Err(self.violation(ViolationKind::InvalidEnvelope {
                line,
                errors: errors_of(error),
            }));
        }
        let is_result = value.get("type").and_then(Value::as_str) == Some("result");
        if self.result.is_some() {
            let kind = if is_result {
                ViolationKind::DuplicateResult { line }
            } else {
                ViolationKind::OutputAfterResult { line }
            };
            return Err(self.violation(kind));
        }
        if is_result
            && let Some(data) = value.get("data")
            && let Err(error) = validate_result(self.operation, data)
        {
            return Err(self.violation(ViolationKind::InvalidResultData {
                line,
                schema: result_schema_file(self.operation),
                errors: errors_of(error),
            }));
        }
        let parsed = match value {
            // The result carries the operation's data (an inventory can be megabytes):
            // moved into the result, not rebuilt through serde's buffered tagged enum.
            Value::Object(object) if is_result => {
                ResultLine::from_object(object).map(OutputLine::Result)
            }
            other => serde_json::from_value::<OutputLine>(other).ok(),
        };
        let Some(parsed) = parsed else {
            let errors = vec![FieldError {
                pointer: String::new(),
                message: "matches the schema but not the output line type".to_owned(),
            }];
            return Err(self.violation(ViolationKind::InvalidEnvelope { line, errors }));
        };
        match parsed {
            OutputLine::Log(log) => Ok(Some(AgentEvent::Log(log))),
            OutputLine::Progress(progress) => Ok(Some(AgentEvent::Progress(progress))),
            OutputLine::Event(event) if self.operation == Operation::InventoryWatch => {
                Ok(Some(AgentEvent::Change(event)))
            }
            OutputLine::Event(_) => Err(self.violation(ViolationKind::UnexpectedEvent { line })),
            OutputLine::Result(result) => {
                self.result = Some(result);
                Ok(None)
            }
        }
    }
}

fn errors_of(error: SchemaError) -> Vec<FieldError> {
    match error {
        SchemaError::Invalid { errors, .. } => errors,
        SchemaError::Unusable(message) => vec![FieldError {
            pointer: String::new(),
            message,
        }],
    }
}
