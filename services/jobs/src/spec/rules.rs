//! The spec rules a JSON Schema cannot express (it cannot compare two numbers or count
//! matching items), checked after the schema. Each broken rule is a [`Violation`] with the
//! pointer of the field to change and the rule's name. Rules that need the host (names in
//! its catalogue, the VM's current values) are the pre-checks in `domain::checks`.

use aetherv_hyperv::{ControllerType, Generation};

use super::Violation;
use super::types::{Spec, VmChanges, VmSpec};

/// A generation 1 VM has two IDE controllers of two locations each.
pub const IDE_LOCATIONS: usize = 4;

/// Every broken rule of a schema-valid spec.
pub fn check(spec: &Spec) -> Vec<Violation> {
    let mut broken = Vec::new();
    match spec {
        Spec::CreateVm { vm, .. } => vm_rules(vm, "/vm", &mut broken),
        Spec::ManagedDeployment { vm, disks, .. } => {
            vm_rules(vm, "/vm", &mut broken);
            if vm.generation == Generation::One {
                let boot = usize::from(vm.image.is_some());
                let ide = disks
                    .iter()
                    .filter(|d| d.controller_type == ControllerType::Ide)
                    .count();
                if boot + ide > IDE_LOCATIONS {
                    broken.push(Violation::new(
                        "/disks",
                        "ide_locations",
                        format!(
                            "a generation 1 vm has {IDE_LOCATIONS} ide locations and this deployment needs {} (the boot disk included); put the other disks on scsi",
                            boot + ide
                        ),
                    ));
                }
            }
        }
        Spec::UpdateVm { changes, .. } => update_rules(changes, &mut broken),
        _ => {}
    }
    broken
}

fn vm_rules(vm: &VmSpec, at: &str, broken: &mut Vec<Violation>) {
    if vm.dynamic_memory_enabled {
        broken.extend(memory_order(
            at,
            vm.memory_minimum_bytes,
            Some(vm.memory_startup_bytes),
            vm.memory_maximum_bytes,
        ));
    }
}

fn update_rules(changes: &VmChanges, broken: &mut Vec<Violation>) {
    if changes.dynamic_memory_enabled == Some(false) {
        return;
    }
    broken.extend(memory_order(
        "",
        changes.memory_minimum_bytes,
        changes.memory_startup_bytes,
        changes.memory_maximum_bytes,
    ));
}

/// minimum <= startup <= maximum over the values present, each broken comparison naming
/// the field under `at` that would fix it.
pub fn memory_order(
    at: &str,
    minimum: Option<u64>,
    startup: Option<u64>,
    maximum: Option<u64>,
) -> Vec<Violation> {
    let mut broken = Vec::new();
    if let (Some(minimum), Some(startup)) = (minimum, startup)
        && minimum > startup
    {
        broken.push(Violation::new(
            format!("{at}/memory_minimum_bytes"),
            "memory_order",
            "must not be above the startup memory",
        ));
    }
    if let (Some(startup), Some(maximum)) = (startup, maximum)
        && startup > maximum
    {
        broken.push(Violation::new(
            format!("{at}/memory_maximum_bytes"),
            "memory_order",
            "must not be below the startup memory",
        ));
    }
    if let (Some(minimum), Some(maximum)) = (minimum, maximum)
        && minimum > maximum
        && startup.is_none()
    {
        broken.push(Violation::new(
            format!("{at}/memory_maximum_bytes"),
            "memory_order",
            "must not be below the minimum memory",
        ));
    }
    broken
}
