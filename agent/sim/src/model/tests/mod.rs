//! Unit tests of the model, on a small hand-built host and explicit simulated instants.

mod disks;
mod generation;
mod nics;
mod power;
mod vms;

use std::time::Duration;

use aetherv_hyperv::ops::vm::VmCreateParams;
use aetherv_hyperv::{
    AgentError, AgentErrorCode, DiskType, ErrorDetails, Generation, Network, OsFamily,
    SecureBootTemplate, SwitchType, Timestamp, VirtualSwitch, VmId,
};

use super::state::{Catalogue, ClassEntry, ImageEntry, VhdFile, Volume};
use super::{HostFacts, HostModel, vm_ops};
use crate::clock::SimInstant;

pub const GIB: u64 = 1 << 30;

/// A host: 16 cores, 64 GiB (4 reserved), C:\ 100 GiB (20 used), D:\ 500 GiB holding the
/// `fast` class and a 3 GiB `ubuntu` image of 32 GiB, one external switch with the
/// Production network (VLAN 100) and a private switch.
pub fn host() -> HostModel {
    let facts = HostFacts {
        index: 3,
        computer_name: "HV-T-01".into(),
        fqdn: "hv-t-01.corp.example".into(),
        cluster_name: None,
        logical_processor_count: 16,
        memory_total_bytes: 64 * GIB,
        memory_reserved_bytes: 4 * GIB,
        os_version: "10.0.20348".into(),
        os_caption: "Microsoft Windows Server 2022 Datacenter".into(),
        powershell_version: "5.1.20348.2849".into(),
        hyperv_module_version: "2.0.0.0".into(),
        default_vm_path: "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V".into(),
        default_vhd_path: "C:\\Users\\Public\\Documents\\Hyper-V\\Virtual Hard Disks".into(),
        configuration_version: "10.0".into(),
    };
    let volumes = vec![
        Volume {
            root: "C:\\".into(),
            total_bytes: 100 * GIB,
            base_used_bytes: 20 * GIB,
        },
        Volume {
            root: "D:\\".into(),
            total_bytes: 500 * GIB,
            base_used_bytes: 0,
        },
    ];
    let switches = vec![
        VirtualSwitch {
            id: uuid::Uuid::nil(),
            name: "External-Switch".into(),
            switch_type: SwitchType::External,
            uplink: Some("NIC".into()),
        },
        VirtualSwitch {
            id: uuid::Uuid::nil(),
            name: "Private".into(),
            switch_type: SwitchType::Private,
            uplink: None,
        },
    ];
    let catalogue = Catalogue {
        path: Some("C:\\ProgramData\\Aether-V\\hostresources.json".into()),
        storage_classes: vec![ClassEntry {
            name: "fast".into(),
            path: "D:\\VMs".into(),
        }],
        networks: vec![Network {
            name: "Production".into(),
            switch_name: "External-Switch".into(),
            vlan_id: Some(100),
        }],
        images: vec![ImageEntry {
            name: "ubuntu".into(),
            path: "D:\\Images\\ubuntu.vhdx".into(),
            os_family: OsFamily::Linux,
            guest_os_name: "Ubuntu 24.04.1 LTS".into(),
        }],
    };
    let mut m = HostModel::new(facts, volumes, switches, catalogue, 42);
    m.put_file(VhdFile {
        path: "D:\\Images\\ubuntu.vhdx".into(),
        disk_type: DiskType::Dynamic,
        capacity_bytes: 32 * GIB,
        file_size_bytes: 3 * GIB,
    });
    m
}

pub fn params(name: &str, cpu: u32, memory_gib: u64) -> VmCreateParams {
    VmCreateParams {
        name: name.into(),
        cpu_count: cpu,
        generation: Generation::Two,
        memory_startup_bytes: memory_gib * GIB,
        dynamic_memory_enabled: false,
        memory_minimum_bytes: None,
        memory_maximum_bytes: None,
        secure_boot_enabled: Some(true),
        secure_boot_template: Some(SecureBootTemplate::MicrosoftUEFICertificateAuthority),
        notes: None,
        storage_class: "fast".into(),
    }
}

/// Creates a VM (Off) at time zero.
pub fn vm(m: &mut HostModel, name: &str, memory_gib: u64) -> VmId {
    match vm_ops::create(
        m,
        SimInstant::ZERO,
        Timestamp::now(),
        &params(name, 2, memory_gib),
    ) {
        Ok(id) => id,
        Err(e) => panic!("create {name}: {e}"),
    }
}

pub fn at(ms: i64) -> SimInstant {
    SimInstant::from_millis(ms)
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The error's code, or a panic naming what succeeded.
pub fn code<T: std::fmt::Debug>(r: Result<T, AgentError>) -> AgentErrorCode {
    match r {
        Err(e) => e.code(),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

/// The error's details.
pub fn details<T: std::fmt::Debug>(r: Result<T, AgentError>) -> ErrorDetails {
    match r {
        Err(e) => e.details,
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

/// The Ok value, or a panic with the agent error.
pub fn ok<T>(r: Result<T, AgentError>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("unexpected agent error: {e}"),
    }
}
