//! Result instances of every operation and an error of every code.

use aetherv_hyperv::ops::agent::NoopResult;
use aetherv_hyperv::ops::disk::DiskDeleteResult;
use aetherv_hyperv::ops::nic::NicDeleteResult;
use aetherv_hyperv::ops::vm::{VmDeleteResult, VmPowerResult};
use aetherv_hyperv::*;
use serde_json::Value;

use super::*;

/// (operation, label, result data JSON): for each operation a fully populated and a minimal result.
pub fn result_instances() -> Vec<(Operation, &'static str, Value)> {
    let to = |v: &dyn erased::Ser| v.value();
    let power = VmPowerResult {
        vm_id: vm_id(),
        action: PowerAction::Shutdown,
        previous_state: VmState::Running,
        state: VmState::Off,
        turned_off_after_timeout: true,
    };
    vec![
        (Operation::AgentInfo, "full", to(&full_agent_info())),
        (Operation::AgentInfo, "minimal", to(&minimal_agent_info())),
        (
            Operation::Noop,
            "full",
            to(&NoopResult {
                echo: noop_params(),
                correlation_id: "job-1".into(),
            }),
        ),
        (
            Operation::Noop,
            "minimal",
            to(&NoopResult {
                echo: Map::new(),
                correlation_id: "x".into(),
            }),
        ),
        (Operation::InventoryCollect, "full", to(&full_inventory())),
        (
            Operation::InventoryCollect,
            "minimal",
            to(&minimal_inventory()),
        ),
        (
            Operation::InventoryWatch,
            "full",
            to(&aetherv_hyperv::ops::inventory::InventoryWatchResult {
                events: 12,
                watched_seconds: 300,
            }),
        ),
        (Operation::HostResources, "full", to(&full_catalogue())),
        (
            Operation::HostResources,
            "minimal",
            to(&minimal_catalogue()),
        ),
        (Operation::VmPower, "full", to(&power)),
        (Operation::VmCreate, "full", to(&full_vm())),
        (Operation::VmCreate, "minimal", to(&minimal_vm())),
        (Operation::VmUpdate, "full", to(&full_vm())),
        (Operation::VmUpdate, "minimal", to(&minimal_vm())),
        (
            Operation::VmDelete,
            "full",
            to(&VmDeleteResult {
                vm_id: vm_id(),
                name: "web-01".into(),
                deleted_disk_paths: vec![full_disk().path],
                retained_disk_paths: vec![minimal_disk().path],
            }),
        ),
        (
            Operation::VmDelete,
            "minimal",
            to(&VmDeleteResult {
                vm_id: vm_id(),
                name: "x".into(),
                deleted_disk_paths: vec![],
                retained_disk_paths: vec![],
            }),
        ),
        (Operation::DiskCreate, "full", to(&full_disk())),
        (Operation::DiskCreate, "minimal", to(&minimal_disk())),
        (Operation::DiskResize, "full", to(&full_disk())),
        (
            Operation::DiskDelete,
            "full",
            to(&DiskDeleteResult {
                vm_id: vm_id(),
                disk_id: disk_id(0),
                path: full_disk().path,
                file_deleted: true,
            }),
        ),
        (Operation::NicCreate, "full", to(&full_nic())),
        (Operation::NicCreate, "minimal", to(&minimal_nic())),
        (Operation::NicUpdate, "full", to(&full_nic())),
        (
            Operation::NicDelete,
            "full",
            to(&NicDeleteResult {
                vm_id: vm_id(),
                nic_id: nic_id(1),
            }),
        ),
    ]
}

/// One error of every code, with details of the right shape.
pub fn agent_errors() -> Vec<AgentError> {
    use ErrorDetails as D;
    let details = vec![
        D::InvalidRequest(InvalidRequestDetails {
            errors: vec![FieldError {
                pointer: "/params/cpu_count".into(),
                message: "must be at least 1".into(),
            }],
        }),
        D::UnsupportedProtocol(UnsupportedProtocolDetails {
            requested: Some(2),
            supported: vec![1],
        }),
        D::UnsupportedOperation(UnsupportedOperationDetails {
            operation: "vm.teleport".into(),
            supported: vec!["noop".into()],
        }),
        D::AgentIntegrity(AgentIntegrityDetails {
            expected_sha256: "a".repeat(64),
            actual_sha256: "b".repeat(64),
        }),
        D::HypervUnavailable(HypervUnavailableDetails {
            component: HypervComponent::Service,
            name: "vmms".into(),
            state: Some("Stopped".into()),
        }),
        D::VmNotFound(VmNotFoundDetails { vm_id: vm_id() }),
        D::NotFound(NotFoundDetails {
            kind: ObjectKind::StorageClass,
            name: "gold".into(),
            available: vec!["fast-ssd".into(), "bulk".into()],
        }),
        D::AlreadyExists(AlreadyExistsDetails {
            kind: ExistingKind::Vm,
            name: "web-01".into(),
        }),
        D::InvalidState(InvalidStateDetails {
            vm_id: vm_id(),
            state: VmState::Off,
            allowed_states: vec![VmState::Running],
        }),
        D::InsufficientResources(InsufficientResourcesDetails {
            resource: ScarceResource::DiskSpace,
            required_bytes: 100 * GIB,
            available_bytes: GIB,
            path: Some("E:\\VMs".into()),
        }),
        D::OperationFailed(OperationFailedDetails {
            cmdlet: "New-VHD".into(),
            message: "The system failed to create 'E:\\x.vhdx'.".into(),
            error_id: None,
        }),
        D::Timeout(TimeoutDetails {
            step: "guest shutdown".into(),
            waited_seconds: 300,
        }),
        D::Cancelled(CancelledDetails { step: None }),
        D::Internal(InternalDetails {
            exception_type: "System.NullReferenceException".into(),
            script_stack_trace: Some("at <ScriptBlock>, <No file>: line 1".into()),
        }),
    ];
    details
        .into_iter()
        .map(|d| AgentError::new(d, "something went wrong"))
        .collect()
}
