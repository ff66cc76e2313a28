//! The error a host agent reports for a failed operation (`schemas/agent/error.schema.json`):
//! a code from a closed list, a message for the operator, and details whose shape depends
//! on the code. [`AgentError`] keeps code and details consistent by construction.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod details;

pub use details::*;

/// The closed list of agent error codes. The descriptions are the schema's, word for word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AgentErrorCode {
    /// The request line is not valid JSON, or the request or its params break the operation's schema or a rule the schema cannot express (e.g. memory minimum above startup).
    InvalidRequest,
    /// The request's protocol version is not one this agent speaks.
    UnsupportedProtocol,
    /// The operation is not one this agent implements.
    UnsupportedOperation,
    /// The SHA-256 of the agent script received on stdin differs from the hash pinned in the bootstrap; nothing was run.
    AgentIntegrity,
    /// The Hyper-V PowerShell module is missing or the Hyper-V Virtual Machine Management service (vmms) is absent or not running.
    HypervUnavailable,
    /// No VM with the given id exists on this host.
    VmNotFound,
    /// A named or identified object other than a VM does not exist: a disk, NIC, golden image, storage class, network or virtual switch.
    NotFound,
    /// The object to create exists already: a VM with that name, or a file at the target path.
    AlreadyExists,
    /// The VM's current state does not allow the operation (e.g. shutdown of a VM that is Off, or a processor change while Running).
    InvalidState,
    /// The host lacks the disk space or memory the operation needs.
    InsufficientResources,
    /// A Hyper-V cmdlet failed for a reason not covered by a more specific code.
    OperationFailed,
    /// The agent gave up waiting for something (e.g. a guest that ignores shutdown) within the time the request allowed.
    Timeout,
    /// The operation was interrupted (Ctrl+C signal) before it finished; what was done is in 'message'.
    Cancelled,
    /// A defect in the agent: an unexpected exception.
    Internal,
}

impl AgentErrorCode {
    /// Every code, in the schema's order.
    pub const ALL: [AgentErrorCode; 14] = [
        AgentErrorCode::InvalidRequest,
        AgentErrorCode::UnsupportedProtocol,
        AgentErrorCode::UnsupportedOperation,
        AgentErrorCode::AgentIntegrity,
        AgentErrorCode::HypervUnavailable,
        AgentErrorCode::VmNotFound,
        AgentErrorCode::NotFound,
        AgentErrorCode::AlreadyExists,
        AgentErrorCode::InvalidState,
        AgentErrorCode::InsufficientResources,
        AgentErrorCode::OperationFailed,
        AgentErrorCode::Timeout,
        AgentErrorCode::Cancelled,
        AgentErrorCode::Internal,
    ];

