//! Writing the agent's stdout: one compact JSON object per line (CR LF, as Windows
//! PowerShell writes), `log` and `progress` as the work happens, then the `result` — or,
//! when the malformed-output knob says so, a broken version of it.

use aetherv_hyperv::{EventLine, LogLevel, LogLine, OutputLine, ProgressLine, ResultLine};
use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::knobs::MalformedMode;

/// A stray line of the kind PowerShell modules print, for [`MalformedMode::NonJsonLine`].
pub const STRAY_LINE: &str = "WARNING: The names of some imported commands from the module 'Hyper-V' include unapproved verbs that might make them less discoverable.";

/// Writes lines to the command's stdout. A gone reader is not an error: the lines are
/// dropped, as a process writing to a closed pipe would lose them.
#[derive(Debug)]
pub struct Emitter {
    stdout: mpsc::Sender<Bytes>,
}

impl Emitter {
    /// Writes to `stdout`.
    pub fn new(stdout: mpsc::Sender<Bytes>) -> Emitter {
        Emitter { stdout }
    }

    /// Writes one raw line.
    pub async fn line(&self, text: &str) {
        let mut line = String::with_capacity(text.len() + 2);
        line.push_str(text);
        line.push_str("\r\n");
        let _ = self.stdout.send(Bytes::from(line)).await;
    }

    /// A `log` line.
    pub async fn log(&self, level: LogLevel, message: impl Into<String>) {
        let line = OutputLine::Log(LogLine {
            level,
            message: message.into(),
        });
        self.line(&line.to_json()).await;
    }

    /// An info `log` line.
    pub async fn info(&self, message: impl Into<String>) {
        self.log(LogLevel::Info, message).await;
    }

    /// A `progress` line.
    pub async fn progress(&self, step: &str, percent: u8, message: Option<String>) {
        let line = OutputLine::Progress(ProgressLine {
            step: step.to_owned(),
            percent: percent.min(100),
            message,
        });
        self.line(&line.to_json()).await;
    }

    /// An `event` line (`inventory.watch`).
    pub async fn event(&self, event: EventLine) {
        self.line(&OutputLine::Event(event).to_json()).await;
    }

    /// The `result` line, broken as `malformed` says.
    pub async fn result(&self, result: ResultLine, malformed: Option<MalformedMode>) {
        let good = OutputLine::Result(result).to_json();
        match malformed {
            None => self.line(&good).await,
            Some(MalformedMode::NoResult) => {}
            Some(MalformedMode::TwoResults) => {
                self.line(&good).await;
                self.line(&good).await;
            }
            Some(MalformedMode::NonJsonLine) => {
                self.line(STRAY_LINE).await;
                self.line(&good).await;
            }
            Some(MalformedMode::InvalidResult) => self.line(&break_schema(&good)).await,
        }
    }
}

/// A result line that still is JSON but fails its schema: an unknown field in `data`, or
/// an unknown error code.
fn break_schema(line: &str) -> String {
    let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(line) else {
        return line.to_owned();
    };
    if let Some(Value::Object(data)) = obj.get_mut("data") {
        data.insert("hvsim_unexpected_field".to_owned(), Value::Bool(true));
    } else if let Some(Value::Object(error)) = obj.get_mut("error") {
        error.insert("code".to_owned(), Value::String("NOT_A_CODE".to_owned()));
    }
    Value::Object(obj).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    async fn collect(malformed: Option<MalformedMode>, result: ResultLine) -> Vec<String> {
        let (tx, mut rx) = mpsc::channel(16);
        let e = Emitter::new(tx);
        e.info("hello").await;
        e.result(result, malformed).await;
        drop(e);
        let mut lines = Vec::new();
        while let Some(b) = rx.recv().await {
            lines.push(String::from_utf8_lossy(&b).into_owned());
        }
        lines
    }

    fn ok() -> ResultLine {
        let mut data = Map::new();
        data.insert("x".into(), json!(1));
        ResultLine::Ok { data }
    }

    #[tokio::test]
    async fn writes_crlf_json_lines_and_each_malformed_mode() {
        let lines = collect(None, ok()).await;
        assert_eq!(
            lines,
            vec![
                "{\"type\":\"log\",\"level\":\"info\",\"message\":\"hello\"}\r\n".to_owned(),
                "{\"type\":\"result\",\"ok\":true,\"data\":{\"x\":1}}\r\n".to_owned(),
            ]
        );
        assert_eq!(collect(Some(MalformedMode::NoResult), ok()).await.len(), 1);
        let two = collect(Some(MalformedMode::TwoResults), ok()).await;
        assert_eq!(two.len(), 3);
        assert_eq!(two[1], two[2]);
        let stray = collect(Some(MalformedMode::NonJsonLine), ok()).await;
        assert!(serde_json::from_str::<Value>(&stray[1]).is_err());
        let invalid = collect(Some(MalformedMode::InvalidResult), ok()).await;
        assert!(invalid[1].contains("hvsim_unexpected_field"));
    }
}
