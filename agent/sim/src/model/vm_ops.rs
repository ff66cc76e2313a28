//! `vm.create`, `vm.update`, `vm.delete`, and the out-of-band changes someone could make
//! in Hyper-V Manager behind the control plane's back.
//!
//! `vm.update` follows Hyper-V (Set-VMProcessor / Set-VMMemory), as the schema documents:
//! - the processor count, the dynamic-memory switch and the startup memory change only
//!   while the VM is Off (a value equal to the current one is no change and is accepted in
//!   any state);
//! - on a Running VM with dynamic memory the minimum may only go down and the maximum only
//!   up; in any other state but Off they cannot change;
//! - the notes change in any state;
//! - after the change, with dynamic memory on, minimum <= startup <= maximum (counting the
//!   values left as they are), else INVALID_REQUEST; turning dynamic memory on without a
//!   range gives Hyper-V's defaults (512 MiB, or the startup memory if lower, to 1 TiB).

use aetherv_hyperv::ops::vm::{VmCreateParams, VmDeleteParams, VmDeleteResult, VmUpdateParams};
use aetherv_hyperv::{AgentError, ExistingKind, Generation, ObjectKind, Timestamp, VmId, VmState};
use rand::Rng;
use uuid::Uuid;

use super::HostModel;
use super::errors;
use super::power::{assign_guest_ips, assign_macs};
use super::state::{Memory, SimVm, holds_memory};
use crate::clock::SimInstant;

const MIB: u64 = 1024 * 1024;
const DEFAULT_DYNAMIC_MIN: u64 = 512 * MIB;
const DEFAULT_DYNAMIC_MAX: u64 = 1024 * 1024 * MIB;

/// A random (v4) GUID from the host's generator.
pub(crate) fn new_guid(model: &mut HostModel) -> Uuid {
    let bytes: [u8; 16] = model.rng().random();
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// What a new VM is made of (vm.create and out-of-band additions).
pub(crate) struct VmShape<'a> {
    pub name: &'a str,
    pub cpu_count: u32,
    pub generation: Generation,
    pub memory: Memory,
    pub secure_boot: Option<(bool, Option<aetherv_hyperv::SecureBootTemplate>)>,
    pub notes: String,
    pub folder: String,
}

pub(crate) fn build_vm(model: &mut HostModel, wall: Timestamp, shape: VmShape<'_>) -> SimVm {
    let id = VmId::from_uuid(new_guid(model));
    let scsi = vec![new_guid(model)];
    let ide = match shape.generation {
        Generation::One => vec![new_guid(model), new_guid(model)],
        Generation::Two => Vec::new(),
    };
    SimVm {
        id,
        name: shape.name.to_owned(),
        state: VmState::Off,
        transition: None,
        generation: shape.generation,
        configuration_version: model.facts().configuration_version.clone(),
        cpu_count: shape.cpu_count,
        memory: shape.memory,
        secure_boot: shape.secure_boot,
        notes: shape.notes,
        guest_os: None,
        creation_time: wall,
        running_since: None,
        ever_started: false,
        clustered: false,
        configuration_path: shape.folder,
        nics: Vec::new(),
        disks: Vec::new(),
        scsi_controllers: scsi,
        ide_controllers: ide,
        guest_ignores_shutdown: false,
    }
}

/// `vm.create`: a VM, Off, without disks or adapters, in `<class path>\<name>`.
pub fn create(
    model: &mut HostModel,
    now: SimInstant,
    wall: Timestamp,
    p: &VmCreateParams,
) -> Result<VmId, AgentError> {
    model.settle(now);
    if model.vm_by_name(&p.name).is_some() {
        return Err(errors::already_exists(ExistingKind::Vm, &p.name));
    }
    let cores = model.facts().logical_processor_count;
    if p.cpu_count > cores {
        return Err(errors::invalid_request(
            "/params/cpu_count",
            &format!("must not exceed the host's {cores} logical processors"),
        ));
    }
    let Some(class) = model
        .catalogue()
        .storage_classes
        .iter()
        .find(|c| c.name == p.storage_class)
    else {
        let available = model
            .catalogue()
            .storage_classes
            .iter()
            .map(|c| c.name.clone())
            .collect();
        return Err(errors::not_found(
            ObjectKind::StorageClass,
            &p.storage_class,
            available,
        ));
    };
    let folder = format!("{}\\{}", class.path.trim_end_matches('\\'), p.name);
    let free = model.space(&folder).map_or(0, |(_, f)| f);
    if free < p.memory_startup_bytes {
        return Err(errors::insufficient(
            aetherv_hyperv::ScarceResource::DiskSpace,
            p.memory_startup_bytes,
            free,
            Some(folder),
        ));
    }
    let memory = Memory {
        startup_bytes: p.memory_startup_bytes,
        dynamic: p
            .dynamic_memory_enabled
            .then(|| Some((p.memory_minimum_bytes?, p.memory_maximum_bytes?)))
            .flatten(),
    };
    let secure_boot = match p.generation {
        Generation::One => None,
        Generation::Two => Some((
            p.secure_boot_enabled.unwrap_or(true),
            p.secure_boot_template,
        )),
    };
    let vm = build_vm(
        model,
        wall,
        VmShape {
            name: &p.name,
            cpu_count: p.cpu_count,
            generation: p.generation,
            memory,
            secure_boot,
            notes: p.notes.clone().unwrap_or_default(),
            folder,
        },
    );
    let id = vm.id;
    model.push_vm(vm);
    Ok(id)
}

