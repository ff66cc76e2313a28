use aetherv_hyperv::ops::vm::{VmDeleteParams, VmUpdateParams};
use aetherv_hyperv::{
    AgentErrorCode, ErrorDetails, ExistingKind, ObjectKind, PowerAction, ScarceResource, VmState,
};

use super::*;
use crate::model::power;
use crate::model::vm_ops::{self, NewVm, VmChange};

fn running(m: &mut HostModel, id: VmId) -> SimInstant {
    let plan = ok(power::begin(m, at(0), id, PowerAction::Start, secs(1)));
    let power::PowerPlan::Transition { until, .. } = plan else {
        panic!("start")
    };
    m.settle(until);
    until
}

#[test]
fn create_makes_an_off_vm_in_the_class_folder() {
    let mut m = host();
    let mut p = params("web-01", 4, 4);
    p.notes = Some("hello".into());
    let id = ok(vm_ops::create(&mut m, at(0), Timestamp::now(), &p));
    let vm = m.vm_snapshot(at(0), id).expect("vm");
    assert_eq!(vm.state, VmState::Off);
    assert_eq!(vm.configuration_path, "D:\\VMs\\web-01");
    assert_eq!(
        (vm.cpu_count, vm.memory_startup_bytes, vm.notes.as_str()),
        (4, 4 * GIB, "hello")
    );
    assert!(vm.nics.is_empty() && vm.disks.is_empty());
    assert_eq!(vm.configuration_version, "10.0");
    assert_eq!(vm.secure_boot_enabled, Some(true));
}

#[test]
fn create_refuses_a_taken_name_an_unknown_class_too_many_cpus_and_no_space() {
    let mut m = host();
    vm(&mut m, "web-01", 2);
    let e = vm_ops::create(&mut m, at(0), Timestamp::now(), &params("WEB-01", 2, 2));
    let ErrorDetails::AlreadyExists(d) = details(e) else {
        panic!("details")
    };
    assert_eq!((d.kind, d.name.as_str()), (ExistingKind::Vm, "WEB-01"));

    let mut p = params("x", 2, 2);
    p.storage_class = "slow".into();
    let ErrorDetails::NotFound(d) = details(vm_ops::create(&mut m, at(0), Timestamp::now(), &p))
    else {
        panic!()
    };
    assert_eq!(
        (d.kind, d.name.as_str(), d.available.clone()),
        (ObjectKind::StorageClass, "slow", vec!["fast".to_owned()])
    );

    let e = vm_ops::create(&mut m, at(0), Timestamp::now(), &params("x", 17, 2));
    let ErrorDetails::InvalidRequest(d) = details(e) else {
        panic!()
    };
    assert_eq!(d.errors[0].pointer, "/params/cpu_count");

    let e = vm_ops::create(&mut m, at(0), Timestamp::now(), &params("x", 2, 600));
    let ErrorDetails::InsufficientResources(d) = details(e) else {
        panic!()
    };
    assert_eq!(
        (d.resource, d.path.as_deref()),
        (ScarceResource::DiskSpace, Some("D:\\VMs\\x"))
    );
    assert_eq!(m.vms().len(), 1, "nothing half-made");
}

#[test]
fn update_follows_hyper_v_rules() {
    let mut m = host();
    let id = vm(&mut m, "t", 4);
    let mut p = VmUpdateParams::new(id);
    p.cpu_count = Some(8);
    p.dynamic_memory_enabled = Some(true);
    p.memory_minimum_bytes = Some(2 * GIB);
    p.memory_maximum_bytes = Some(16 * GIB);
    ok(vm_ops::update(&mut m, at(0), &p));
    let vm = m.vm_snapshot(at(0), id).expect("vm");
    assert_eq!(
        (
            vm.cpu_count,
            vm.memory_minimum_bytes,
            vm.memory_maximum_bytes
        ),
        (8, Some(2 * GIB), Some(16 * GIB))
    );

    let t = running(&mut m, id);
    let mut p = VmUpdateParams::new(id);
    p.cpu_count = Some(4);
    let ErrorDetails::InvalidState(d) = details(vm_ops::update(&mut m, t, &p)) else {
        panic!()
    };
    assert_eq!(
        (d.state, d.allowed_states.clone()),
        (VmState::Running, vec![VmState::Off])
    );
    p.cpu_count = Some(8);
    ok(vm_ops::update(&mut m, t, &p)); // the same value is no change

    let mut p = VmUpdateParams::new(id);
    p.memory_startup_bytes = Some(8 * GIB);
    assert_eq!(
        code(vm_ops::update(&mut m, t, &p)),
        AgentErrorCode::InvalidState
    );

    let mut p = VmUpdateParams::new(id);
    p.notes = Some("changed while running".into());
    p.memory_maximum_bytes = Some(32 * GIB);
    p.memory_minimum_bytes = Some(GIB);
    ok(vm_ops::update(&mut m, t, &p));
    let vm = m.vm_snapshot(t, id).expect("vm");
    assert_eq!(
        (vm.notes.as_str(), vm.memory_maximum_bytes),
        ("changed while running", Some(32 * GIB))
    );

    let mut p = VmUpdateParams::new(id);
    p.memory_maximum_bytes = Some(16 * GIB);
    assert_eq!(
        code(vm_ops::update(&mut m, t, &p)),
        AgentErrorCode::InvalidState,
        "a running vm's maximum only grows"
    );
    let mut p = VmUpdateParams::new(id);
    p.memory_minimum_bytes = Some(2 * GIB);
    assert_eq!(
        code(vm_ops::update(&mut m, t, &p)),
        AgentErrorCode::InvalidState,
        "a running vm's minimum only shrinks"
    );
}

