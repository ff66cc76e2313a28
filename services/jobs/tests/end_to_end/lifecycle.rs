//! End to end over real WinRM and gRPC (simulated fleet, remote-tasks, inventory,
//! notifications, jobs): a VM's whole life as jobs — every CPU, memory, disk and adapter
//! change, every power action, then delete — each checked in the simulator's model and
//! in inventory.

use crate::support::suite::{FleetShape, Suite};
use aetherv_hyperv::{Vm, VmId, VmState};
use aetherv_proto::inventory::v1 as inv;
use aetherv_proto::jobs::v1 as pb;
use serde_json::{Value, json};

const GIB: u64 = 1 << 30;

fn sim_vm(suite: &Suite, id: &str) -> Vm {
    let Ok(id) = VmId::parse(id) else {
        panic!("bad vm id {id}")
    };
    match suite.host(0).vm(id) {
        Some(vm) => vm,
        None => panic!("the simulator has no vm {id}"),
    }
}

async fn inventory_vm(suite: &Suite, id: &str) -> inv::Vm {
    match suite.inventory_vm(id).await {
        Some(vm) => vm,
        None => panic!("inventory has no vm {id}"),
    }
}

fn on(vm: &str, extra: Value) -> Value {
    let mut spec = json!({ "vm_id": vm });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    spec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vm_lives_and_dies_through_jobs_seen_by_the_simulator_and_inventory() {
    let suite = Suite::start(
        FleetShape {
            hosts: 1,
            ..FleetShape::default()
        },
        |_| {},
    )
    .await;
    let host = suite.host(0);
    let with_host = |extra: Value| {
        let mut spec = json!({ "host": host.name() });
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        spec
    };
    let deployed = suite
        .run(
            pb::JobType::ManagedDeployment,
            with_host(json!({
                "vm": { "name": "life-01", "storage_class": "bulk-storage", "memory_startup_bytes": 2 * GIB },
                "disks": [{ "size_bytes": 8 * GIB }],
                "start": false
            })),
        )
        .await;
    let id = deployed.vm_id.clone();
    assert_eq!(sim_vm(&suite, &id).state, VmState::Off);

    // CPU, memory, dynamic memory and notes while Off.
    suite
        .run(
            pb::JobType::UpdateVm,
            with_host(on(
                &id,
                json!({
                    "cpu_count": 4,
                    "memory_startup_bytes": 4 * GIB,
                    "dynamic_memory_enabled": true,
                    "memory_minimum_bytes": GIB,
                    "memory_maximum_bytes": 16 * GIB,
                    "notes": "resized"
                }),
            )),
        )
        .await;
    let vm = sim_vm(&suite, &id);
    assert_eq!((vm.cpu_count, vm.memory_startup_bytes), (4, 4 * GIB));
    assert_eq!(
        (
            vm.dynamic_memory_enabled,
            vm.memory_minimum_bytes,
            vm.memory_maximum_bytes
        ),
        (true, Some(GIB), Some(16 * GIB))
    );
    assert_eq!(vm.notes, "resized");
    let record = inventory_vm(&suite, &id).await;
    assert_eq!(
        (
            record.cpu_count,
            record.memory_startup_bytes,
            record.dynamic_memory_enabled
        ),
        (4, 4 * GIB, true)
    );
    assert_eq!(
        (record.memory_minimum_bytes, record.memory_maximum_bytes),
        (Some(GIB), Some(16 * GIB))
    );
    assert_eq!(record.notes, "resized");

    // Disks: add, grow, remove.
    let added = suite
        .run(
            pb::JobType::CreateDisk,
            with_host(on(
                &id,
                json!({ "disk": { "size_bytes": 10 * GIB, "type": "Fixed" } }),
            )),
        )
        .await;
    let disk_id = added.created_resources[0].id.clone();
    let disk_path = added.created_resources[0].name.clone();
    let vm = sim_vm(&suite, &id);
    assert_eq!(vm.disks.len(), 2);
    assert!(host.file(&disk_path).is_some(), "the disk file exists");
    suite
        .run(
            pb::JobType::ResizeDisk,
            with_host(on(
                &id,
                json!({ "disk_id": disk_id, "size_bytes": 20 * GIB }),
            )),
        )
        .await;
    let grown = sim_vm(&suite, &id);
    let disk = grown
        .disks
        .iter()
        .find(|d| d.id.as_str().eq_ignore_ascii_case(&disk_id));
    assert_eq!(disk.and_then(|d| d.capacity_bytes), Some(20 * GIB));
    let record = inventory_vm(&suite, &id).await;
    let listed = record
        .disks
        .iter()
        .find(|d| d.id.eq_ignore_ascii_case(&disk_id));
    assert_eq!(listed.map(|d| d.capacity_bytes), Some(20 * GIB));
    suite
        .run(
            pb::JobType::DeleteDisk,
            with_host(on(&id, json!({ "disk_id": disk_id }))),
        )
        .await;
    assert_eq!(sim_vm(&suite, &id).disks.len(), 1);
    assert!(host.file(&disk_path).is_none(), "its file is deleted");
    assert_eq!(inventory_vm(&suite, &id).await.disks.len(), 1);

    // Adapters: add, change (switch, VLAN, static MAC while Off), remove.
    let added = suite
        .run(
            pb::JobType::CreateNic,
            with_host(on(
                &id,
                json!({ "nic": { "network": "Development", "name": "app" } }),
            )),
        )
        .await;
    let nic_id = added.created_resources[0].id.clone();
    let vm = sim_vm(&suite, &id);
    assert_eq!(vm.nics.len(), 1);
    assert_eq!(
        (vm.nics[0].vlan_id, vm.nics[0].network_name.as_deref()),
        (Some(200), Some("Development"))
    );
    suite
        .run(
            pb::JobType::UpdateNic,
            with_host(on(&id, json!({ "nic_id": nic_id, "switch_name": "External-Switch", "vlan_id": 333, "mac_address": "00:15:5D:01:02:03" }))),
        )
        .await;
    let nic = &sim_vm(&suite, &id).nics[0];
    assert_eq!(
        (
            nic.vlan_id,
            nic.mac_address.as_str(),
            nic.mac_address_static
        ),
        (Some(333), "00155D010203", true)
    );
    let record = inventory_vm(&suite, &id).await;
    assert_eq!(
        (record.nics[0].vlan_id, record.nics[0].mac_address.as_str()),
        (Some(333), "00155D010203")
    );
    suite
        .run(
            pb::JobType::UpdateNic,
            with_host(on(&id, json!({ "nic_id": nic_id, "vlan_id": null }))),
        )
        .await;
    assert_eq!(sim_vm(&suite, &id).nics[0].vlan_id, None, "untagged");
    suite
        .run(
            pb::JobType::DeleteNic,
            with_host(on(&id, json!({ "nic_id": nic_id }))),
        )
        .await;
    assert!(sim_vm(&suite, &id).nics.is_empty());
    assert!(inventory_vm(&suite, &id).await.nics.is_empty());

    // Every power action, each state seen in the simulator and in inventory.
    use inv::VmState as I;
    let actions = [
        (pb::JobType::StartVm, VmState::Running, I::Running),
        (pb::JobType::PauseVm, VmState::Paused, I::Paused),
        (pb::JobType::ResumeVm, VmState::Running, I::Running),
        (pb::JobType::SaveVm, VmState::Saved, I::Saved),
        (pb::JobType::StartVm, VmState::Running, I::Running),
        (pb::JobType::ResetVm, VmState::Running, I::Running),
        (pb::JobType::ShutdownVm, VmState::Off, I::Off),
        (pb::JobType::StartVm, VmState::Running, I::Running),
        (pb::JobType::StopVm, VmState::Off, I::Off),
        (pb::JobType::StartVm, VmState::Running, I::Running),
    ];
    for (job_type, state, listed) in actions {
        let job = suite.run(job_type, with_host(on(&id, json!({})))).await;
        assert_eq!(job.steps[0].operation, "vm.power");
        assert_eq!(sim_vm(&suite, &id).state, state, "{job_type:?}");
        assert_eq!(
            inventory_vm(&suite, &id).await.state,
            listed as i32,
            "{job_type:?}"
        );
    }

    // A running VM is deleted only with force; with delete_disks its files go too.
    let refused = suite
        .try_submit(pb::JobType::DeleteVm, with_host(on(&id, json!({}))))
        .await;
    let Err(status) = refused else {
        panic!("deleting a running vm without force was accepted")
    };
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    let boot_path = sim_vm(&suite, &id).disks[0].path.clone();
    let deleted = suite
        .run(
            pb::JobType::DeleteVm,
            with_host(on(&id, json!({ "force": true, "delete_disks": true }))),
        )
        .await;
    let result: Value = serde_json::from_str(&deleted.steps[0].result_json).unwrap_or(Value::Null);
    assert_eq!(result["deleted_disk_paths"], json!([boot_path]));
    assert!(
        host.vm_by_name("life-01").is_none(),
        "the simulator has no such vm any more"
    );
    assert!(host.file(&boot_path).is_none());
    assert!(
        suite.inventory_vm(&id).await.is_none(),
        "inventory dropped it"
    );
}