fn order_errors(min: u64, startup: u64, max: u64) -> Option<AgentError> {
    if min > startup {
        return Some(errors::invalid_request(
            "/params/memory_minimum_bytes",
            "must not exceed the startup memory",
        ));
    }
    if startup > max {
        return Some(errors::invalid_request(
            "/params/memory_maximum_bytes",
            "must not be below the startup memory",
        ));
    }
    None
}

/// `vm.update` with the rules in the module documentation.
pub fn update(
    model: &mut HostModel,
    now: SimInstant,
    p: &VmUpdateParams,
) -> Result<(), AgentError> {
    model.settle(now);
    let vm = model.vm_or_not_found(p.vm_id)?;
    let state = vm.state;
    let current = vm.memory;
    let cpu_changes = p.cpu_count.is_some_and(|c| c != vm.cpu_count);
    let dynamic_after = p
        .dynamic_memory_enabled
        .unwrap_or(current.dynamic.is_some());
    let switch_changes = dynamic_after != current.dynamic.is_some();
    let startup_after = p.memory_startup_bytes.unwrap_or(current.startup_bytes);
    let startup_changes = startup_after != current.startup_bytes;
    if (cpu_changes || switch_changes || startup_changes) && state != VmState::Off {
        let what = if cpu_changes {
            "change the processor count (Set-VMProcessor)"
        } else if switch_changes {
            "turn dynamic memory on or off (Set-VMMemory)"
        } else {
            "change the startup memory (Set-VMMemory)"
        };
        return Err(errors::invalid_state(
            p.vm_id,
            state,
            vec![VmState::Off],
            what,
        ));
    }
    let range_given = p.memory_minimum_bytes.is_some() || p.memory_maximum_bytes.is_some();
    if range_given && !dynamic_after {
        let pointer = if p.memory_minimum_bytes.is_some() {
            "/params/memory_minimum_bytes"
        } else {
            "/params/memory_maximum_bytes"
        };
        return Err(errors::invalid_request(
            pointer,
            "can only be set when dynamic memory is on",
        ));
    }
    let dynamic = if dynamic_after {
        let (cur_min, cur_max) = current.dynamic.unwrap_or((
            DEFAULT_DYNAMIC_MIN.min(startup_after),
            DEFAULT_DYNAMIC_MAX.max(startup_after),
        ));
        let min = p.memory_minimum_bytes.unwrap_or(cur_min);
        let max = p.memory_maximum_bytes.unwrap_or(cur_max);
        if let Some(e) = order_errors(min, startup_after, max) {
            return Err(e);
        }
        if current.dynamic.is_some() && state != VmState::Off && (min != cur_min || max != cur_max)
        {
            if state != VmState::Running {
                return Err(errors::invalid_state(
                    p.vm_id,
                    state,
                    vec![VmState::Off, VmState::Running],
                    "change the dynamic memory range (Set-VMMemory)",
                ));
            }
            if min > cur_min || max < cur_max {
                return Err(errors::invalid_state(
                    p.vm_id,
                    state,
                    vec![VmState::Off],
                    "raise the dynamic memory minimum or lower its maximum of a running virtual machine (Set-VMMemory)",
                ));
            }
        }
        Some((min, max))
    } else {
        None
    };
    if let Some(c) = p.cpu_count {
        vm.cpu_count = c;
    }
    vm.memory = Memory {
        startup_bytes: startup_after,
        dynamic,
    };
    if let Some(notes) = &p.notes {
        vm.notes = notes.clone();
    }
    Ok(())
}

/// What `vm.delete` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// The result to answer.
    pub result: VmDeleteResult,
    /// Whether the VM had to be turned off first.
    pub turned_off: bool,
    /// Whether its cluster role was removed.
    pub cluster_role_removed: bool,
}

/// `vm.delete`: a VM that is not Off needs `force` (it is turned off first).
pub fn delete(
    model: &mut HostModel,
    now: SimInstant,
    p: &VmDeleteParams,
) -> Result<Deleted, AgentError> {
    model.settle(now);
    let vm = model.vm_or_not_found(p.vm_id)?;
    let turned_off = vm.state != VmState::Off;
    if turned_off && !p.force {
        return Err(errors::invalid_state(
            p.vm_id,
            vm.state,
            vec![VmState::Off],
            "delete (Remove-VM) a virtual machine that is not turned off without force",
        ));
    }
    let Some(vm) = model.take_vm(p.vm_id) else {
        return Err(errors::vm_not_found(p.vm_id));
    };
    let mut deleted = Vec::new();
    let mut retained = Vec::new();
    for disk in &vm.disks {
        if p.delete_disks {
            model.remove_file(&disk.path);
            deleted.push(disk.path.clone());
        } else {
            retained.push(disk.path.clone());
        }
    }
    Ok(Deleted {
        result: VmDeleteResult {
            vm_id: vm.id,
            name: vm.name.clone(),
            deleted_disk_paths: deleted,
            retained_disk_paths: retained,
        },
        turned_off,
        cluster_role_removed: vm.clustered,
    })
}

