//! Planning: a checked spec becomes a list of steps, each one agent operation with its
//! remote-tasks category, whether it is heavy (one at a time per host) and how its params
//! are built. Params that need what an earlier step made (the new VM's id) are built when
//! the step runs, from the job's [`Context`]; that is also what lets a retry resume at the
//! failed step and reuse what earlier steps created.

use aetherv_hyperv::ops::disk::{DiskCreateParams, DiskDeleteParams, DiskResizeParams};
use aetherv_hyperv::ops::nic::{NicCreateParams, NicDeleteParams, NicUpdateParams};
use aetherv_hyperv::ops::vm::{VmCreateParams, VmDeleteParams, VmPowerParams, VmUpdateParams};
use aetherv_hyperv::{
    ControllerType, DiskId, Generation, NewDiskType, NicId, Operation, OsFamily, PowerAction,
    SecureBootTemplate, VmId,
};
use aetherv_runtime::{ApiError, ErrorCode, Secret};
use serde::Serialize;
use serde_json::{Map, Value};

use super::model::{CreatedResource, ResourceKind};
use crate::spec::types::{NicChanges, VmChanges, normalize_mac};
use crate::spec::{DiskSpec, NicSpec, Spec, VmSpec};

/// remote-tasks' concurrency class of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Quick changes: vm.*, nic.*, noop.
    Control,
    /// Disk work and image copies.
    Io,
}

/// What a step does (its params, less what comes from the context).
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// `vm.create`.
    CreateVm(Box<VmCreateParams>),
    /// `disk.create` (the VM's boot disk, or a further disk).
    CreateDisk {
        /// Image to clone.
        image: Option<String>,
        /// Capacity (grown to after a clone).
        size_bytes: Option<u64>,
        /// Dynamic or Fixed.
        disk_type: NewDiskType,
        /// SCSI or IDE.
        controller_type: ControllerType,
        /// Storage class for the file.
        storage_class: Option<String>,
    },
    /// `nic.create`.
    CreateNic(NicSpec),
    /// `vm.power`.
    Power {
        /// The action.
        action: PowerAction,
        /// shutdown: the wait.
        shutdown_timeout_seconds: Option<u32>,
        /// shutdown: turn off after it.
        turn_off_after_timeout: Option<bool>,
    },
    /// `vm.update`.
    UpdateVm(VmChanges),
    /// `vm.delete`.
    DeleteVm {
        /// Turn off first.
        force: bool,
        /// Delete the disk files.
        delete_disks: bool,
    },
    /// `disk.resize`.
    ResizeDisk {
        /// The disk.
        disk_id: DiskId,
        /// New size.
        size_bytes: u64,
    },
    /// `disk.delete`.
    DeleteDisk {
        /// The disk.
        disk_id: DiskId,
        /// Delete its file.
        delete_file: bool,
    },
    /// `nic.update`.
    UpdateNic {
        /// The adapter.
        nic_id: NicId,
        /// What changes.
        changes: NicChanges,
    },
    /// `nic.delete`.
    DeleteNic {
        /// The adapter.
        nic_id: NicId,
    },
    /// `noop`.
    Noop {
        /// Echoed.
        echo: Map<String, Value>,
        /// Sent along (prints masked).
        secret: Option<Secret<String>>,
    },
}

/// One planned step.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedStep {
    /// For people.
    pub name: String,
    /// What it does.
    pub kind: StepKind,
}

/// What a job knows while it runs: the VM it works on (from the spec, or made by a
/// create step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Context {
    /// The VM.
    pub vm_id: Option<VmId>,
}

impl StepKind {
    /// The agent operation.
    pub fn operation(&self) -> Operation {
        match self {
            StepKind::CreateVm(_) => Operation::VmCreate,
            StepKind::CreateDisk { .. } => Operation::DiskCreate,
            StepKind::CreateNic(_) => Operation::NicCreate,
            StepKind::Power { .. } => Operation::VmPower,
            StepKind::UpdateVm(_) => Operation::VmUpdate,
            StepKind::DeleteVm { .. } => Operation::VmDelete,
            StepKind::ResizeDisk { .. } => Operation::DiskResize,
            StepKind::DeleteDisk { .. } => Operation::DiskDelete,
            StepKind::UpdateNic { .. } => Operation::NicUpdate,
            StepKind::DeleteNic { .. } => Operation::NicDelete,
            StepKind::Noop { .. } => Operation::Noop,
        }
    }

