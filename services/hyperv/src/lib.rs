//! The agent protocol between the control plane and Hyper-V hosts (`schemas/agent/` is
//! its contract): typed operations with their params and results, the closed list of
//! error codes, VM states and Hyper-V's power-transition rules, the embedded JSON Schemas
//! and their validators, the incremental parser of an agent's JSON-lines output, and the
//! [`HostAgent`] trait through which every service runs an operation on a host.
//!
//! Called by the services that touch hosts (remote-tasks, host-deploy, inventory, jobs)
//! and by the simulator (`aetherv-hvsim`), which decodes requests with
//! [`AgentRequest::decode`] and must produce results these schemas accept. It calls
//! `aetherv-winrm` only: [`WinrmHostAgent`], the WinRM implementation of [`HostAgent`],
//! lives beside the trait, with the host agent bundle built in ([`AgentBundle`], from
//! `agent/host/`) and the [`Bootstrap`] that runs it.
//!
//! One call: build an [`AgentRequest`] (validated), send `request.to_json_line()` then the packed
//! agent bundle on stdin, feed stdout to an [`OutputParser`] as it arrives, forward its
//! [`AgentEvent`]s, and end with the [`ResultLine`] or a [`ProtocolViolation`]:
//!
//! ```
//! use aetherv_hyperv::ops::vm::VmPowerParams;
//! use aetherv_hyperv::*;
//!
//! let vm = VmId::parse("0f8fad5b-d9cb-469f-a165-70867728950e")?;
//! let params = VmPowerParams::new(vm, PowerAction::Start);
//! let request = AgentRequest::from_params(CorrelationId::parse("job-1")?, &params)?;
//! assert!(request.to_json_line().starts_with(r#"{"protocol":1,"operation":"vm.power""#));
//!
//! let mut parser = OutputParser::new(HostId::parse("HV-01")?, Operation::VmPower);
//! let stdout = concat!(
//!     r#"{"type":"progress","step":"Start-VM","percent":50}"#, "\r\n",
//!     r#"{"type":"result","ok":true,"data":{"vm_id":"0f8fad5b-d9cb-469f-a165-70867728950e","#,
//!     r#""action":"start","previous_state":"Off","state":"Running","turned_off_after_timeout":false}}"#,
//! );
//! let (head, tail) = stdout.as_bytes().split_at(60); // chunks may split lines anywhere
//! let mut events = parser.feed(head)?;
//! events.extend(parser.feed(tail)?);
//! let (last, result) = parser.finish(Some(0))?;
//! assert_eq!(events.len() + last.len(), 1);
//! let ResultLine::Ok { data } = result else { unreachable!("the agent reported an error") };
//! let typed: ops::vm::VmPowerResult = serde_json::from_value(data.into())?;
//! assert_eq!(typed.state, VmState::Running);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod agent;
mod agent_error;
mod bootstrap;
mod bundle;
mod ids;
mod model;
mod operation;
pub mod ops;
mod output;
mod parser;
mod request;
mod schema;
mod serde_util;
mod target;
mod vm_state;
pub mod winrm_agent;

pub use agent::{
    AgentOutcome, CallOptions, Error, HostAgent, HostAgentExt, TransportError, TransportErrorKind,
};
pub use agent_error::{
    AgentError, AgentErrorCode, AgentIntegrityDetails, AlreadyExistsDetails, CancelledDetails,
    ErrorDetails, ExistingKind, FieldError, HypervComponent, HypervUnavailableDetails,
    InsufficientResourcesDetails, InternalDetails, InvalidRequestDetails, InvalidStateDetails,
    NotFoundDetails, ObjectKind, OperationFailedDetails, ScarceResource, TimeoutDetails,
    UnsupportedOperationDetails, UnsupportedProtocolDetails, VmNotFoundDetails,
};
pub use bootstrap::{
    Bootstrap, BootstrapError, CMD_LINE_LIMIT, POWERSHELL, POWERSHELL_ARGS, decode_encoded_command,
    encode_command, pinned_sha256,
};
pub use bundle::{AgentBundle, BOOTSTRAP_TEMPLATE, BUNDLE_FILES};
pub use ids::{CorrelationId, DiskId, Error as IdError, HostId, NicId, VmId};
pub use model::{
    ControllerType, Disk, DiskType, Generation, Image, Network, NewDiskType, Nic, OsFamily,
    ResourceCatalogue, SecureBootTemplate, StorageClass, StorageLocation, SwitchType, Timestamp,
    VirtualSwitch, Vm, Warning,
};
pub use operation::{Operation, OperationParams, Params};
pub use output::{
    AgentEvent, EventChange, EventLine, EventSubject, LogLevel, LogLine, OutputLine, ProgressLine,
    ResultLine,
};
pub use parser::{
    DEFAULT_MAX_LINE_BYTES, EXCERPT_BYTES, OutputParser, ProtocolViolation, ViolationKind,
};
pub use request::{AgentRequest, PROTOCOL_VERSION, RequestError};
pub use schema::{
    SCHEMA_BASE_URI, SCHEMA_FILES, SchemaError, ensure_compiled, params_schema_file,
    result_schema_file, validate_against, validate_output_line, validate_params, validate_request,
    validate_result,
};
pub use target::{AuthKind, EndpointSettings, HostTarget, Secret, TargetError, Timeouts};
pub use vm_state::{NotAllowed, PowerAction, PowerTransition, VmState};
pub use winrm_agent::{WinrmAgentOptions, WinrmHostAgent};
