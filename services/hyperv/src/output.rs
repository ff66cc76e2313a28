//! The lines an agent writes to stdout (`schemas/agent/output-line.schema.json`):
//! `log` and `progress` lines, then exactly one `result` line.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::agent_error::AgentError;

/// One line of agent output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum OutputLine {
    /// A message for the operator.
    Log(LogLine),
    /// How far the operation has got.
    Progress(ProgressLine),
    /// The outcome; the last line.
    Result(ResultLine),
}

impl OutputLine {
    /// The line as compact JSON, without a line end.
    pub fn to_json(&self) -> String {
        // Serialising these types cannot fail (string keys only).
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A log line's severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Information.
    Info,
    /// Something the operator should look at; the operation goes on.
    Warning,
    /// Something failed; the result says whether the operation did.
    Error,
}

/// `{"type":"log","level":…,"message":…}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogLine {
    /// Severity.
    pub level: LogLevel,
    /// The message.
    pub message: String,
}

/// `{"type":"progress","step":…,"percent":…,"message"?:…}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressLine {
    /// The step under way.
    pub step: String,
    /// Completion of the whole operation, 0–100.
    pub percent: u8,
    /// Optional detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub message: Option<String>,
}

/// The result line: success with the operation's data, or failure with an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawResultLine", into = "RawResultLine")]
pub enum ResultLine {
    /// `{"ok":true,"data":{…}}`
    Ok {
        /// The operation's result.
        data: Map<String, Value>,
    },
    /// `{"ok":false,"error":{…}}`
    Error {
        /// Why it failed.
        error: AgentError,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResultLine {
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<AgentError>,
}

impl TryFrom<RawResultLine> for ResultLine {
    type Error = &'static str;
    fn try_from(raw: RawResultLine) -> Result<Self, &'static str> {
        match (raw.ok, raw.data, raw.error) {
            (true, Some(data), None) => Ok(ResultLine::Ok { data }),
            (false, None, Some(error)) => Ok(ResultLine::Error { error }),
            (true, _, _) => Err("a result with ok true needs data and no error"),
            (false, _, _) => Err("a result with ok false needs an error and no data"),
        }
    }
}

impl From<ResultLine> for RawResultLine {
    fn from(line: ResultLine) -> Self {
        match line {
            ResultLine::Ok { data } => RawResultLine {
                ok: true,
                data: Some(data),
                error: None,
            },
            ResultLine::Error { error } => RawResultLine {
                ok: false,
                data: None,
                error: Some(error),
            },
        }
    }
}

impl JsonSchema for ResultLine {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("ResultLine")
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let error = generator.subschema_for::<AgentError>();
        schemars::json_schema!({
            "type": "object",
            "additionalProperties": false,
            "required": ["ok"],
            "properties": {
                "ok": { "type": "boolean" },
                "data": { "type": "object" },
                "error": error
            }
        })
    }
}

/// What a running operation reports before its result, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentEvent {
    /// A `log` line.
    Log(LogLine),
    /// A `progress` line.
    Progress(ProgressLine),
    /// Text the agent wrote to stderr (decoded from CLIXML where needed): diagnostics,
    /// never part of the protocol.
    Stderr(String),
}
