//! Instances of every params and result type, fully populated and minimal, built from
//! the Rust types (so a field added to a type shows up here at compile time).

#![allow(dead_code)]

use std::net::IpAddr;

use aetherv_hyperv::ops::agent::{AgentInfoParams, AgentInfoResult, NoopParams, NoopResult};
use aetherv_hyperv::ops::disk::{
    DiskCreateParams, DiskDeleteParams, DiskDeleteResult, DiskResizeParams,
};
use aetherv_hyperv::ops::inventory::{
    HostInventory, HostResourcesParams, InventoryCollectParams, InventoryCollectResult,
};
use aetherv_hyperv::ops::nic::{
    NicCreateParams, NicDeleteParams, NicDeleteResult, NicUpdateParams,
};
use aetherv_hyperv::ops::vm::{
    VmCreateParams, VmDeleteParams, VmDeleteResult, VmPowerParams, VmPowerResult, VmUpdateParams,
};
use aetherv_hyperv::*;
use serde_json::{Value, json};
use time::macros::datetime;

pub const VM_GUID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
const VM_GUID_UPPER: &str = "0F8FAD5B-D9CB-469F-A165-70867728950E";
const SCSI_GUID: &str = "83F8638B-8DCA-4152-9EDA-2CA8B33039B4";
const GIB: u64 = 1024 * 1024 * 1024;

pub fn vm_id() -> VmId {
    VmId::parse(VM_GUID).unwrap()
}

pub fn disk_id(location: u8) -> DiskId {
    DiskId::parse(&format!(
        "Microsoft:{VM_GUID_UPPER}\\{SCSI_GUID}\\0\\{location}\\D"
    ))
    .unwrap()
}