/// An out-of-band change, as someone in Hyper-V Manager could make it. None leaves a
/// setting as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VmChange {
    /// Rename.
    pub name: Option<String>,
    /// Force a state (any state, transitional ones included; a transition under way is dropped).
    pub state: Option<VmState>,
    /// Processor count.
    pub cpu_count: Option<u32>,
    /// Startup memory.
    pub memory_startup_bytes: Option<u64>,
    /// Dynamic memory: Some(None) turns it off, Some(Some((min, max))) sets it.
    pub dynamic_memory: Option<Option<(u64, u64)>>,
    /// Notes.
    pub notes: Option<String>,
    /// The guest's OS name (Some(None): no OS).
    pub guest_os_name: Option<Option<String>>,
    /// Whether the guest ignores shutdown requests.
    pub guest_ignores_shutdown: Option<bool>,
}

/// Applies an out-of-band change (no Hyper-V rules: it already happened). The caller has
/// validated the values.
pub fn change(
    model: &mut HostModel,
    now: SimInstant,
    vm_id: VmId,
    c: &VmChange,
) -> Result<(), AgentError> {
    model.settle(now);
    if let Some(name) = &c.name
        && model
            .vms()
            .iter()
            .any(|v| v.id != vm_id && v.name.eq_ignore_ascii_case(name))
    {
        return Err(errors::already_exists(ExistingKind::Vm, name));
    }
    let index = model
        .vms()
        .iter()
        .position(|v| v.id == vm_id)
        .ok_or_else(|| errors::vm_not_found(vm_id))?;
    let vm = &mut model.vms[index];
    if let Some(name) = &c.name {
        vm.name = name.clone();
    }
    if let Some(cpu) = c.cpu_count {
        vm.cpu_count = cpu;
    }
    if let Some(startup) = c.memory_startup_bytes {
        vm.memory.startup_bytes = startup;
    }
    if let Some(dynamic) = c.dynamic_memory {
        vm.memory.dynamic = dynamic;
    }
    if let Some(notes) = &c.notes {
        vm.notes = notes.clone();
    }
    if let Some(os) = &c.guest_os_name {
        vm.guest_os = os.clone();
    }
    if let Some(ignores) = c.guest_ignores_shutdown {
        vm.guest_ignores_shutdown = ignores;
    }
    if let Some(state) = c.state {
        vm.transition = None;
        vm.state = state;
        if !holds_memory(state) {
            vm.running_since = None;
        } else if vm.running_since.is_none() {
            vm.running_since = Some(now);
        }
        if state == VmState::Running {
            vm.ever_started = true;
            assign_macs(model, index);
            assign_guest_ips(model, index);
        }
    }
    Ok(())
}

/// A VM added out of band.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVm {
    /// Name, unique on the host.
    pub name: String,
    /// Processors.
    pub cpu_count: u32,
    /// Startup memory.
    pub memory_startup_bytes: u64,
    /// Generation.
    pub generation: Generation,
    /// Initial state.
    pub state: VmState,
    /// Notes.
    pub notes: String,
    /// Guest OS name, when an OS runs in it.
    pub guest_os_name: Option<String>,
}

/// Adds a VM out of band, in Hyper-V's default VM folder.
pub fn add(
    model: &mut HostModel,
    now: SimInstant,
    wall: Timestamp,
    new: &NewVm,
) -> Result<VmId, AgentError> {
    model.settle(now);
    if model.vm_by_name(&new.name).is_some() {
        return Err(errors::already_exists(ExistingKind::Vm, &new.name));
    }
    let folder = format!(
        "{}\\{}",
        model.facts().default_vm_path.trim_end_matches('\\'),
        new.name
    );
    let secure_boot = match new.generation {
        Generation::One => None,
        Generation::Two => Some((
            true,
            Some(aetherv_hyperv::SecureBootTemplate::MicrosoftWindows),
        )),
    };
    let mut vm = build_vm(
        model,
        wall,
        VmShape {
            name: &new.name,
            cpu_count: new.cpu_count,
            generation: new.generation,
            memory: Memory {
                startup_bytes: new.memory_startup_bytes,
                dynamic: None,
            },
            secure_boot,
            notes: new.notes.clone(),
            folder,
        },
    );
    vm.guest_os = new.guest_os_name.clone();
    let id = vm.id;
    model.push_vm(vm);
    change(
        model,
        now,
        id,
        &VmChange {
            state: Some(new.state),
            ..VmChange::default()
        },
    )?;
    Ok(id)
}

/// Removes a VM out of band (its files stay, as Hyper-V Manager's Delete leaves them).
pub fn remove(model: &mut HostModel, vm_id: VmId) -> Result<SimVm, AgentError> {
    model
        .take_vm(vm_id)
        .ok_or_else(|| errors::vm_not_found(vm_id))
}