    /// Disk work: one heavy step at a time per host, category io.
    pub fn is_heavy(&self) -> bool {
        matches!(
            self,
            StepKind::CreateDisk { .. } | StepKind::ResizeDisk { .. } | StepKind::DeleteDisk { .. }
        )
    }

    /// remote-tasks category.
    pub fn category(&self) -> Category {
        if self.is_heavy() {
            Category::Io
        } else {
            Category::Control
        }
    }

    /// Whether it changes the host (and inventory is refreshed after it).
    pub fn is_mutating(&self) -> bool {
        !matches!(self, StepKind::Noop { .. })
    }

    /// The operation's params as JSON (may hold secrets: never log it).
    pub fn params(&self, context: &Context) -> Result<Value, ApiError> {
        let vm = || {
            context.vm_id.ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Internal,
                    "the step needs a vm id and no earlier step produced one",
                )
            })
        };
        match self {
            StepKind::CreateVm(params) => to_json(params.as_ref()),
            StepKind::CreateDisk {
                image,
                size_bytes,
                disk_type,
                controller_type,
                storage_class,
            } => to_json(&DiskCreateParams {
                vm_id: vm()?,
                image: image.clone(),
                size_bytes: *size_bytes,
                disk_type: *disk_type,
                storage_class: storage_class.clone(),
                controller_type: *controller_type,
            }),
            StepKind::CreateNic(nic) => to_json(&NicCreateParams {
                vm_id: vm()?,
                network: nic.network.clone(),
                switch_name: nic.switch_name.clone(),
                vlan_id: nic.vlan_id,
                name: nic.name.clone(),
                mac_address: nic.mac_address.as_deref().map(normalize_mac),
            }),
            StepKind::Power {
                action,
                shutdown_timeout_seconds,
                turn_off_after_timeout,
            } => to_json(&VmPowerParams {
                vm_id: vm()?,
                action: *action,
                shutdown_timeout_seconds: *shutdown_timeout_seconds,
                turn_off_after_timeout: *turn_off_after_timeout,
            }),
            StepKind::UpdateVm(changes) => to_json(&VmUpdateParams {
                vm_id: vm()?,
                cpu_count: changes.cpu_count,
                memory_startup_bytes: changes.memory_startup_bytes,
                dynamic_memory_enabled: changes.dynamic_memory_enabled,
                memory_minimum_bytes: changes.memory_minimum_bytes,
                memory_maximum_bytes: changes.memory_maximum_bytes,
                notes: changes.notes.clone(),
            }),
            StepKind::DeleteVm {
                force,
                delete_disks,
            } => to_json(&VmDeleteParams {
                vm_id: vm()?,
                force: *force,
                delete_disks: *delete_disks,
            }),
            StepKind::ResizeDisk {
                disk_id,
                size_bytes,
            } => to_json(&DiskResizeParams {
                vm_id: vm()?,
                disk_id: disk_id.clone(),
                size_bytes: *size_bytes,
            }),
            StepKind::DeleteDisk {
                disk_id,
                delete_file,
            } => to_json(&DiskDeleteParams {
                vm_id: vm()?,
                disk_id: disk_id.clone(),
                delete_file: *delete_file,
            }),
            StepKind::UpdateNic { nic_id, changes } => to_json(&NicUpdateParams {
                vm_id: vm()?,
                nic_id: nic_id.clone(),
                network: changes.network.clone(),
                switch_name: changes.switch_name.clone(),
                vlan_id: changes.vlan_id,
                name: changes.name.clone(),
                mac_address: changes
                    .mac_address
                    .as_ref()
                    .map(|mac| mac.as_deref().map(normalize_mac)),
            }),
            StepKind::DeleteNic { nic_id } => to_json(&NicDeleteParams {
                vm_id: vm()?,
                nic_id: nic_id.clone(),
            }),
            StepKind::Noop { echo, secret } => {
                let mut params = Map::new();
                params.insert("echo".to_owned(), Value::Object(echo.clone()));
                if let Some(secret) = secret {
                    params.insert("secret".to_owned(), Value::String(secret.expose().clone()));
                }
                Ok(Value::Object(params))
            }
        }
    }

    /// What a successful run created, from its result data (the VM, disk or adapter).
    pub fn created(
        &self,
        data: &Value,
        host: &aetherv_hyperv::HostId,
        step_index: u32,
    ) -> Option<CreatedResource> {
        let text = |key: &str| data.get(key).and_then(Value::as_str).map(str::to_owned);
        let (kind, name) = match self {
            StepKind::CreateVm(_) => (ResourceKind::Vm, text("name")?),
            StepKind::CreateDisk { .. } => (ResourceKind::Disk, text("path")?),
            StepKind::CreateNic(_) => (ResourceKind::Nic, text("name")?),
            _ => return None,
        };
        Some(CreatedResource {
            kind,
            id: text("id")?,
            name,
            host: host.clone(),
            step_index,
        })
    }
}