    /// The wire string, e.g. "VM_NOT_FOUND".
    pub fn as_str(self) -> &'static str {
        match self {
            AgentErrorCode::InvalidRequest => "INVALID_REQUEST",
            AgentErrorCode::UnsupportedProtocol => "UNSUPPORTED_PROTOCOL",
            AgentErrorCode::UnsupportedOperation => "UNSUPPORTED_OPERATION",
            AgentErrorCode::AgentIntegrity => "AGENT_INTEGRITY",
            AgentErrorCode::HypervUnavailable => "HYPERV_UNAVAILABLE",
            AgentErrorCode::VmNotFound => "VM_NOT_FOUND",
            AgentErrorCode::NotFound => "NOT_FOUND",
            AgentErrorCode::AlreadyExists => "ALREADY_EXISTS",
            AgentErrorCode::InvalidState => "INVALID_STATE",
            AgentErrorCode::InsufficientResources => "INSUFFICIENT_RESOURCES",
            AgentErrorCode::OperationFailed => "OPERATION_FAILED",
            AgentErrorCode::Timeout => "TIMEOUT",
            AgentErrorCode::Cancelled => "CANCELLED",
            AgentErrorCode::Internal => "INTERNAL",
        }
    }

    /// The code's meaning (the schema's description of it).
    pub fn description(self) -> &'static str {
        match self {
            AgentErrorCode::InvalidRequest => {
                "The request line is not valid JSON, or the request or its params break the operation's schema or a rule the schema cannot express (e.g. memory minimum above startup)."
            }
            AgentErrorCode::UnsupportedProtocol => {
                "The request's protocol version is not one this agent speaks."
            }
            AgentErrorCode::UnsupportedOperation => {
                "The operation is not one this agent implements."
            }
            AgentErrorCode::AgentIntegrity => {
                "The SHA-256 of the agent script received on stdin differs from the hash pinned in the bootstrap; nothing was run."
            }
            AgentErrorCode::HypervUnavailable => {
                "The Hyper-V PowerShell module is missing or the Hyper-V Virtual Machine Management service (vmms) is absent or not running."
            }
            AgentErrorCode::VmNotFound => "No VM with the given id exists on this host.",
            AgentErrorCode::NotFound => {
                "A named or identified object other than a VM does not exist: a disk, NIC, golden image, storage class, network or virtual switch."
            }
            AgentErrorCode::AlreadyExists => {
                "The object to create exists already: a VM with that name, or a file at the target path."
            }
            AgentErrorCode::InvalidState => {
                "The VM's current state does not allow the operation (e.g. shutdown of a VM that is Off, or a processor change while Running)."
            }
            AgentErrorCode::InsufficientResources => {
                "The host lacks the disk space or memory the operation needs."
            }
            AgentErrorCode::OperationFailed => {
                "A Hyper-V cmdlet failed for a reason not covered by a more specific code."
            }
            AgentErrorCode::Timeout => {
                "The agent gave up waiting for something (e.g. a guest that ignores shutdown) within the time the request allowed."
            }
            AgentErrorCode::Cancelled => {
                "The operation was interrupted (Ctrl+C signal) before it finished; what was done is in 'message'."
            }
            AgentErrorCode::Internal => "A defect in the agent: an unexpected exception.",
        }
    }
}

impl std::fmt::Display for AgentErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldError {
    /// JSON pointer to the field ("" for the whole document).
    pub pointer: String,
    /// What is wrong, without the value.
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {}", self.message)
    }
}

/// A failed operation as the agent reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawAgentError", into = "RawAgentError")]
pub struct AgentError {
    /// One line for the operator.
    pub message: String,
    /// Structured details; decides the code.
    pub details: ErrorDetails,
}

impl AgentError {
    /// An error with these details and message.
    pub fn new(details: ErrorDetails, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            details,
        }
    }

    /// The error code.
    pub fn code(&self) -> AgentErrorCode {
        self.details.code()
    }
}

impl std::fmt::Display for AgentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.message)
    }
}

/// The wire form of [`AgentError`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgentError {
    code: AgentErrorCode,
    message: String,
    details: Value,
}

impl TryFrom<RawAgentError> for AgentError {
    type Error = String;
    fn try_from(raw: RawAgentError) -> Result<Self, String> {
        let details = ErrorDetails::from_value(raw.code, raw.details)
            .map_err(|e| format!("details of {}: {e}", raw.code))?;
        Ok(AgentError {
            message: raw.message,
            details,
        })
    }
}

impl From<AgentError> for RawAgentError {
    fn from(error: AgentError) -> Self {
        RawAgentError {
            code: error.code(),
            details: error.details.to_value(),
            message: error.message,
        }
    }
}

impl JsonSchema for AgentError {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("AgentError")
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let code = generator.subschema_for::<AgentErrorCode>();
        schemars::json_schema!({
            "type": "object",
            "additionalProperties": false,
            "required": ["code", "message", "details"],
            "properties": {
                "code": code,
                "message": { "type": "string" },
                "details": { "type": "object" }
            }
        })
    }
}
