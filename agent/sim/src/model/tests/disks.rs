use aetherv_hyperv::ops::disk::{DiskCreateParams, DiskDeleteParams, DiskResizeParams};
use aetherv_hyperv::{
    AgentErrorCode, ControllerType, DiskType, ErrorDetails, NewDiskType, ObjectKind, PowerAction,
    ScarceResource, VmState,
};

use super::*;
use crate::model::disk_ops::{self, VHDX_OVERHEAD_BYTES};
use crate::model::power;
use crate::model::state::durations;
use crate::model::vm_ops::{self, VmChange};

fn create(vm_id: VmId) -> DiskCreateParams {
    DiskCreateParams {
        vm_id,
        image: None,
        size_bytes: Some(10 * GIB),
        disk_type: NewDiskType::Dynamic,
        storage_class: None,
        controller_type: ControllerType::Scsi,
    }
}

fn free(m: &HostModel) -> u64 {
    m.space("D:\\VMs").map_or(0, |(_, f)| f)
}

#[test]
fn an_image_clone_reserves_its_space_then_attaches() {
    let mut m = host();
    let id = vm(&mut m, "web", 2);
    let before = free(&m);
    let p = DiskCreateParams {
        image: Some("ubuntu".into()),
        size_bytes: None,
        ..create(id)
    };
    let plan = ok(disk_ops::plan_create(&mut m, at(0), &p));
    assert_eq!(plan.bytes_to_write, 3 * GIB);
    assert_eq!(
        plan.duration,
        durations::CONFIGURE + durations::copy(3 * GIB)
    );
    assert_eq!(free(&m), before - 3 * GIB, "space is held during the copy");
    assert!(
        m.vm(id).is_some_and(|v| v.disks.is_empty()),
        "nothing is attached during the copy"
    );
    let disk = ok(disk_ops::commit_create(&mut m, at(0), &plan));
    assert_eq!(free(&m), before - 3 * GIB);
    assert_eq!(
        (disk.capacity_bytes, disk.file_size_bytes, disk.disk_type),
        (Some(32 * GIB), Some(3 * GIB), Some(DiskType::Dynamic))
    );
    assert!(
        disk.path.starts_with("D:\\VMs\\web\\web-") && disk.path.ends_with(".vhdx"),
        "{}",
        disk.path
    );
    assert_eq!((disk.controller_number, disk.controller_location), (0, 0));
    let vm = m.vm(id).expect("vm");
    assert_eq!(
        vm.guest_os.as_deref(),
        Some("Ubuntu 24.04.1 LTS"),
        "the clone boots the image's OS"
    );
}

#[test]
fn an_interrupted_copy_gives_everything_back() {
    let mut m = host();
    let id = vm(&mut m, "web", 2);
    let before = free(&m);
    let p = DiskCreateParams {
        image: Some("ubuntu".into()),
        size_bytes: None,
        ..create(id)
    };
    let first = ok(disk_ops::plan_create(&mut m, at(0), &p));
    let second = ok(disk_ops::plan_create(&mut m, at(0), &p));
    assert_ne!(
        first.controller, second.controller,
        "concurrent creates get different locations"
    );
    disk_ops::abort_create(&mut m, &first);
    disk_ops::abort_create(&mut m, &second);
    assert_eq!(free(&m), before);
    assert!(m.vm(id).is_some_and(|v| v.disks.is_empty()));
    assert!(
        !m.files().any(|f| f.path.contains("\\web\\")),
        "no half disk"
    );
    let again = ok(disk_ops::plan_create(&mut m, at(0), &p));
    assert_eq!(
        again.controller, first.controller,
        "the location is free again"
    );
}