pub fn nic_id(n: u8) -> NicId {
    NicId::parse(&format!(
        "Microsoft:{VM_GUID_UPPER}\\6A1C2F4E-0B7D-4C55-9E21-3D8A5B7C90{n:02X}"
    ))
    .unwrap()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

pub fn full_nic() -> Nic {
    Nic {
        id: nic_id(1),
        name: "Network Adapter".into(),
        switch_name: Some("External-Switch".into()),
        vlan_id: Some(100),
        mac_address: "00155D010203".into(),
        mac_address_static: true,
        ip_addresses: vec![ip("10.0.100.21"), ip("2001:db8::21")],
        network_name: Some("Production".into()),
    }
}

pub fn minimal_nic() -> Nic {
    Nic {
        id: nic_id(2),
        name: "Network Adapter".into(),
        switch_name: None,
        vlan_id: None,
        mac_address: "000000000000".into(),
        mac_address_static: false,
        ip_addresses: vec![],
        network_name: None,
    }
}

pub fn full_disk() -> Disk {
    Disk {
        id: disk_id(0),
        name: "web-01-3f2a9c1e.vhdx".into(),
        path: "C:\\ClusterStorage\\Volume1\\VMs\\web-01\\web-01-3f2a9c1e.vhdx".into(),
        disk_type: Some(DiskType::Dynamic),
        capacity_bytes: Some(100 * GIB),
        file_size_bytes: Some(12 * GIB),
        controller_type: ControllerType::Scsi,
        controller_number: 0,
        controller_location: 0,
    }
}

pub fn minimal_disk() -> Disk {
    Disk {
        id: disk_id(1),
        name: "missing.vhdx".into(),
        path: "\\\\filer\\vms\\missing.vhdx".into(),
        disk_type: None,
        capacity_bytes: None,
        file_size_bytes: None,
        controller_type: ControllerType::Ide,
        controller_number: 1,
        controller_location: 1,
    }
}

pub fn full_vm() -> Vm {
    Vm {
        id: vm_id(),
        name: "web-01".into(),
        state: VmState::Running,
        generation: Generation::Two,
        configuration_version: "10.0".into(),
        cpu_count: 4,
        memory_assigned_bytes: 6 * GIB,
        memory_startup_bytes: 4 * GIB,
        dynamic_memory_enabled: true,
        memory_minimum_bytes: Some(2 * GIB),
        memory_maximum_bytes: Some(16 * GIB),
        secure_boot_enabled: Some(true),
        secure_boot_template: Some(SecureBootTemplate::MicrosoftUEFICertificateAuthority),
        notes: "owner: web team\nticket: OPS-1 — ünïcode".into(),
        guest_os_name: Some("Ubuntu 24.04 LTS".into()),
        creation_time: Timestamp::new(datetime!(2024-03-01 08:30:00.1234567 UTC)),
        uptime_seconds: 86_400,
        clustered: true,
        configuration_path: "C:\\ClusterStorage\\Volume1\\VMs\\web-01".into(),
        ip_addresses: vec![ip("10.0.100.21"), ip("2001:db8::21")],
        nics: vec![full_nic(), minimal_nic()],
        disks: vec![full_disk(), minimal_disk()],
    }
}

pub fn minimal_vm() -> Vm {
    Vm {
        id: vm_id(),
        name: "x".into(),
        state: VmState::Off,
        generation: Generation::One,
        configuration_version: "5.0".into(),
        cpu_count: 1,
        memory_assigned_bytes: 0,
        memory_startup_bytes: 512 * 1024 * 1024,
        dynamic_memory_enabled: false,
        memory_minimum_bytes: None,
        memory_maximum_bytes: None,
        secure_boot_enabled: None,
        secure_boot_template: None,
        notes: String::new(),
        guest_os_name: None,
        creation_time: Timestamp::new(datetime!(2020-01-01 00:00:00 UTC)),
        uptime_seconds: 0,
        clustered: false,
        configuration_path: "D:\\VMs\\x".into(),
        ip_addresses: vec![],
        nics: vec![],
        disks: vec![],
    }
}

pub fn full_catalogue() -> ResourceCatalogue {
    ResourceCatalogue {
        catalogue_path: Some("C:\\ProgramData\\Aether-V\\hostresources.json".into()),
        storage_classes: vec![
            StorageClass {
                name: "fast-ssd".into(),
                path: "C:\\ClusterStorage\\Volume1\\VMs".into(),
                total_bytes: Some(4096 * GIB),
                free_bytes: Some(1024 * GIB),
            },
            StorageClass {
                name: "bulk".into(),
                path: "E:\\VMs".into(),
                total_bytes: None,
                free_bytes: None,
            },
        ],
        networks: vec![
            Network {
                name: "Production".into(),
                switch_name: "External-Switch".into(),
                vlan_id: Some(100),
            },
            Network {
                name: "Lab".into(),
                switch_name: "Internal".into(),
                vlan_id: None,
            },
        ],
        images: vec![
            Image {
                name: "ubuntu-24.04".into(),
                path: "C:\\ClusterStorage\\Volume1\\Images\\ubuntu-24.04.vhdx".into(),
                os_family: OsFamily::Linux,
                capacity_bytes: Some(32 * GIB),
                file_size_bytes: Some(3 * GIB),
            },
            Image {
                name: "ws2022".into(),
                path: "C:\\Images\\ws2022.vhdx".into(),
                os_family: OsFamily::Windows,
                capacity_bytes: None,
                file_size_bytes: None,
            },
        ],
    }
}

pub fn minimal_catalogue() -> ResourceCatalogue {
    ResourceCatalogue {
        catalogue_path: None,
        storage_classes: vec![],
        networks: vec![],
        images: vec![],
    }
}

pub fn full_inventory() -> InventoryCollectResult {
    InventoryCollectResult {
        host: HostInventory {
            computer_name: "HV-01".into(),
            fqdn: "hv-01.lab.example".into(),
            cluster_name: Some("CL-A".into()),
            logical_processor_count: 64,
            memory_total_bytes: 512 * GIB,
            memory_available_bytes: 200 * GIB,
            virtual_switches: vec![
                VirtualSwitch {
                    id: "5b7f3a2e-1c4d-4e8f-9a0b-1c2d3e4f5a6b".parse().unwrap(),
                    name: "External-Switch".into(),
                    switch_type: SwitchType::External,
                    uplink: Some("Intel(R) Ethernet Controller X710".into()),
                },
                VirtualSwitch {
                    id: "6c8f4b3f-2d5e-4f90-8b1c-2d3e4f5a6b7c".parse().unwrap(),
                    name: "Internal".into(),
                    switch_type: SwitchType::Internal,
                    uplink: None,
                },
            ],
            storage_locations: vec![StorageLocation {
                path: "C:\\ClusterStorage\\Volume1".into(),
                total_bytes: 4096 * GIB,
                free_bytes: 1024 * GIB,
            }],
            resources: full_catalogue(),
            collected_at: Timestamp::new(datetime!(2024-06-01 12:00:00 UTC)),
        },
        vms: vec![full_vm(), minimal_vm()],
        warnings: vec![
            Warning {
                source: "Get-VHD".into(),
                message: "the file \\\\filer\\vms\\missing.vhdx was not found".into(),
                vm_id: Some(vm_id()),
            },
            Warning {
                source: "Get-ClusterNode".into(),
                message: "the cluster service is not running".into(),
                vm_id: None,
            },
        ],
    }
}

pub fn minimal_inventory() -> InventoryCollectResult {
    InventoryCollectResult {
        host: HostInventory {
            computer_name: "HV-02".into(),
            fqdn: "HV-02".into(),
            cluster_name: None,
            logical_processor_count: 1,
            memory_total_bytes: 0,
            memory_available_bytes: 0,
            virtual_switches: vec![],
            storage_locations: vec![],
            resources: minimal_catalogue(),
            collected_at: Timestamp::new(datetime!(2024-06-01 12:00:00 UTC)),
        },
        vms: vec![],
        warnings: vec![],
    }
}

pub fn full_agent_info() -> AgentInfoResult {
    AgentInfoResult {
        agent_version: "1.4.0".into(),
        agent_sha256: "a".repeat(64),
        protocol_versions: vec![1],
        operations: Operation::ALL
            .iter()
            .map(|o| o.as_str().to_owned())
            .collect(),
        powershell_version: "5.1.20348.2849".into(),
        os_version: "10.0.20348".into(),
        os_caption: "Microsoft Windows Server 2022 Datacenter".into(),
        computer_name: "HV-01".into(),
        fqdn: "hv-01.lab.example".into(),
        hyperv_module_present: true,
        hyperv_module_version: Some("2.0.0.0".into()),
        hyperv_service_present: true,
        hyperv_service_running: true,
        cluster_name: Some("CL-A".into()),
        time_utc: Timestamp::new(datetime!(2024-06-01 12:00:00.5 UTC)),
    }
}

pub fn minimal_agent_info() -> AgentInfoResult {
    AgentInfoResult {
        hyperv_module_present: false,
        hyperv_module_version: None,
        hyperv_service_present: false,
        hyperv_service_running: false,
        cluster_name: None,
        operations: vec!["agent.info".into()],
        ..full_agent_info()
    }
}

pub fn noop_params() -> Map {
    json!({
        "text": "héllo \"wörld\" \u{1F600} <&>",
        "one": [1],
        "nested": {"a": {"b": [true, null, 1.5, -3]}},
        "empty": {}
    })
    .as_object()
    .unwrap()
    .clone()
}

pub type Map = serde_json::Map<String, Value>;

/// (operation, params JSON) pairs: for each operation a fully populated and a minimal set.
pub fn params_instances() -> Vec<(Operation, &'static str, Value)> {
    let to = |v: &dyn erased::Ser| v.value();
    let vm_create_full = VmCreateParams {
        name: "web-01".into(),
        cpu_count: 4,
        generation: Generation::Two,
        memory_startup_bytes: 4 * GIB,
        dynamic_memory_enabled: true,
        memory_minimum_bytes: Some(GIB),
        memory_maximum_bytes: Some(16 * GIB),
        secure_boot_enabled: Some(true),
        secure_boot_template: Some(SecureBootTemplate::MicrosoftWindows),
        notes: Some("notes".into()),
        storage_class: "fast-ssd".into(),
    };
    let vm_create_min = VmCreateParams {
        name: "x".into(),
        cpu_count: 1,
        generation: Generation::One,
        memory_startup_bytes: 32 * 1024 * 1024,
        dynamic_memory_enabled: false,
        memory_minimum_bytes: None,
        memory_maximum_bytes: None,
        secure_boot_enabled: None,
        secure_boot_template: None,
        notes: None,
        storage_class: "bulk".into(),
    };
    let vm_update_full = VmUpdateParams {
        cpu_count: Some(8),
        memory_startup_bytes: Some(8 * GIB),
        dynamic_memory_enabled: Some(true),
        memory_minimum_bytes: Some(2 * GIB),
        memory_maximum_bytes: Some(32 * GIB),
        notes: Some(String::new()),
        ..VmUpdateParams::new(vm_id())
    };
    let vm_update_min = VmUpdateParams {
        notes: Some("n".into()),
        ..VmUpdateParams::new(vm_id())
    };
    let power_full = VmPowerParams {
        shutdown_timeout_seconds: Some(600),
        turn_off_after_timeout: Some(true),
        ..VmPowerParams::new(vm_id(), PowerAction::Shutdown)
    };
    let nic_update_full = NicUpdateParams {
        switch_name: Some("External-Switch".into()),
        vlan_id: Some(None),
        name: Some("Front end".into()),
        mac_address: Some(Some("00155D0A0B0C".into())),
        ..NicUpdateParams::new(vm_id(), nic_id(1))
    };
    let nic_update_network = NicUpdateParams {
        network: Some("Production".into()),
        mac_address: Some(None),
        ..NicUpdateParams::new(vm_id(), nic_id(1))
    };
    let nic_update_min = NicUpdateParams {
        vlan_id: Some(Some(200)),
        ..NicUpdateParams::new(vm_id(), nic_id(1))
    };
    vec![
        (Operation::AgentInfo, "minimal", to(&AgentInfoParams {})),
        (Operation::Noop, "full", to(&NoopParams(noop_params()))),
        (Operation::Noop, "minimal", to(&NoopParams::default())),
        (
            Operation::InventoryCollect,
            "full",
            to(&InventoryCollectParams {
                vm_ids: Some(vec![vm_id()]),
            }),
        ),
        (
            Operation::InventoryCollect,
            "minimal",
            to(&InventoryCollectParams::default()),
        ),
        (
            Operation::HostResources,
            "minimal",
            to(&HostResourcesParams {}),
        ),
        (Operation::VmPower, "full", to(&power_full)),
        (
            Operation::VmPower,
            "minimal",
            to(&VmPowerParams::new(vm_id(), PowerAction::Start)),
        ),
        (Operation::VmCreate, "full", to(&vm_create_full)),
        (Operation::VmCreate, "minimal", to(&vm_create_min)),
        (Operation::VmUpdate, "full", to(&vm_update_full)),
        (Operation::VmUpdate, "minimal", to(&vm_update_min)),
        (
            Operation::VmDelete,
            "minimal",
            to(&VmDeleteParams {
                vm_id: vm_id(),
                force: true,
                delete_disks: false,
            }),
        ),
        (
            Operation::DiskCreate,
            "full",
            to(&DiskCreateParams {
                vm_id: vm_id(),
                image: Some("ubuntu-24.04".into()),
                size_bytes: Some(64 * GIB),
                disk_type: NewDiskType::Fixed,
                storage_class: Some("fast-ssd".into()),
                controller_type: ControllerType::Scsi,
            }),
        ),
        (
            Operation::DiskCreate,
            "minimal",
            to(&DiskCreateParams {
                vm_id: vm_id(),
                image: None,
                size_bytes: Some(GIB),
                disk_type: NewDiskType::Dynamic,
                storage_class: None,
                controller_type: ControllerType::Ide,
            }),
        ),
        (
            Operation::DiskResize,
            "minimal",
            to(&DiskResizeParams {
                vm_id: vm_id(),
                disk_id: disk_id(0),
                size_bytes: 200 * GIB,
            }),
        ),
        (
            Operation::DiskDelete,
            "minimal",
            to(&DiskDeleteParams {
                vm_id: vm_id(),
                disk_id: disk_id(0),
                delete_file: true,
            }),
        ),
        (
            Operation::NicCreate,
            "full",
            to(&NicCreateParams {
                vm_id: vm_id(),
                network: None,
                switch_name: Some("External-Switch".into()),
                vlan_id: Some(4094),
                name: Some("Back end".into()),
                mac_address: Some("02155D0A0B0C".into()),
            }),
        ),
        (
            Operation::NicCreate,
            "minimal",
            to(&NicCreateParams {
                vm_id: vm_id(),
                network: Some("Production".into()),
                switch_name: None,
                vlan_id: None,
                name: None,
                mac_address: None,
            }),
        ),
        (Operation::NicUpdate, "full", to(&nic_update_full)),
        (Operation::NicUpdate, "network", to(&nic_update_network)),
        (Operation::NicUpdate, "minimal", to(&nic_update_min)),
        (
            Operation::NicDelete,
            "minimal",
            to(&NicDeleteParams {
                vm_id: vm_id(),
                nic_id: nic_id(1),
            }),
        ),
    ]
}

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

/// Serialising any of the fixtures through one closure type.
pub mod erased {
    use serde_json::Value;

    pub trait Ser {
        fn value(&self) -> Value;
    }

    impl<T: serde::Serialize> Ser for T {
        fn value(&self) -> Value {
            serde_json::to_value(self).unwrap()
        }
    }
}
