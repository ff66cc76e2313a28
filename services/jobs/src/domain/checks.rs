//! Pre-checks: before a job is queued, its spec is checked against inventory and the
//! host's resource catalogue — host known and reachable, VM on that host, name free, the
//! VM's state allows the action, the disk/adapter exists, every image, storage class,
//! network and switch named exists. A refusal lists every problem, each with the JSON
//! pointer of the field to change, the rule's name, and the valid values.
//!
//! State rules are checked only when no earlier job on the VM is still unfinished: that job
//! may change the state first, so the host checks it when this job runs.

use aetherv_hyperv::{ControllerType, Generation, OsFamily, ResourceCatalogue, VmState};
use aetherv_proto::common::v1::{FieldViolation, PointerKind};
use aetherv_runtime::{ApiError, ErrorCode};

use super::facts::{Facts, HostStatus, VmFacts};
use crate::spec::rules::memory_order;
use crate::spec::{DiskSpec, NicSpec, Spec, Violation, VmSpec};

/// What the checks resolved for planning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The new VM's OS family (the image's, else the spec's, else windows).
    pub family: OsFamily,
    /// The VM's name, for display.
    pub vm_name: String,
}

/// The error for a list of violations: NOT_FOUND when the host or VM is unknown,
/// FAILED_PRECONDITION otherwise.
pub fn refusal(code: ErrorCode, violations: Vec<Violation>) -> ApiError {
    let message = violations
        .iter()
        .map(|v| {
            let at = if v.pointer.is_empty() {
                "/"
            } else {
                &v.pointer
            };
            format!("{at}: {}", v.description)
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut error = ApiError::new(code, message);
    for v in violations {
        error = error.with_violation(FieldViolation {
            field: v.pointer,
            pointer_kind: PointerKind::JsonPointer as i32,
            description: v.description,
            rule: v.rule,
            allowed: v.allowed,
        });
    }
    error
}

fn quote_list(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut names: Vec<String> = names.collect();
    names.sort();
    names
}

struct Checker<'a> {
    facts: &'a Facts,
    broken: Vec<Violation>,
}

impl Checker<'_> {
    fn catalogue(&self) -> Option<&ResourceCatalogue> {
        self.facts.catalogue.as_deref()
    }

    fn host_name(&self) -> String {
        self.facts
            .host
            .as_ref()
            .map_or_else(String::new, |h| h.host.to_string())
    }

    fn storage_class(&mut self, pointer: &str, name: &str) {
        let Some(catalogue) = self.catalogue() else {
            return;
        };
        if catalogue.storage_class(name).is_none() {
            let allowed = quote_list(catalogue.storage_classes.iter().map(|c| c.name.clone()));
            let host = self.host_name();
            self.broken.push(
                Violation::new(
                    pointer,
                    "storage_class_exists",
                    format!("storage class \"{name}\" is not in the catalogue of host {host}"),
                )
                .allowing(allowed),
            );
        }
    }

    /// Checks an image name; its capacity when it exists.
    fn image(&mut self, pointer: &str, name: &str) -> Option<(u64, OsFamily)> {
        let catalogue = self.catalogue()?;
        match catalogue.image(name) {
            Some(image) => Some((image.capacity_bytes.unwrap_or(0), image.os_family)),
            None => {
                let allowed = quote_list(catalogue.images.iter().map(|i| i.name.clone()));
                let host = self.host_name();
                self.broken.push(
                    Violation::new(
                        pointer,
                        "image_exists",
                        format!("image \"{name}\" is not in the catalogue of host {host}"),
                    )
                    .allowing(allowed),
                );
                None
            }
        }
    }

    fn size_fits_image(&mut self, pointer: &str, size: Option<u64>, capacity: u64) {
        if let Some(size) = size
            && size < capacity
        {
            self.broken.push(Violation::new(
                pointer,
                "size_at_least_image",
                format!(
                    "must be at least the image's size of {capacity} bytes (a disk never shrinks)"
                ),
            ));
        }
    }

    fn network(&mut self, pointer: &str, name: &str) {
        let Some(catalogue) = self.catalogue() else {
            return;
        };
        if catalogue.network(name).is_none() {
            let allowed = quote_list(catalogue.networks.iter().map(|n| n.name.clone()));
            let host = self.host_name();
            self.broken.push(
                Violation::new(
                    pointer,
                    "network_exists",
                    format!("network \"{name}\" is not in the catalogue of host {host}"),
                )
                .allowing(allowed),
            );
        }
    }

    fn switch(&mut self, pointer: &str, name: &str) {
        let Some(host) = &self.facts.host else {
            return;
        };
        if !host.switches.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            let allowed = quote_list(host.switches.iter().cloned());
            self.broken.push(
                Violation::new(
                    pointer,
                    "switch_exists",
                    format!(
                        "virtual switch \"{name}\" does not exist on host {}",
                        host.host
                    ),
                )
                .allowing(allowed),
            );
        }
    }

    fn disk(&mut self, at: &str, disk: &DiskSpec) {
        if let Some(class) = &disk.storage_class {
            self.storage_class(&format!("{at}/storage_class"), class);
        }
        if let Some(image) = &disk.image
            && let Some((capacity, _)) = self.image(&format!("{at}/image"), image)
        {
            self.size_fits_image(&format!("{at}/size_bytes"), disk.size_bytes, capacity);
        }
    }

    fn nic(&mut self, at: &str, nic: &NicSpec) {
        if let Some(network) = &nic.network {
            self.network(&format!("{at}/network"), network);
        }
        if let Some(switch) = &nic.switch_name {
            self.switch(&format!("{at}/switch_name"), switch);
        }
    }

    fn new_vm(&mut self, vm: &VmSpec) -> OsFamily {
        if let Some(id) = self.facts.name_taken_by {
            self.broken.push(Violation::new(
                "/vm/name",
                "name_free",
                format!(
                    "a vm named \"{}\" exists on host {} (id {id})",
                    vm.name,
                    self.host_name()
                ),
            ));
        } else if let Some(job) = &self.facts.name_claimed_by {
            self.broken.push(Violation::new(
                "/vm/name",
                "name_free",
                format!(
                    "job {job} is creating a vm named \"{}\" on host {}",
                    vm.name,
                    self.host_name()
                ),
            ));
        }
        if let Some(host) = &self.facts.host
            && host.cpu_cores > 0
            && vm.cpu_count > host.cpu_cores
        {
            self.broken.push(Violation::new(
                "/vm/cpu_count",
                "host_processors",
                format!(
                    "must be at most the host's {} logical processors",
                    host.cpu_cores
                ),
            ));
        }
        self.storage_class("/vm/storage_class", &vm.storage_class);
        let mut family = vm.os_family.unwrap_or(OsFamily::Windows);
        if let Some(image) = &vm.image
            && let Some((capacity, image_family)) = self.image("/vm/image", image)
        {
            self.size_fits_image(
                "/vm/boot_disk_size_bytes",
                vm.boot_disk_size_bytes,
                capacity,
            );
            if vm.os_family.is_some_and(|f| f != image_family) {
                let name = match image_family {
                    OsFamily::Windows => "windows",
                    OsFamily::Linux => "linux",
                };
                self.broken.push(
                    Violation::new(
                        "/vm/os_family",
                        "os_family_matches_image",
                        format!("image \"{image}\" is a {name} image"),
                    )
                    .allowing(vec![name.to_owned()]),
                );
            }
            family = image_family;
        }
        family
    }

    fn state(&mut self, vm: &VmFacts, pointer: &str, allowed: &[VmState], doing: &str) {
        if self.facts.earlier_job.is_some() || allowed.contains(&vm.state) {
            return;
        }
        self.broken.push(
            Violation::new(
                pointer,
                "state_allows",
                format!("cannot {doing} while vm {} is {}", vm.name, vm.state),
            )
            .allowing(allowed.iter().map(|s| s.as_str().to_owned()).collect()),
        );
    }
}