#[test]
fn create_checks_image_size_controller_and_space() {
    let mut m = host();
    let id = vm(&mut m, "web", 2);
    let e = disk_ops::plan_create(
        &mut m,
        at(0),
        &DiskCreateParams {
            image: Some("nope".into()),
            ..create(id)
        },
    );
    let ErrorDetails::NotFound(d) = details(e) else {
        panic!()
    };
    assert_eq!(
        (d.kind, d.available.clone()),
        (ObjectKind::Image, vec!["ubuntu".to_owned()])
    );
    let e = disk_ops::plan_create(
        &mut m,
        at(0),
        &DiskCreateParams {
            storage_class: Some("slow".into()),
            ..create(id)
        },
    );
    let ErrorDetails::NotFound(d) = details(e) else {
        panic!()
    };
    assert_eq!(d.kind, ObjectKind::StorageClass);
    let e = disk_ops::plan_create(
        &mut m,
        at(0),
        &DiskCreateParams {
            image: Some("ubuntu".into()),
            size_bytes: Some(16 * GIB),
            ..create(id)
        },
    );
    let ErrorDetails::InvalidRequest(d) = details(e) else {
        panic!()
    };
    assert_eq!(
        d.errors[0].pointer, "/params/size_bytes",
        "a clone cannot be smaller than its image"
    );
    let e = disk_ops::plan_create(
        &mut m,
        at(0),
        &DiskCreateParams {
            controller_type: ControllerType::Ide,
            ..create(id)
        },
    );
    let ErrorDetails::InvalidRequest(d) = details(e) else {
        panic!()
    };
    assert_eq!(d.errors[0].pointer, "/params/controller_type");
    let e = disk_ops::plan_create(
        &mut m,
        at(0),
        &DiskCreateParams {
            disk_type: NewDiskType::Fixed,
            size_bytes: Some(600 * GIB),
            ..create(id)
        },
    );
    let ErrorDetails::InsufficientResources(d) = details(e) else {
        panic!()
    };
    assert_eq!(
        (d.resource, d.required_bytes, d.path.as_deref()),
        (
            ScarceResource::DiskSpace,
            600 * GIB + VHDX_OVERHEAD_BYTES,
            Some("D:\\VMs\\web")
        )
    );
    let expanded = ok(disk_ops::plan_create(
        &mut m,
        at(0),
        &DiskCreateParams {
            image: Some("ubuntu".into()),
            size_bytes: Some(64 * GIB),
            ..create(id)
        },
    ));
    assert_eq!(
        (expanded.file.capacity_bytes, expanded.file.file_size_bytes),
        (64 * GIB, 3 * GIB)
    );
    let fixed = ok(disk_ops::plan_create(
        &mut m,
        at(0),
        &DiskCreateParams {
            disk_type: NewDiskType::Fixed,
            ..create(id)
        },
    ));
    assert_eq!(
        (fixed.file.file_size_bytes, fixed.bytes_to_write),
        (10 * GIB + VHDX_OVERHEAD_BYTES, 10 * GIB)
    );
    let empty = ok(disk_ops::plan_create(&mut m, at(0), &create(id)));
    assert_eq!(
        (empty.file.file_size_bytes, empty.bytes_to_write),
        (VHDX_OVERHEAD_BYTES, 0)
    );
}

#[test]
fn ide_disks_go_on_generation_1_vms_that_are_off() {
    let mut m = host();
    let mut p = params("old", 2, 2);
    p.generation = Generation::One;
    p.secure_boot_enabled = None;
    p.secure_boot_template = None;
    let id = ok(vm_ops::create(&mut m, at(0), Timestamp::now(), &p));
    let ide = DiskCreateParams {
        controller_type: ControllerType::Ide,
        ..create(id)
    };
    let mut locations = Vec::new();
    for _ in 0..4 {
        let plan = ok(disk_ops::plan_create(&mut m, at(0), &ide));
        locations.push(plan.controller);
        ok(disk_ops::commit_create(&mut m, at(0), &plan));
    }
    assert_eq!(
        locations,
        vec![
            (ControllerType::Ide, 0, 0),
            (ControllerType::Ide, 0, 1),
            (ControllerType::Ide, 1, 0),
            (ControllerType::Ide, 1, 1)
        ]
    );
    assert_eq!(
        code(disk_ops::plan_create(&mut m, at(0), &ide)),
        AgentErrorCode::OperationFailed,
        "no free location"
    );
    ok(vm_ops::change(
        &mut m,
        at(0),
        id,
        &VmChange {
            state: Some(VmState::Running),
            ..Default::default()
        },
    ));
    let ErrorDetails::InvalidState(d) = details(disk_ops::plan_create(&mut m, at(0), &ide)) else {
        panic!()
    };
    assert_eq!(d.allowed_states, vec![VmState::Off]);
    let disk_id = m.vm_snapshot(at(0), id).expect("vm").disks[0].id.clone();
    let r = DiskResizeParams {
        vm_id: id,
        disk_id: disk_id.clone(),
        size_bytes: 20 * GIB,
    };
    assert_eq!(
        code(disk_ops::resize(&mut m, at(0), &r)),
        AgentErrorCode::InvalidState,
        "an IDE disk grows only while off"
    );
    let d = DiskDeleteParams {
        vm_id: id,
        disk_id,
        delete_file: true,
    };
    assert_eq!(
        code(disk_ops::delete(&mut m, at(0), &d)),
        AgentErrorCode::InvalidState
    );
}