fn to_json<T: Serialize>(params: &T) -> Result<Value, ApiError> {
    serde_json::to_value(params).map_err(|_| {
        ApiError::new(
            ErrorCode::Internal,
            "the step's params could not be represented as json",
        )
    })
}

/// The Secure Boot template for an OS family.
pub fn template_for(family: OsFamily) -> SecureBootTemplate {
    match family {
        OsFamily::Windows => SecureBootTemplate::MicrosoftWindows,
        OsFamily::Linux => SecureBootTemplate::MicrosoftUEFICertificateAuthority,
    }
}

/// `vm.create` params of a VM spec, with the OS family already resolved.
pub fn vm_create_params(vm: &VmSpec, family: OsFamily) -> VmCreateParams {
    let (secure_boot_enabled, secure_boot_template) = match vm.generation {
        Generation::One => (None, None),
        Generation::Two if vm.secure_boot_enabled => (
            Some(true),
            Some(vm.secure_boot_template.unwrap_or(template_for(family))),
        ),
        Generation::Two => (Some(false), None),
    };
    VmCreateParams {
        name: vm.name.clone(),
        cpu_count: vm.cpu_count,
        generation: vm.generation,
        memory_startup_bytes: vm.memory_startup_bytes,
        dynamic_memory_enabled: vm.dynamic_memory_enabled,
        memory_minimum_bytes: vm
            .memory_minimum_bytes
            .filter(|_| vm.dynamic_memory_enabled),
        memory_maximum_bytes: vm
            .memory_maximum_bytes
            .filter(|_| vm.dynamic_memory_enabled),
        secure_boot_enabled,
        secure_boot_template,
        notes: vm.notes.clone(),
        storage_class: vm.storage_class.clone(),
    }
}

fn gib(bytes: u64) -> String {
    let gib = bytes as f64 / (1u64 << 30) as f64;
    if gib.fract() == 0.0 {
        format!("{gib:.0} GiB")
    } else {
        format!("{gib:.1} GiB")
    }
}

fn disk_name(ordinal: usize, disk: &DiskSpec) -> String {
    match (&disk.image, disk.size_bytes) {
        (Some(image), Some(size)) => {
            format!(
                "create disk {ordinal} (clone {image}, grow to {})",
                gib(size)
            )
        }
        (Some(image), None) => format!("create disk {ordinal} (clone {image})"),
        (None, size) => format!("create disk {ordinal} ({} empty)", gib(size.unwrap_or(0))),
    }
}

fn nic_name(ordinal: usize, nic: &NicSpec) -> String {
    match (&nic.network, &nic.switch_name, nic.vlan_id) {
        (Some(network), _, _) => format!("add network adapter {ordinal} ({network})"),
        (None, Some(switch), Some(vlan)) => {
            format!("add network adapter {ordinal} ({switch}, vlan {vlan})")
        }
        (None, Some(switch), None) => format!("add network adapter {ordinal} ({switch})"),
        (None, None, _) => format!("add network adapter {ordinal}"),
    }
}

/// The VM's own steps: create it, then clone its boot disk when it has an image.
fn vm_steps(vm: &VmSpec, family: OsFamily, steps: &mut Vec<PlannedStep>) {
    steps.push(PlannedStep {
        name: format!("create vm {}", vm.name),
        kind: StepKind::CreateVm(Box::new(vm_create_params(vm, family))),
    });
    if let Some(image) = &vm.image {
        let name = match vm.boot_disk_size_bytes {
            Some(size) => format!("clone boot disk ({image}, grow to {})", gib(size)),
            None => format!("clone boot disk ({image})"),
        };
        steps.push(PlannedStep {
            name,
            kind: StepKind::CreateDisk {
                image: Some(image.clone()),
                size_bytes: vm.boot_disk_size_bytes,
                disk_type: NewDiskType::Dynamic,
                controller_type: match vm.generation {
                    Generation::One => ControllerType::Ide,
                    Generation::Two => ControllerType::Scsi,
                },
                storage_class: None,
            },
        });
    }
}

