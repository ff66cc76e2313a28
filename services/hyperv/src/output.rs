//! The lines an agent writes to stdout (`schemas/agent/output-line.schema.json`):
//! `log` and `progress` lines (and `event` lines, in `inventory.watch` only), then
//! exactly one `result` line.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::agent_error::AgentError;
use crate::ids::VmId;

/// One line of agent output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum OutputLine {
    /// A message for the operator.
    Log(LogLine),
    /// How far the operation has got.
    Progress(ProgressLine),
    /// A change on the host (`inventory.watch` only).
    Event(EventLine),
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

/// What an event line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventSubject {
    /// One VM (`vm_id` names it).
    Vm,
    /// The host as a whole: a change not tied to one VM, or changes were missed.
    Host,
}

/// How the subject of an event line changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventChange {
    /// It appeared.
    Created,
    /// Its state or settings changed.
    Modified,
    /// It is gone.
    Deleted,
}

/// `{"type":"event","kind":…,"change":…,"vm_id":…}`: a change seen by `inventory.watch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventLine {
    /// A VM or the host.
    pub kind: EventSubject,
    /// How it changed.
    pub change: EventChange,
    /// The VM (kind `vm`); None for kind `host`.
    pub vm_id: Option<VmId>,
}

impl EventLine {
    /// A change of one VM.
    pub fn vm(change: EventChange, vm_id: VmId) -> EventLine {
        EventLine {
            kind: EventSubject::Vm,
            change,
            vm_id: Some(vm_id),
        }
    }

    /// A change of the host as a whole (collect everything again).
    pub fn host() -> EventLine {
        EventLine {
            kind: EventSubject::Host,
            change: EventChange::Modified,
            vm_id: None,
        }
    }
}

/// The result line: success with the operation's data, or failure with an error.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawResultLine")]
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

/// [`RawResultLine`] borrowed, so that writing a result does not copy its data.
#[derive(Serialize)]
struct RawResultLineRef<'a> {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a AgentError>,
}

impl Serialize for ResultLine {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = match self {
            ResultLine::Ok { data } => RawResultLineRef {
                ok: true,
                data: Some(data),
                error: None,
            },
            ResultLine::Error { error } => RawResultLineRef {
                ok: false,
                data: None,
                error: Some(error),
            },
        };
        raw.serialize(serializer)
    }
}

impl ResultLine {
    /// The result line of a JSON object already known to be one (`type` is `result`),
    /// taking `data` as it is instead of rebuilding it; `None` where deserialising it
    /// would fail.
    pub(crate) fn from_object(mut object: Map<String, Value>) -> Option<ResultLine> {
        object.remove("type");
        let ok = object.remove("ok")?.as_bool()?;
        let data = match object.remove("data") {
            None | Some(Value::Null) => None,
            Some(Value::Object(data)) => Some(data),
            Some(_) => return None,
        };
        let error = match object.remove("error") {
            None | Some(Value::Null) => None,
            Some(error) => Some(serde_json::from_value::<AgentError>(error).ok()?),
        };
        if !object.is_empty() {
            return None;
        }
        ResultLine::try_from(RawResultLine { ok, data, error }).ok()
    }
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
    /// An `event` line: a change on the host (`inventory.watch` only).
    Change(EventLine),
    /// Text the agent wrote to stderr (decoded from CLIXML where needed): diagnostics,
    /// never part of the protocol.
    Stderr(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The by-hand result reading agrees with serde's for every shape of result line.
    #[test]
    fn result_from_object_agrees_with_deserialize() {
        let error = OutputLine::Result(ResultLine::Error {
            error: AgentError::new(
                crate::agent_error::ErrorDetails::Internal(crate::agent_error::InternalDetails {
                    exception_type: "E".to_owned(),
                    script_stack_trace: None,
                }),
                "m",
            ),
        })
        .to_json();
        let error_with_data = error.replace(r#""ok":false,"#, r#""ok":false,"data":{},"#);
        let lines = [
            error.as_str(),
            error_with_data.as_str(),
            r#"{"type":"result","ok":true,"data":{"b":1,"a":[{"x":null}]}}"#,
            r#"{"type":"result","ok":true,"data":{},"error":null}"#,
            r#"{"type":"result","ok":true,"data":null}"#,
            r#"{"type":"result","ok":true}"#,
            r#"{"type":"result","ok":"yes","data":{}}"#,
            r#"{"type":"result","ok":true,"data":[]}"#,
            r#"{"type":"result","ok":true,"data":{},"extra":1}"#,
            r#"{"type":"result","data":{}}"#,
            r#"{"type":"result","ok":false,"error":{"code":"INTERNAL","message":"m","details":{"exception_type":"E","script_stack_trace":null}}}"#,
            r#"{"type":"result","ok":false,"error":{"code":"INTERNAL"}}"#,
            r#"{"type":"result","ok":false,"data":{},"error":{"code":"INTERNAL","message":"m","details":{"exception_type":"E","script_stack_trace":null}}}"#,
        ];
        let mut accepted = 0;
        for line in lines {
            let Ok(Value::Object(object)) = serde_json::from_str::<Value>(line) else {
                panic!("test line is not an object: {line}");
            };
            let by_serde = match serde_json::from_str::<OutputLine>(line) {
                Ok(OutputLine::Result(result)) => Some(result),
                _ => None,
            };
            let by_hand = ResultLine::from_object(object);
            assert_eq!(by_hand, by_serde, "{line}");
            accepted += usize::from(by_hand.is_some());
        }
        assert_eq!(accepted, 4, "some lines must be accepted, others refused");
    }

    #[test]
    fn a_result_is_written_as_the_raw_line() {
        let mut data = Map::new();
        data.insert("z".into(), Value::from(1));
        data.insert("a".into(), Value::from("x"));
        let line = OutputLine::Result(ResultLine::Ok { data });
        assert_eq!(
            line.to_json(),
            r#"{"type":"result","ok":true,"data":{"z":1,"a":"x"}}"#
        );
    }
}
