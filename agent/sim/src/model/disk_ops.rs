//! `disk.create`, `disk.resize` and `disk.delete`, with space accounting on the volumes.
//!
//! Creating a disk is two-phase so that a long image copy can be interrupted cleanly:
//! [`plan_create`] checks everything, reserves the space and the controller location, and
//! says how many bytes must be written; the agent waits the copy time, then
//! [`commit_create`] writes the file and attaches it, or [`abort_create`] gives everything
//! back (an interrupted copy leaves no file and no disk attached).

use std::time::Duration;

use aetherv_hyperv::ops::disk::{
    DiskCreateParams, DiskDeleteParams, DiskDeleteResult, DiskResizeParams,
};
use aetherv_hyperv::{
    AgentError, ControllerType, Disk, DiskType, ExistingKind, Generation, NewDiskType, ObjectKind,
    ScarceResource, VmId, VmState,
};
use rand::Rng;

use super::errors;
use super::state::{SimDisk, VhdFile, durations, vm_view};
use super::{HostModel, ReservationId};
use crate::clock::SimInstant;

/// VHDX metadata and headers: the file size of an empty dynamic disk, and what a fixed
/// disk adds to its capacity.
pub const VHDX_OVERHEAD_BYTES: u64 = 4 * 1024 * 1024;

/// A controller location held by a disk being created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attaching {
    vm_id: VmId,
    controller: (ControllerType, u8, u8),
    reservation: ReservationId,
}

/// A disk being created: everything [`commit_create`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskPlan {
    /// The VM.
    pub vm_id: VmId,
    /// The space held for the file.
    pub reservation: ReservationId,
    /// The file that will exist.
    pub file: VhdFile,
    /// Where it will be attached: (type, controller number, location).
    pub controller: (ControllerType, u8, u8),
    /// Bytes copied or written (the duration follows from it).
    pub bytes_to_write: u64,
    /// The image cloned, if any.
    pub image: Option<String>,
    /// What the cloned image boots.
    pub guest_os: Option<String>,
    /// How long Hyper-V takes (simulated).
    pub duration: Duration,
}

fn disk_ids(model: &HostModel, vm_id: VmId) -> Vec<String> {
    model.vm(vm_id).map_or_else(Vec::new, |vm| {
        vm.disks
            .iter()
            .filter_map(|d| vm.disk_id(d).map(|id| id.as_str().to_owned()))
            .collect()
    })
}

fn free_location(
    model: &HostModel,
    vm_id: VmId,
    kind: ControllerType,
) -> Option<(ControllerType, u8, u8)> {
    let vm = model.vm(vm_id)?;
    let (controllers, locations) = match kind {
        ControllerType::Scsi => (vm.scsi_controllers.len(), 64u8),
        ControllerType::Ide => (vm.ide_controllers.len(), 2u8),
    };
    let taken = |n: u8, l: u8| {
        vm.disks.iter().any(|d| {
            d.controller_type == kind && d.controller_number == n && d.controller_location == l
        }) || model
            .attaching
            .iter()
            .any(|a| a.vm_id == vm_id && a.controller == (kind, n, l))
    };
    (0..controllers as u8)
        .flat_map(|n| (0..locations).map(move |l| (n, l)))
        .find(|&(n, l)| !taken(n, l))
        .map(|(n, l)| (kind, n, l))
}

