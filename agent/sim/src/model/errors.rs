//! The agent errors the model answers, built with the details their code requires and
//! messages worded like the Hyper-V cmdlets'.

use aetherv_hyperv::{
    AgentError, AgentErrorCode, AgentIntegrityDetails, AlreadyExistsDetails, CancelledDetails,
    ErrorDetails, ExistingKind, FieldError, HypervComponent, HypervUnavailableDetails,
    InsufficientResourcesDetails, InternalDetails, InvalidRequestDetails, InvalidStateDetails,
    NotFoundDetails, ObjectKind, Operation, OperationFailedDetails, ScarceResource, TimeoutDetails,
    UnsupportedOperationDetails, UnsupportedProtocolDetails, VmId, VmNotFoundDetails, VmState,
};

/// VM_NOT_FOUND, as Get-VM -Id words it.
pub fn vm_not_found(vm_id: VmId) -> AgentError {
    AgentError::new(
        ErrorDetails::VmNotFound(VmNotFoundDetails { vm_id }),
        format!("Hyper-V was unable to find a virtual machine with id \"{vm_id}\"."),
    )
}

/// INVALID_STATE: the VM's state does not allow the operation.
pub fn invalid_state(
    vm_id: VmId,
    state: VmState,
    allowed_states: Vec<VmState>,
    what: &str,
) -> AgentError {
    let allowed: Vec<&str> = allowed_states.iter().map(|s| s.as_str()).collect();
    AgentError::new(
        ErrorDetails::InvalidState(InvalidStateDetails {
            vm_id,
            state,
            allowed_states,
        }),
        format!(
            "cannot {what} while the virtual machine is {state}; allowed when {}",
            allowed.join(" or ")
        ),
    )
}

/// NOT_FOUND for a named or identified object, listing what exists.
pub fn not_found(kind: ObjectKind, name: &str, available: Vec<String>) -> AgentError {
    let what = match kind {
        ObjectKind::Disk => "virtual hard disk drive",
        ObjectKind::Nic => "network adapter",
        ObjectKind::Image => "golden image",
        ObjectKind::StorageClass => "storage class",
        ObjectKind::Network => "network",
        ObjectKind::Switch => "virtual switch",
    };
    AgentError::new(
        ErrorDetails::NotFound(NotFoundDetails {
            kind,
            name: name.to_owned(),
            available,
        }),
        format!("{what} \"{name}\" was not found on this host"),
    )
}

/// ALREADY_EXISTS for a VM name or a file path.
pub fn already_exists(kind: ExistingKind, name: &str) -> AgentError {
    let message = match kind {
        ExistingKind::Vm => {
            format!("a virtual machine named \"{name}\" already exists on this host")
        }
        ExistingKind::File => format!("the file \"{name}\" already exists"),
    };
    AgentError::new(
        ErrorDetails::AlreadyExists(AlreadyExistsDetails {
            kind,
            name: name.to_owned(),
        }),
        message,
    )
}

/// INSUFFICIENT_RESOURCES: disk space (with the folder) or memory.
pub fn insufficient(
    resource: ScarceResource,
    required_bytes: u64,
    available_bytes: u64,
    path: Option<String>,
) -> AgentError {
    let message = match (&resource, &path) {
        (ScarceResource::DiskSpace, Some(p)) => format!(
            "there is not enough space on the disk holding \"{p}\": {required_bytes} bytes needed, {available_bytes} free"
        ),
        _ => format!(
            "not enough memory in the system to start the virtual machine: {required_bytes} bytes needed, {available_bytes} available"
        ),
    };
    AgentError::new(
        ErrorDetails::InsufficientResources(InsufficientResourcesDetails {
            resource,
            required_bytes,
            available_bytes,
            path,
        }),
        message,
    )
}

/// INVALID_REQUEST for one field (pointer relative to the request, e.g. `/params/size_bytes`).
pub fn invalid_request(pointer: &str, message: &str) -> AgentError {
    AgentError::new(
        ErrorDetails::InvalidRequest(InvalidRequestDetails {
            errors: vec![FieldError {
                pointer: pointer.to_owned(),
                message: message.to_owned(),
            }],
        }),
        format!("invalid request: {pointer} {message}"),
    )
}

/// OPERATION_FAILED: a cmdlet failed.
pub fn operation_failed(cmdlet: &str, message: &str, error_id: Option<&str>) -> AgentError {
    AgentError::new(
        ErrorDetails::OperationFailed(OperationFailedDetails {
            cmdlet: cmdlet.to_owned(),
            message: message.to_owned(),
            error_id: error_id.map(str::to_owned),
        }),
        format!("{cmdlet} failed: {message}"),
    )
}

/// TIMEOUT: the agent gave up waiting.
pub fn timeout(step: &str, waited_seconds: u64, message: String) -> AgentError {
    AgentError::new(
        ErrorDetails::Timeout(TimeoutDetails {
            step: step.to_owned(),
            waited_seconds,
        }),
        message,
    )
}

/// CANCELLED: interrupted by Ctrl+C; `done` says what was done.
pub fn cancelled(step: Option<&str>, done: &str) -> AgentError {
    AgentError::new(
        ErrorDetails::Cancelled(CancelledDetails {
            step: step.map(str::to_owned),
        }),
        format!("the operation was interrupted; {done}"),
    )
}

