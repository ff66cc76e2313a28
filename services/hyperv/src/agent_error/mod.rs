//! The error a host agent reports for a failed operation (`schemas/agent/error.schema.json`):
//! a code from a closed list, a message for the operator, and details whose shape depends
//! on the code. [`AgentError`] keeps code and details consistent by construction.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::VmId;
use crate::vm_state::VmState;

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

/// Details of INVALID_REQUEST.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvalidRequestDetails {
    /// Every problem found, at least one.
    pub errors: Vec<FieldError>,
}

/// Details of UNSUPPORTED_PROTOCOL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnsupportedProtocolDetails {
    /// The version the request named, if an integer.
    pub requested: Option<i64>,
    /// The versions the agent speaks.
    pub supported: Vec<u32>,
}

/// Details of UNSUPPORTED_OPERATION.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnsupportedOperationDetails {
    /// The operation the request named.
    pub operation: String,
    /// The operations the agent implements.
    pub supported: Vec<String>,
}

/// Details of AGENT_INTEGRITY.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentIntegrityDetails {
    /// Hash pinned in the bootstrap.
    pub expected_sha256: String,
    /// Hash of the script received.
    pub actual_sha256: String,
}

/// Which part of Hyper-V is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HypervComponent {
    /// The Hyper-V PowerShell module.
    Module,
    /// The vmms Windows service.
    Service,
}

/// Details of HYPERV_UNAVAILABLE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HypervUnavailableDetails {
    /// Module or service.
    pub component: HypervComponent,
    /// "Hyper-V" or "vmms".
    pub name: String,
    /// The service's status; None when absent.
    pub state: Option<String>,
}

/// Details of VM_NOT_FOUND.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VmNotFoundDetails {
    /// The VM looked for.
    pub vm_id: VmId,
}

/// What kind of object NOT_FOUND concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// A VM's disk drive.
    Disk,
    /// A VM's network adapter.
    Nic,
    /// A catalogue golden image.
    Image,
    /// A catalogue storage class.
    StorageClass,
    /// A catalogue network.
    Network,
    /// A virtual switch.
    Switch,
}

/// Details of NOT_FOUND.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotFoundDetails {
    /// What was looked for.
    pub kind: ObjectKind,
    /// Its name or id.
    pub name: String,
    /// What does exist.
    pub available: Vec<String>,
}

/// What kind of object ALREADY_EXISTS concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExistingKind {
    /// A VM of that name.
    Vm,
    /// A file at that path.
    File,
}

/// Details of ALREADY_EXISTS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlreadyExistsDetails {
    /// VM or file.
    pub kind: ExistingKind,
    /// VM name or full path.
    pub name: String,
}

/// Details of INVALID_STATE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvalidStateDetails {
    /// The VM.
    pub vm_id: VmId,
    /// Its state when refused.
    pub state: VmState,
    /// States that would allow the operation.
    pub allowed_states: Vec<VmState>,
}

/// What INSUFFICIENT_RESOURCES lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScarceResource {
    /// Space on a volume.
    DiskSpace,
    /// Host memory.
    Memory,
}

/// Details of INSUFFICIENT_RESOURCES.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InsufficientResourcesDetails {
    /// What is short.
    pub resource: ScarceResource,
    /// How much is needed.
    pub required_bytes: u64,
    /// How much there is.
    pub available_bytes: u64,
    /// The folder whose volume is short (disk space); None for memory.
    pub path: Option<String>,
}

/// Details of OPERATION_FAILED.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OperationFailedDetails {
    /// The cmdlet that failed.
    pub cmdlet: String,
    /// Its error message.
    pub message: String,
    /// Its FullyQualifiedErrorId.
    pub error_id: Option<String>,
}

/// Details of TIMEOUT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeoutDetails {
    /// What the agent waited for.
    pub step: String,
    /// How long, in whole seconds.
    pub waited_seconds: u64,
}

/// Details of CANCELLED.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelledDetails {
    /// The interrupted step, if known.
    pub step: Option<String>,
}

/// Details of INTERNAL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InternalDetails {
    /// The .NET exception type.
    pub exception_type: String,
    /// The PowerShell script stack trace.
    pub script_stack_trace: Option<String>,
}

/// The details of an agent error; the variant decides the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorDetails {
    /// INVALID_REQUEST
    InvalidRequest(InvalidRequestDetails),
    /// UNSUPPORTED_PROTOCOL
    UnsupportedProtocol(UnsupportedProtocolDetails),
    /// UNSUPPORTED_OPERATION
    UnsupportedOperation(UnsupportedOperationDetails),
    /// AGENT_INTEGRITY
    AgentIntegrity(AgentIntegrityDetails),
    /// HYPERV_UNAVAILABLE
    HypervUnavailable(HypervUnavailableDetails),
    /// VM_NOT_FOUND
    VmNotFound(VmNotFoundDetails),
    /// NOT_FOUND
    NotFound(NotFoundDetails),
    /// ALREADY_EXISTS
    AlreadyExists(AlreadyExistsDetails),
    /// INVALID_STATE
    InvalidState(InvalidStateDetails),
    /// INSUFFICIENT_RESOURCES
    InsufficientResources(InsufficientResourcesDetails),
    /// OPERATION_FAILED
    OperationFailed(OperationFailedDetails),
    /// TIMEOUT
    Timeout(TimeoutDetails),
    /// CANCELLED
    Cancelled(CancelledDetails),
    /// INTERNAL
    Internal(InternalDetails),
}