#[test]
fn update_checks_the_memory_order_with_unchanged_values() {
    let mut m = host();
    let id = vm(&mut m, "t", 4);
    let mut p = VmUpdateParams::new(id);
    p.memory_minimum_bytes = Some(GIB);
    let ErrorDetails::InvalidRequest(d) = details(vm_ops::update(&mut m, at(0), &p)) else {
        panic!()
    };
    assert_eq!(
        d.errors[0].pointer, "/params/memory_minimum_bytes",
        "a range needs dynamic memory"
    );
    let mut p = VmUpdateParams::new(id);
    p.dynamic_memory_enabled = Some(true);
    p.memory_minimum_bytes = Some(8 * GIB);
    let ErrorDetails::InvalidRequest(d) = details(vm_ops::update(&mut m, at(0), &p)) else {
        panic!()
    };
    assert_eq!(
        d.errors[0].pointer, "/params/memory_minimum_bytes",
        "minimum above the unchanged startup"
    );
    let mut p = VmUpdateParams::new(id);
    p.dynamic_memory_enabled = Some(true);
    ok(vm_ops::update(&mut m, at(0), &p));
    let vm = m.vm_snapshot(at(0), id).expect("vm");
    assert_eq!(
        (vm.memory_minimum_bytes, vm.memory_maximum_bytes),
        (Some(512 << 20), Some(1 << 40)),
        "Hyper-V's defaults"
    );
}

#[test]
fn delete_needs_force_for_a_running_vm_and_deletes_or_keeps_disks() {
    let mut m = host();
    let id = vm(&mut m, "t", 2);
    let plan = ok(crate::model::disk_ops::plan_create(
        &mut m,
        at(0),
        &aetherv_hyperv::ops::disk::DiskCreateParams {
            vm_id: id,
            image: Some("ubuntu".into()),
            size_bytes: None,
            disk_type: aetherv_hyperv::NewDiskType::Dynamic,
            storage_class: None,
            controller_type: aetherv_hyperv::ControllerType::Scsi,
        },
    ));
    let disk = ok(crate::model::disk_ops::commit_create(&mut m, at(0), &plan));
    let free_with_disk = m.space("D:\\").map(|(_, f)| f).unwrap_or(0);
    let t = running(&mut m, id);
    let p = VmDeleteParams {
        vm_id: id,
        force: false,
        delete_disks: true,
    };
    let ErrorDetails::InvalidState(d) = details(vm_ops::delete(&mut m, t, &p)) else {
        panic!()
    };
    assert_eq!(d.allowed_states, vec![VmState::Off]);
    assert!(m.vm(id).is_some());
    let deleted = ok(vm_ops::delete(
        &mut m,
        t,
        &VmDeleteParams { force: true, ..p },
    ));
    assert!(deleted.turned_off);
    assert_eq!(deleted.result.deleted_disk_paths, vec![disk.path.clone()]);
    assert!(m.vm(id).is_none());
    assert!(m.files().all(|f| f.path != disk.path));
    assert_eq!(
        m.space("D:\\").map(|(_, f)| f),
        Some(free_with_disk + 3 * GIB),
        "deleting the disk frees its space"
    );

    let id = vm(&mut m, "keep", 2);
    let plan = ok(crate::model::disk_ops::plan_create(
        &mut m,
        at(0),
        &aetherv_hyperv::ops::disk::DiskCreateParams {
            vm_id: id,
            image: None,
            size_bytes: Some(10 * GIB),
            disk_type: aetherv_hyperv::NewDiskType::Dynamic,
            storage_class: None,
            controller_type: aetherv_hyperv::ControllerType::Scsi,
        },
    ));
    let disk = ok(crate::model::disk_ops::commit_create(&mut m, at(0), &plan));
    let deleted = ok(vm_ops::delete(
        &mut m,
        at(0),
        &VmDeleteParams {
            vm_id: id,
            force: false,
            delete_disks: false,
        },
    ));
    assert!(!deleted.turned_off);
    assert_eq!(deleted.result.retained_disk_paths, vec![disk.path.clone()]);
    assert!(
        m.files().any(|f| f.path == disk.path),
        "a kept disk's file stays"
    );
}

#[test]
fn out_of_band_changes_apply_without_hyper_v_rules() {
    let mut m = host();
    let id = vm(&mut m, "t", 2);
    ok(vm_ops::change(
        &mut m,
        at(0),
        id,
        &VmChange {
            state: Some(VmState::Running),
            cpu_count: Some(12),
            ..Default::default()
        },
    ));
    let vm = m.vm_snapshot(at(5000), id).expect("vm");
    assert_eq!(
        (vm.state, vm.cpu_count, vm.uptime_seconds),
        (VmState::Running, 12, 5)
    );
    let other = vm_ops::add(
        &mut m,
        at(0),
        Timestamp::now(),
        &NewVm {
            name: "oob".into(),
            cpu_count: 1,
            memory_startup_bytes: GIB,
            generation: Generation::One,
            state: VmState::Paused,
            notes: String::new(),
            guest_os_name: Some("Windows Server 2019 Standard".into()),
        },
    );
    let other = ok(other);
    let vm = m.vm_snapshot(at(0), other).expect("vm");
    assert_eq!(
        (vm.state, vm.generation, vm.secure_boot_enabled),
        (VmState::Paused, Generation::One, None)
    );
    assert_eq!(
        vm.guest_os_name.as_deref(),
        Some("Windows Server 2019 Standard")
    );
    assert_eq!(
        code(vm_ops::change(
            &mut m,
            at(0),
            id,
            &VmChange {
                name: Some("OOB".into()),
                ..Default::default()
            }
        )),
        AgentErrorCode::AlreadyExists
    );
    ok(vm_ops::remove(&mut m, other).map(|_| ()));
    assert!(m.vm(other).is_none());
}