/// AGENT_INTEGRITY: the script's hash is not the pinned one.
pub fn integrity(expected: &str, actual: &str) -> AgentError {
    AgentError::new(
        ErrorDetails::AgentIntegrity(AgentIntegrityDetails {
            expected_sha256: expected.to_owned(),
            actual_sha256: actual.to_owned(),
        }),
        "the agent script received on stdin does not have the SHA-256 pinned in the bootstrap; nothing was run",
    )
}

/// An error of the given code, with plausible details, for the fail-next fault knob.
/// `vm_id` is the request's VM when it has one.
pub fn injected(
    code: AgentErrorCode,
    message: &str,
    operation: Option<Operation>,
    vm_id: Option<VmId>,
) -> AgentError {
    let vm = vm_id.unwrap_or_else(|| VmId::from_uuid(uuid::Uuid::nil()));
    let details = match code {
        AgentErrorCode::InvalidRequest => ErrorDetails::InvalidRequest(InvalidRequestDetails {
            errors: vec![FieldError {
                pointer: String::new(),
                message: message.to_owned(),
            }],
        }),
        AgentErrorCode::UnsupportedProtocol => {
            ErrorDetails::UnsupportedProtocol(UnsupportedProtocolDetails {
                requested: Some(1),
                supported: vec![aetherv_hyperv::PROTOCOL_VERSION],
            })
        }
        AgentErrorCode::UnsupportedOperation => {
            ErrorDetails::UnsupportedOperation(UnsupportedOperationDetails {
                operation: operation.map(|o| o.as_str().to_owned()).unwrap_or_default(),
                supported: Operation::ALL
                    .iter()
                    .map(|o| o.as_str().to_owned())
                    .collect(),
            })
        }
        AgentErrorCode::AgentIntegrity => ErrorDetails::AgentIntegrity(AgentIntegrityDetails {
            expected_sha256: "0".repeat(64),
            actual_sha256: "f".repeat(64),
        }),
        AgentErrorCode::HypervUnavailable => {
            ErrorDetails::HypervUnavailable(HypervUnavailableDetails {
                component: HypervComponent::Service,
                name: "vmms".to_owned(),
                state: Some("Stopped".to_owned()),
            })
        }
        AgentErrorCode::VmNotFound => ErrorDetails::VmNotFound(VmNotFoundDetails { vm_id: vm }),
        AgentErrorCode::NotFound => ErrorDetails::NotFound(NotFoundDetails {
            kind: ObjectKind::Disk,
            name: String::new(),
            available: Vec::new(),
        }),
        AgentErrorCode::AlreadyExists => ErrorDetails::AlreadyExists(AlreadyExistsDetails {
            kind: ExistingKind::Vm,
            name: String::new(),
        }),
        AgentErrorCode::InvalidState => ErrorDetails::InvalidState(InvalidStateDetails {
            vm_id: vm,
            state: VmState::Other,
            allowed_states: Vec::new(),
        }),
        AgentErrorCode::InsufficientResources => {
            ErrorDetails::InsufficientResources(InsufficientResourcesDetails {
                resource: ScarceResource::Memory,
                required_bytes: 0,
                available_bytes: 0,
                path: None,
            })
        }
        AgentErrorCode::OperationFailed => ErrorDetails::OperationFailed(OperationFailedDetails {
            cmdlet: operation
                .map(cmdlet_of)
                .unwrap_or("Invoke-AetherVAgent")
                .to_owned(),
            message: message.to_owned(),
            error_id: None,
        }),
        AgentErrorCode::Timeout => ErrorDetails::Timeout(TimeoutDetails {
            step: "fault injection".to_owned(),
            waited_seconds: 0,
        }),
        AgentErrorCode::Cancelled => ErrorDetails::Cancelled(CancelledDetails { step: None }),
        AgentErrorCode::Internal => ErrorDetails::Internal(InternalDetails {
            exception_type: "System.Management.Automation.RuntimeException".to_owned(),
            script_stack_trace: None,
        }),
    };
    AgentError::new(details, message)
}

/// The main cmdlet behind an operation.
pub fn cmdlet_of(operation: Operation) -> &'static str {
    match operation {
        Operation::AgentInfo => "Get-CimInstance",
        Operation::Noop => "Invoke-AetherVAgent",
        Operation::InventoryCollect => "Get-VM",
        Operation::InventoryWatch => "Register-CimIndicationEvent",
        Operation::HostResources => "Get-Volume",
        Operation::VmPower => "Start-VM",
        Operation::VmCreate => "New-VM",
        Operation::VmUpdate => "Set-VM",
        Operation::VmDelete => "Remove-VM",
        Operation::DiskCreate => "New-VHD",
        Operation::DiskResize => "Resize-VHD",
        Operation::DiskDelete => "Remove-VMHardDiskDrive",
        Operation::NicCreate => "Add-VMNetworkAdapter",
        Operation::NicUpdate => "Set-VMNetworkAdapter",
        Operation::NicDelete => "Remove-VMNetworkAdapter",
    }
}