/// Checks a `disk.create` and reserves its space and location.
pub fn plan_create(
    model: &mut HostModel,
    now: SimInstant,
    p: &DiskCreateParams,
) -> Result<DiskPlan, AgentError> {
    model.settle(now);
    let vm = model
        .vm(p.vm_id)
        .ok_or_else(|| errors::vm_not_found(p.vm_id))?;
    let (vm_name, vm_folder, generation, state) = (
        vm.name.clone(),
        vm.configuration_path.clone(),
        vm.generation,
        vm.state,
    );
    let catalogue = model.catalogue();
    let image = match &p.image {
        Some(name) => {
            let Some(entry) = catalogue.images.iter().find(|i| &i.name == name) else {
                let available = catalogue.images.iter().map(|i| i.name.clone()).collect();
                return Err(errors::not_found(ObjectKind::Image, name, available));
            };
            let file = model
                .files()
                .find(|f| f.path.eq_ignore_ascii_case(&entry.path));
            let Some(file) = file.cloned() else {
                return Err(errors::operation_failed(
                    "Copy-Item",
                    &format!(
                        "Cannot find path '{}' because it does not exist.",
                        entry.path
                    ),
                    Some("PathNotFound,Microsoft.PowerShell.Commands.CopyItemCommand"),
                ));
            };
            Some((entry.clone(), file))
        }
        None => None,
    };
    let folder = match &p.storage_class {
        Some(name) => {
            let Some(class) = catalogue.storage_classes.iter().find(|c| &c.name == name) else {
                let available = catalogue
                    .storage_classes
                    .iter()
                    .map(|c| c.name.clone())
                    .collect();
                return Err(errors::not_found(ObjectKind::StorageClass, name, available));
            };
            format!("{}\\{}", class.path.trim_end_matches('\\'), vm_name)
        }
        None => vm_folder,
    };
    if p.controller_type == ControllerType::Ide {
        if generation == Generation::Two {
            return Err(errors::invalid_request(
                "/params/controller_type",
                "generation 2 virtual machines have no IDE controller",
            ));
        }
        if state != VmState::Off {
            return Err(errors::invalid_state(
                p.vm_id,
                state,
                vec![VmState::Off],
                "attach a disk to an IDE controller",
            ));
        }
    }
    let image_capacity = image.as_ref().map(|(_, f)| f.capacity_bytes);
    let capacity = match (p.size_bytes, image_capacity) {
        (Some(size), Some(min)) if size < min => {
            return Err(errors::invalid_request(
                "/params/size_bytes",
                &format!("must not be below the image's capacity of {min} bytes"),
            ));
        }
        (Some(size), _) => size,
        (None, Some(min)) => min,
        (None, None) => {
            return Err(errors::invalid_request(
                "/params/size_bytes",
                "is required without an image",
            ));
        }
    };
    let (file_size, bytes_to_write) = match (p.disk_type, &image) {
        (NewDiskType::Dynamic, Some((_, f))) => (f.file_size_bytes, f.file_size_bytes),
        (NewDiskType::Dynamic, None) => (VHDX_OVERHEAD_BYTES, 0),
        (NewDiskType::Fixed, _) => (capacity + VHDX_OVERHEAD_BYTES, capacity),
    };
    let suffix: u32 = model.rng().random();
    let path = format!("{folder}\\{vm_name}-{suffix:08x}.vhdx");
    if model.files().any(|f| f.path.eq_ignore_ascii_case(&path)) {
        return Err(errors::already_exists(ExistingKind::File, &path));
    }
    let Some(controller) = free_location(model, p.vm_id, p.controller_type) else {
        return Err(errors::operation_failed(
            "Add-VMHardDiskDrive",
            &format!(
                "Failed to add device 'Virtual Hard Disk': the {} controllers of '{vm_name}' have no free location.",
                match p.controller_type {
                    ControllerType::Scsi => "SCSI",
                    ControllerType::Ide => "IDE",
                }
            ),
            Some("InvalidParameter,Microsoft.HyperV.PowerShell.Commands.AddVMHardDiskDrive"),
        ));
    };
    let reservation = model.reserve(&path, file_size)?;
    model.attaching.push(Attaching {
        vm_id: p.vm_id,
        controller,
        reservation,
    });
    let disk_type = match p.disk_type {
        NewDiskType::Dynamic => DiskType::Dynamic,
        NewDiskType::Fixed => DiskType::Fixed,
    };
    Ok(DiskPlan {
        vm_id: p.vm_id,
        reservation,
        file: VhdFile {
            path,
            disk_type,
            capacity_bytes: capacity,
            file_size_bytes: file_size,
        },
        controller,
        bytes_to_write,
        image: image.as_ref().map(|(e, _)| e.name.clone()),
        guest_os: image.map(|(e, _)| e.guest_os_name),
        duration: durations::CONFIGURE + durations::copy(bytes_to_write),
    })
}

/// Gives back what [`plan_create`] held.
pub fn abort_create(model: &mut HostModel, plan: &DiskPlan) {
    model
        .attaching
        .retain(|a| a.reservation != plan.reservation);
    model.release(plan.reservation);
}

/// Writes the file and attaches it; VM_NOT_FOUND (and nothing written) when the VM went
/// away meanwhile.
pub fn commit_create(
    model: &mut HostModel,
    now: SimInstant,
    plan: &DiskPlan,
) -> Result<Disk, AgentError> {
    abort_create(model, plan);
    model.settle(now);
    if model.vm(plan.vm_id).is_none() {
        return Err(errors::vm_not_found(plan.vm_id));
    }
    model.put_file(plan.file.clone());
    let (controller_type, controller_number, controller_location) = plan.controller;
    let disk = SimDisk {
        controller_type,
        controller_number,
        controller_location,
        path: plan.file.path.clone(),
    };
    let vm = model.vm_or_not_found(plan.vm_id)?;
    vm.disks.push(disk);
    if vm.guest_os.is_none() {
        vm.guest_os = plan.guest_os.clone();
    }
    disk_view(model, now, plan.vm_id, vm_disk_count(model, plan.vm_id) - 1)
}