/// Checks `spec` against `facts`; `Ok` with what planning needs, or the refusal.
pub fn check(spec: &Spec, facts: &Facts) -> Result<Resolved, ApiError> {
    let host = spec.host();
    let Some(host_facts) = &facts.host else {
        return Err(refusal(
            ErrorCode::NotFound,
            vec![
                Violation::new(
                    "/host",
                    "host_known",
                    format!("host {host} is not configured"),
                )
                .allowing(facts.known_hosts.clone()),
            ],
        ));
    };
    match &host_facts.status {
        HostStatus::Reachable => {}
        HostStatus::Unknown => {
            return Err(refusal(
                ErrorCode::FailedPrecondition,
                vec![Violation::new(
                    "/host",
                    "host_reachable",
                    format!("host {host} has not been reached yet; try again in a moment"),
                )],
            ));
        }
        HostStatus::Unreachable(reason) => {
            return Err(refusal(
                ErrorCode::FailedPrecondition,
                vec![Violation::new(
                    "/host",
                    "host_reachable",
                    format!("host {host} is unreachable: {reason}"),
                )],
            ));
        }
    }
    let vm = match spec.vm_id() {
        None => None,
        Some(id) => {
            let Some(vm) = &facts.vm else {
                return Err(refusal(
                    ErrorCode::NotFound,
                    vec![Violation::new(
                        "/vm_id",
                        "vm_exists",
                        format!("vm {id} is unknown"),
                    )],
                ));
            };
            if &vm.host != host {
                return Err(refusal(
                    ErrorCode::FailedPrecondition,
                    vec![
                        Violation::new(
                            "/host",
                            "vm_on_host",
                            format!("vm {} ({id}) is on host {}, not {host}", vm.name, vm.host),
                        )
                        .allowing(vec![vm.host.to_string()]),
                    ],
                ));
            }
            Some(vm)
        }
    };
    let mut checker = Checker {
        facts,
        broken: Vec::new(),
    };
    let mut family = OsFamily::Windows;
    let vm_name = vm.map(|v| v.name.clone()).unwrap_or_default();
    let off = [VmState::Off];
    match (spec, vm) {
        (Spec::CreateVm { vm: new, .. }, _) => family = checker.new_vm(new),
        (Spec::ManagedDeployment {
            vm: new,
            disks,
            nics,
            ..
        }, _) => {
            family = checker.new_vm(new);
            for (i, disk) in disks.iter().enumerate() {
                checker.disk(&format!("/disks/{i}"), disk);
            }
            for (i, nic) in nics.iter().enumerate() {
                checker.nic(&format!("/nics/{i}"), nic);
            }
        }
        (Spec::Power { action, .. }, Some(vm)) => {
            checker.state(vm, "/vm_id", action.allowed_from(), action.as_str());
        }
        (Spec::DeleteVm { force: false, .. }, Some(vm)) => {
            checker.state(vm, "/force", &off, "delete it without force");
        }
        (Spec::UpdateVm { changes, .. }, Some(vm)) => {
            let needs_off = [
                ("/cpu_count", changes.cpu_count.is_some(), "change the processor count"),
                ("/memory_startup_bytes", changes.memory_startup_bytes.is_some(), "change the startup memory"),
                (
                    "/dynamic_memory_enabled",
                    changes.dynamic_memory_enabled.is_some_and(|on| on != vm.dynamic_memory_enabled),
                    "turn dynamic memory on or off",
                ),
            ];
            for (pointer, changed, doing) in needs_off {
                if changed {
                    checker.state(vm, pointer, &off, doing);
                }
            }
            let dynamic = changes.dynamic_memory_enabled.unwrap_or(vm.dynamic_memory_enabled);
            if dynamic {
                let minimum = changes.memory_minimum_bytes.or(vm.memory_minimum_bytes);
                let maximum = changes.memory_maximum_bytes.or(vm.memory_maximum_bytes);
                for (pointer, value) in [("/memory_minimum_bytes", minimum), ("/memory_maximum_bytes", maximum)] {
                    if value.is_none() {
                        checker.broken.push(Violation::new(
                            pointer,
                            "dynamic_memory",
                            "is required to turn dynamic memory on",
                        ));
                    }
                }
                let startup = changes.memory_startup_bytes.unwrap_or(vm.memory_startup_bytes);
                checker.broken.extend(memory_order("", minimum, Some(startup), maximum));
                if vm.dynamic_memory_enabled && vm.state != VmState::Off {
                    if let (Some(new), Some(old)) = (changes.memory_minimum_bytes, vm.memory_minimum_bytes)
                        && new > old
                    {
                        checker.state(vm, "/memory_minimum_bytes", &off, "raise the minimum memory");
                    }
                    if let (Some(new), Some(old)) = (changes.memory_maximum_bytes, vm.memory_maximum_bytes)
                        && new < old
                    {
                        checker.state(vm, "/memory_maximum_bytes", &off, "lower the maximum memory");
                    }
                }
            } else {
                for (pointer, given) in [
                    ("/memory_minimum_bytes", changes.memory_minimum_bytes.is_some()),
                    ("/memory_maximum_bytes", changes.memory_maximum_bytes.is_some()),
                ] {
                    if given {
                        checker.broken.push(Violation::new(
                            pointer,
                            "dynamic_memory",
                            "applies only with dynamic memory on (set dynamic_memory_enabled)",
                        ));
                    }
                }
            }
        }
        (Spec::CreateDisk { disk, .. }, Some(vm)) => {
            if disk.controller_type == ControllerType::Ide {
                if vm.generation == Generation::Two {
                    checker.broken.push(
                        Violation::new(
                            "/disk/controller_type",
                            "generation_allows",
                            format!("vm {} is generation 2, which has no ide controller", vm.name),
                        )
                        .allowing(vec!["SCSI".to_owned()]),
                    );
                } else {
                    checker.state(vm, "/disk/controller_type", &off, "attach an ide disk");
                }
            }
            checker.disk("/disk", disk);
        }
        (Spec::ResizeDisk {
            disk_id,
            size_bytes,
            ..
        }, Some(vm)) => match vm.disk(disk_id.as_str()) {
            None => checker.broken.push(no_such_disk(vm)),
            Some(disk) if *size_bytes <= disk.capacity_bytes => checker.broken.push(Violation::new(
                "/size_bytes",
                "size_grows",
                format!(
                    "must be larger than the disk's current size of {} bytes (a disk never shrinks)",
                    disk.capacity_bytes
                ),
            )),
            Some(_) => {}
        },
        (Spec::DeleteDisk { disk_id, .. }, Some(vm)) => match vm.disk(disk_id.as_str()) {
            None => checker.broken.push(no_such_disk(vm)),
            Some(disk) if disk.controller_type == ControllerType::Ide => {
                checker.state(vm, "/disk_id", &off, "detach an ide disk");
            }
            Some(_) => {}
        },
        (Spec::CreateNic { nic, .. }, Some(vm)) => {
            if vm.generation == Generation::One {
                checker.state(vm, "/vm_id", &off, "add an adapter to a generation 1 vm");
            }
            checker.nic("/nic", nic);
        }
        (Spec::UpdateNic {
            nic_id, changes, ..
        }, Some(vm)) => {
            if vm.nic(nic_id.as_str()).is_none() {
                checker.broken.push(no_such_nic(vm));
            }
            if let Some(network) = &changes.network {
                checker.network("/network", network);
            }
            if let Some(switch) = &changes.switch_name {
                checker.switch("/switch_name", switch);
            }
            if changes.mac_address.is_some() {
                checker.state(vm, "/mac_address", &off, "change the mac address");
            }
        }
        (Spec::DeleteNic { nic_id, .. }, Some(vm)) => {
            if vm.nic(nic_id.as_str()).is_none() {
                checker.broken.push(no_such_nic(vm));
            }
            if vm.generation == Generation::One {
                checker.state(vm, "/nic_id", &off, "remove an adapter from a generation 1 vm");
            }
        }
        _ => {}
    }
    if !checker.broken.is_empty() {
        return Err(refusal(ErrorCode::FailedPrecondition, checker.broken));
    }
    let vm_name = spec.new_vm().map_or(vm_name, |new| new.name.clone());
    Ok(Resolved { family, vm_name })
}

fn no_such_disk(vm: &VmFacts) -> Violation {
    Violation::new(
        "/disk_id",
        "disk_on_vm",
        format!("vm {} has no such disk", vm.name),
    )
    .allowing(vm.disks.iter().map(|d| d.id.clone()).collect())
}

fn no_such_nic(vm: &VmFacts) -> Violation {
    Violation::new(
        "/nic_id",
        "nic_on_vm",
        format!("vm {} has no such network adapter", vm.name),
    )
    .allowing(vm.nics.iter().map(|n| n.id.clone()).collect())
}