#[test]
fn disks_grow_but_never_shrink() {
    let mut m = host();
    let id = vm(&mut m, "web", 2);
    let plan = ok(disk_ops::plan_create(
        &mut m,
        at(0),
        &DiskCreateParams {
            disk_type: NewDiskType::Fixed,
            ..create(id)
        },
    ));
    let disk = ok(disk_ops::commit_create(&mut m, at(0), &plan));
    let plan = ok(power::begin(&mut m, at(0), id, PowerAction::Start, secs(1)));
    let power::PowerPlan::Transition { until, .. } = plan else {
        panic!()
    };
    m.settle(until);
    let r = |size| DiskResizeParams {
        vm_id: id,
        disk_id: disk.id.clone(),
        size_bytes: size,
    };
    let ErrorDetails::InvalidRequest(d) = details(disk_ops::resize(&mut m, until, &r(5 * GIB)))
    else {
        panic!()
    };
    assert_eq!(d.errors[0].pointer, "/params/size_bytes");
    let (took, same) = ok(disk_ops::resize(&mut m, until, &r(10 * GIB)));
    assert_eq!(
        (took, same.capacity_bytes),
        (std::time::Duration::ZERO, Some(10 * GIB))
    );
    let before = free(&m);
    let (took, grown) = ok(disk_ops::resize(&mut m, until, &r(30 * GIB)));
    assert_eq!(grown.capacity_bytes, Some(30 * GIB));
    assert_eq!(
        grown.file_size_bytes,
        Some(30 * GIB + VHDX_OVERHEAD_BYTES),
        "a fixed disk grows its file"
    );
    assert_eq!(free(&m), before - 20 * GIB);
    assert_eq!(took, durations::CONFIGURE + durations::copy(20 * GIB));
    let e = disk_ops::resize(&mut m, until, &r(2000 * GIB));
    assert_eq!(code(e), AgentErrorCode::InsufficientResources);
}

#[test]
fn delete_detaches_and_deletes_or_keeps_the_file() {
    let mut m = host();
    let id = vm(&mut m, "web", 2);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let plan = ok(disk_ops::plan_create(
            &mut m,
            at(0),
            &DiskCreateParams {
                disk_type: NewDiskType::Fixed,
                ..create(id)
            },
        ));
        ids.push(ok(disk_ops::commit_create(&mut m, at(0), &plan)));
    }
    let before = free(&m);
    let gone = ok(disk_ops::delete(
        &mut m,
        at(0),
        &DiskDeleteParams {
            vm_id: id,
            disk_id: ids[0].id.clone(),
            delete_file: true,
        },
    ));
    assert!(gone.file_deleted);
    assert_eq!(free(&m), before + 10 * GIB + VHDX_OVERHEAD_BYTES);
    let kept = ok(disk_ops::delete(
        &mut m,
        at(0),
        &DiskDeleteParams {
            vm_id: id,
            disk_id: ids[1].id.clone(),
            delete_file: false,
        },
    ));
    assert!(!kept.file_deleted);
    assert!(m.files().any(|f| f.path == kept.path));
    assert!(m.vm(id).is_some_and(|v| v.disks.is_empty()));
    let e = disk_ops::delete(
        &mut m,
        at(0),
        &DiskDeleteParams {
            vm_id: id,
            disk_id: ids[1].id.clone(),
            delete_file: false,
        },
    );
    let ErrorDetails::NotFound(d) = details(e) else {
        panic!()
    };
    assert_eq!((d.kind, d.available.len()), (ObjectKind::Disk, 0));
    let other = VmId::from_uuid(uuid::Uuid::from_u128(7));
    assert_eq!(
        code(disk_ops::delete(
            &mut m,
            at(0),
            &DiskDeleteParams {
                vm_id: other,
                disk_id: ids[1].id.clone(),
                delete_file: false
            }
        )),
        AgentErrorCode::VmNotFound
    );
}