fn vm_disk_count(model: &HostModel, vm_id: VmId) -> usize {
    model.vm(vm_id).map_or(0, |v| v.disks.len())
}

fn disk_view(
    model: &HostModel,
    now: SimInstant,
    vm_id: VmId,
    index: usize,
) -> Result<Disk, AgentError> {
    let vm = model.vm(vm_id).ok_or_else(|| errors::vm_not_found(vm_id))?;
    vm_view(vm, now, model)
        .disks
        .into_iter()
        .nth(index)
        .ok_or_else(|| errors::operation_failed("Get-VMHardDiskDrive", "the disk vanished", None))
}

fn find_disk(
    model: &HostModel,
    vm_id: VmId,
    disk_id: &aetherv_hyperv::DiskId,
) -> Result<usize, AgentError> {
    let vm = model.vm(vm_id).ok_or_else(|| errors::vm_not_found(vm_id))?;
    vm.disk_index(disk_id).ok_or_else(|| {
        errors::not_found(ObjectKind::Disk, disk_id.as_str(), disk_ids(model, vm_id))
    })
}

/// `disk.resize`: grows a disk (never shrinks it). Returns how long Hyper-V takes and
/// the disk after.
pub fn resize(
    model: &mut HostModel,
    now: SimInstant,
    p: &DiskResizeParams,
) -> Result<(Duration, Disk), AgentError> {
    model.settle(now);
    let index = find_disk(model, p.vm_id, &p.disk_id)?;
    let vm = model
        .vm(p.vm_id)
        .ok_or_else(|| errors::vm_not_found(p.vm_id))?;
    let state = vm.state;
    let disk = vm.disks[index].clone();
    let Some(file) = model
        .files()
        .find(|f| f.path.eq_ignore_ascii_case(&disk.path))
        .cloned()
    else {
        return Err(errors::operation_failed(
            "Resize-VHD",
            &format!("The system cannot find the file '{}'.", disk.path),
            Some("ObjectNotFound,Microsoft.Vhd.PowerShell.Cmdlets.ResizeVhd"),
        ));
    };
    if p.size_bytes < file.capacity_bytes {
        return Err(errors::invalid_request(
            "/params/size_bytes",
            &format!(
                "must not be below the current capacity of {} bytes (disks cannot shrink)",
                file.capacity_bytes
            ),
        ));
    }
    if p.size_bytes == file.capacity_bytes {
        return Ok((Duration::ZERO, disk_view(model, now, p.vm_id, index)?));
    }
    let offline_only = disk.controller_type == ControllerType::Ide
        || disk.path.to_ascii_lowercase().ends_with(".vhd");
    if offline_only && state != VmState::Off {
        return Err(errors::invalid_state(
            p.vm_id,
            state,
            vec![VmState::Off],
            "resize a disk on an IDE controller or a .vhd file",
        ));
    }
    let growth = p.size_bytes - file.capacity_bytes;
    let duration = if file.disk_type == DiskType::Fixed {
        let free = model.space(&file.path).map_or(0, |(_, f)| f);
        if free < growth {
            let folder = file
                .path
                .rsplit_once('\\')
                .map_or(file.path.as_str(), |(f, _)| f);
            return Err(errors::insufficient(
                ScarceResource::DiskSpace,
                growth,
                free,
                Some(folder.to_owned()),
            ));
        }
        durations::CONFIGURE + durations::copy(growth)
    } else {
        durations::CONFIGURE
    };
    if let Some(f) = model.file_mut(&file.path) {
        f.capacity_bytes = p.size_bytes;
        if f.disk_type == DiskType::Fixed {
            f.file_size_bytes += growth;
        }
    }
    Ok((duration, disk_view(model, now, p.vm_id, index)?))
}

/// `disk.delete`: detaches the disk and, when asked, deletes its file.
pub fn delete(
    model: &mut HostModel,
    now: SimInstant,
    p: &DiskDeleteParams,
) -> Result<DiskDeleteResult, AgentError> {
    model.settle(now);
    let index = find_disk(model, p.vm_id, &p.disk_id)?;
    let vm = model.vm_or_not_found(p.vm_id)?;
    if vm.disks[index].controller_type == ControllerType::Ide && vm.state != VmState::Off {
        return Err(errors::invalid_state(
            p.vm_id,
            vm.state,
            vec![VmState::Off],
            "detach a disk from an IDE controller",
        ));
    }
    let disk = vm.disks.remove(index);
    if p.delete_file {
        model.remove_file(&disk.path);
    }
    Ok(DiskDeleteResult {
        vm_id: p.vm_id,
        disk_id: p.disk_id.clone(),
        path: disk.path,
        file_deleted: p.delete_file,
    })
}
