//! Instances of every params and result type, fully populated and minimal, built from
//! the Rust types (so a field added to a type shows up here at compile time).

#![allow(dead_code)]

use std::net::IpAddr;

use aetherv_hyperv::ops::agent::AgentInfoResult;
use aetherv_hyperv::ops::inventory::{HostInventory, InventoryCollectResult};
use aetherv_hyperv::*;
use serde_json::{Value, json};
use time::macros::datetime;

mod params;
mod results;

// Each test crate uses a different part of the fixtures.
#[allow(unused_imports)]
pub use params::params_instances;
#[allow(unused_imports)]
pub use results::{agent_errors, result_instances};

pub const VM_GUID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
const VM_GUID_UPPER: &str = "0F8FAD5B-D9CB-469F-A165-70867728950E";
const SCSI_GUID: &str = "83F8638B-8DCA-4152-9EDA-2CA8B33039B4";
pub const GIB: u64 = 1024 * 1024 * 1024;

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