/// Applies `$body` to the inner details of any variant.
macro_rules! each_details {
    ($value:expr, $inner:ident => $body:expr) => {
        match $value {
            ErrorDetails::InvalidRequest($inner) => $body,
            ErrorDetails::UnsupportedProtocol($inner) => $body,
            ErrorDetails::UnsupportedOperation($inner) => $body,
            ErrorDetails::AgentIntegrity($inner) => $body,
            ErrorDetails::HypervUnavailable($inner) => $body,
            ErrorDetails::VmNotFound($inner) => $body,
            ErrorDetails::NotFound($inner) => $body,
            ErrorDetails::AlreadyExists($inner) => $body,
            ErrorDetails::InvalidState($inner) => $body,
            ErrorDetails::InsufficientResources($inner) => $body,
            ErrorDetails::OperationFailed($inner) => $body,
            ErrorDetails::Timeout($inner) => $body,
            ErrorDetails::Cancelled($inner) => $body,
            ErrorDetails::Internal($inner) => $body,
        }
    };
}

impl ErrorDetails {
    /// The code these details belong to.
    pub fn code(&self) -> AgentErrorCode {
        match self {
            ErrorDetails::InvalidRequest(_) => AgentErrorCode::InvalidRequest,
            ErrorDetails::UnsupportedProtocol(_) => AgentErrorCode::UnsupportedProtocol,
            ErrorDetails::UnsupportedOperation(_) => AgentErrorCode::UnsupportedOperation,
            ErrorDetails::AgentIntegrity(_) => AgentErrorCode::AgentIntegrity,
            ErrorDetails::HypervUnavailable(_) => AgentErrorCode::HypervUnavailable,
            ErrorDetails::VmNotFound(_) => AgentErrorCode::VmNotFound,
            ErrorDetails::NotFound(_) => AgentErrorCode::NotFound,
            ErrorDetails::AlreadyExists(_) => AgentErrorCode::AlreadyExists,
            ErrorDetails::InvalidState(_) => AgentErrorCode::InvalidState,
            ErrorDetails::InsufficientResources(_) => AgentErrorCode::InsufficientResources,
            ErrorDetails::OperationFailed(_) => AgentErrorCode::OperationFailed,
            ErrorDetails::Timeout(_) => AgentErrorCode::Timeout,
            ErrorDetails::Cancelled(_) => AgentErrorCode::Cancelled,
            ErrorDetails::Internal(_) => AgentErrorCode::Internal,
        }
    }

    /// Parses the details of `code` from JSON.
    pub fn from_value(code: AgentErrorCode, details: Value) -> Result<Self, serde_json::Error> {
        use serde_json::from_value as parse;
        Ok(match code {
            AgentErrorCode::InvalidRequest => ErrorDetails::InvalidRequest(parse(details)?),
            AgentErrorCode::UnsupportedProtocol => {
                ErrorDetails::UnsupportedProtocol(parse(details)?)
            }
            AgentErrorCode::UnsupportedOperation => {
                ErrorDetails::UnsupportedOperation(parse(details)?)
            }
            AgentErrorCode::AgentIntegrity => ErrorDetails::AgentIntegrity(parse(details)?),
            AgentErrorCode::HypervUnavailable => ErrorDetails::HypervUnavailable(parse(details)?),
            AgentErrorCode::VmNotFound => ErrorDetails::VmNotFound(parse(details)?),
            AgentErrorCode::NotFound => ErrorDetails::NotFound(parse(details)?),
            AgentErrorCode::AlreadyExists => ErrorDetails::AlreadyExists(parse(details)?),
            AgentErrorCode::InvalidState => ErrorDetails::InvalidState(parse(details)?),
            AgentErrorCode::InsufficientResources => {
                ErrorDetails::InsufficientResources(parse(details)?)
            }
            AgentErrorCode::OperationFailed => ErrorDetails::OperationFailed(parse(details)?),
            AgentErrorCode::Timeout => ErrorDetails::Timeout(parse(details)?),
            AgentErrorCode::Cancelled => ErrorDetails::Cancelled(parse(details)?),
            AgentErrorCode::Internal => ErrorDetails::Internal(parse(details)?),
        })
    }

    /// The details as JSON.
    pub fn to_value(&self) -> Value {
        // Serialising these plain structs cannot fail: string keys, no maps with
        // non-string keys, no custom serialisers that error.
        each_details!(self, inner => serde_json::to_value(inner).unwrap_or(Value::Null))
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
