//! Params instances of every operation.

use aetherv_hyperv::ops::agent::{AgentInfoParams, NoopParams};
use aetherv_hyperv::ops::disk::{DiskCreateParams, DiskDeleteParams, DiskResizeParams};
use aetherv_hyperv::ops::inventory::{
    HostResourcesParams, InventoryCollectParams, InventoryWatchParams,
};
use aetherv_hyperv::ops::nic::{NicCreateParams, NicDeleteParams, NicUpdateParams};
use aetherv_hyperv::ops::vm::{VmCreateParams, VmDeleteParams, VmPowerParams, VmUpdateParams};
use aetherv_hyperv::*;
use serde_json::Value;

use super::{GIB, disk_id, erased, nic_id, noop_params, vm_id};

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
            Operation::InventoryWatch,
            "full",
            to(&InventoryWatchParams::for_seconds(3600)),
        ),
        (
            Operation::InventoryWatch,
            "minimal",
            to(&InventoryWatchParams::default()),
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