fn disk_step(ordinal: usize, disk: &DiskSpec) -> PlannedStep {
    PlannedStep {
        name: disk_name(ordinal, disk),
        kind: StepKind::CreateDisk {
            image: disk.image.clone(),
            size_bytes: disk.size_bytes,
            disk_type: disk.disk_type,
            controller_type: disk.controller_type,
            storage_class: disk.storage_class.clone(),
        },
    }
}

/// The steps of a spec. `family` is the new VM's OS family as the pre-checks resolved it
/// (the image's, else the spec's, else windows); ignored for other jobs.
pub fn plan(spec: &Spec, family: OsFamily) -> Vec<PlannedStep> {
    let mut steps = Vec::new();
    let one = |name: String, kind: StepKind| vec![PlannedStep { name, kind }];
    match spec {
        Spec::CreateVm { vm, .. } => vm_steps(vm, family, &mut steps),
        Spec::ManagedDeployment {
            vm,
            disks,
            nics,
            start,
            ..
        } => {
            vm_steps(vm, family, &mut steps);
            for (i, disk) in disks.iter().enumerate() {
                steps.push(disk_step(i + 1, disk));
            }
            for (i, nic) in nics.iter().enumerate() {
                steps.push(PlannedStep {
                    name: nic_name(i + 1, nic),
                    kind: StepKind::CreateNic(nic.clone()),
                });
            }
            if *start {
                steps.push(PlannedStep {
                    name: format!("start vm {}", vm.name),
                    kind: StepKind::Power {
                        action: PowerAction::Start,
                        shutdown_timeout_seconds: None,
                        turn_off_after_timeout: None,
                    },
                });
            }
        }
        Spec::UpdateVm { changes, .. } => {
            return one(
                "change vm settings".into(),
                StepKind::UpdateVm(changes.clone()),
            );
        }
        Spec::DeleteVm {
            force,
            delete_disks,
            ..
        } => {
            let name = match (force, delete_disks) {
                (true, true) => "delete vm (turn off first, with its disk files)",
                (true, false) => "delete vm (turn off first, keep disk files)",
                (false, true) => "delete vm (with its disk files)",
                (false, false) => "delete vm (keep disk files)",
            };
            return one(
                name.into(),
                StepKind::DeleteVm {
                    force: *force,
                    delete_disks: *delete_disks,
                },
            );
        }
        Spec::Power {
            action,
            shutdown_timeout_seconds,
            turn_off_after_timeout,
            ..
        } => {
            return one(
                format!("{} vm", action.as_str()),
                StepKind::Power {
                    action: *action,
                    shutdown_timeout_seconds: *shutdown_timeout_seconds,
                    turn_off_after_timeout: *turn_off_after_timeout,
                },
            );
        }
        Spec::CreateDisk { disk, .. } => return vec![disk_step(1, disk)],
        Spec::ResizeDisk {
            disk_id,
            size_bytes,
            ..
        } => {
            return one(
                format!("grow disk to {}", gib(*size_bytes)),
                StepKind::ResizeDisk {
                    disk_id: disk_id.clone(),
                    size_bytes: *size_bytes,
                },
            );
        }
        Spec::DeleteDisk {
            disk_id,
            delete_file,
            ..
        } => {
            let name = if *delete_file {
                "remove disk and delete its file"
            } else {
                "remove disk (keep its file)"
            };
            return one(
                name.into(),
                StepKind::DeleteDisk {
                    disk_id: disk_id.clone(),
                    delete_file: *delete_file,
                },
            );
        }
        Spec::CreateNic { nic, .. } => {
            return one(nic_name(1, nic), StepKind::CreateNic(nic.clone()));
        }
        Spec::UpdateNic {
            nic_id, changes, ..
        } => {
            return one(
                "change network adapter".into(),
                StepKind::UpdateNic {
                    nic_id: nic_id.clone(),
                    changes: changes.clone(),
                },
            );
        }
        Spec::DeleteNic { nic_id, .. } => {
            return one(
                "remove network adapter".into(),
                StepKind::DeleteNic {
                    nic_id: nic_id.clone(),
                },
            );
        }
        Spec::Noop { echo, secret, .. } => {
            return one(
                "round trip to the agent".into(),
                StepKind::Noop {
                    echo: echo.clone(),
                    secret: secret.clone(),
                },
            );
        }
    }
    steps
}
