//! End to end over real WinRM and gRPC: a managed deployment creates a VM that then
//! appears in the simulator and in inventory with its disks and adapters.

use crate::support::suite::{FleetShape, Suite};
use aetherv_proto::jobs::v1 as pb;
use serde_json::json;

const GIB: u64 = 1 << 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managed_deployment_creates_a_vm_with_its_disks_and_adapters() {
    let suite = Suite::start(FleetShape::default(), |_| {}).await;
    let host = suite.host(0);
    let spec = json!({
        "host": host.name(),
        "vm": {
            "name": "web-01",
            "cpu_count": 2,
            "memory_startup_bytes": 2 * GIB,
            "image": "ubuntu-24.04",
            "boot_disk_size_bytes": 64 * GIB,
            "storage_class": "fast-ssd",
            "notes": "deployed by a test"
        },
        "disks": [{ "size_bytes": 10 * GIB }],
        "nics": [
            { "network": "Production" },
            { "switch_name": "External-Switch", "vlan_id": 300, "mac_address": "00:15:5d:0a:0b:0c" }
        ]
    });
    let job = suite.run(pb::JobType::ManagedDeployment, spec).await;
    let operations: Vec<&str> = job.steps.iter().map(|s| s.operation.as_str()).collect();
    assert_eq!(
        operations,
        [
            "vm.create",
            "disk.create",
            "disk.create",
            "nic.create",
            "nic.create",
            "vm.power"
        ]
    );

    let Some(vm) = host.vm_by_name("web-01") else {
        panic!("the simulator has no vm web-01")
    };
    assert_eq!(vm.state, aetherv_hyperv::VmState::Running);
    assert_eq!(vm.disks.len(), 2);
    assert_eq!(
        vm.disks[0].capacity_bytes,
        Some(64 * GIB),
        "the boot disk grew after the copy"
    );
    assert_eq!(vm.disks[1].capacity_bytes, Some(10 * GIB));
    assert_eq!(vm.nics.len(), 2);
    assert_eq!(vm.nics[0].vlan_id, Some(100));
    assert_eq!(vm.nics[1].vlan_id, Some(300));
    assert_eq!(vm.nics[1].mac_address, "00155D0A0B0C");
    assert_eq!(
        vm.secure_boot_template,
        Some(aetherv_hyperv::SecureBootTemplate::MicrosoftUEFICertificateAuthority),
        "a linux image gives the linux secure boot template"
    );
    assert_eq!(job.vm_id, vm.id.to_string());

    let kinds: Vec<i32> = job.created_resources.iter().map(|r| r.kind).collect();
    use aetherv_proto::common::v1::EntityKind;
    assert_eq!(
        kinds,
        [
            EntityKind::Vm as i32,
            EntityKind::Disk as i32,
            EntityKind::Disk as i32,
            EntityKind::Nic as i32,
            EntityKind::Nic as i32
        ]
    );

    let Some(record) = suite.inventory_vm(&job.vm_id).await else {
        panic!("inventory does not show the deployed vm")
    };
    assert_eq!(record.name, "web-01");
    assert_eq!(record.host, host.name());
    assert_eq!(
        record.state,
        aetherv_proto::inventory::v1::VmState::Running as i32
    );
    assert_eq!(record.disks.len(), 2);
    assert_eq!(record.nics.len(), 2);
    assert_eq!(record.notes, "deployed by a test");
}
