//! The `details` of each error code (`error.schema.json#/$defs/<code>`), and
//! [`ErrorDetails`], whose variant decides the code.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AgentErrorCode, FieldError};
use crate::ids::VmId;
use crate::vm_state::VmState;

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
