//! The typed specs. Each mirrors its schema in `schemas/jobs/` (which is checked first, so
//! these only map JSON to types); serde defaults equal the schemas' `default`s.

use aetherv_hyperv::{
    ControllerType, DiskId, Generation, HostId, NewDiskType, NicId, OsFamily, PowerAction,
    SecureBootTemplate, VmId,
};
use aetherv_runtime::Secret;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::JobType;

const GIB: u64 = 1 << 30;

fn default_cpu_count() -> u32 {
    2
}

fn default_memory() -> u64 {
    4 * GIB
}

fn default_generation() -> Generation {
    Generation::Two
}

fn yes() -> bool {
    true
}

fn default_shutdown_wait() -> u32 {
    300
}

fn default_disk_type() -> NewDiskType {
    NewDiskType::Dynamic
}

fn default_controller() -> ControllerType {
    ControllerType::Scsi
}

/// A new VM (`defs.schema.json#/$defs/vm`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmSpec {
    /// Name, unique on the host.
    pub name: String,
    /// Virtual processors.
    #[serde(default = "default_cpu_count")]
    pub cpu_count: u32,
    /// Startup memory.
    #[serde(default = "default_memory")]
    pub memory_startup_bytes: u64,
    /// Dynamic memory.
    #[serde(default)]
    pub dynamic_memory_enabled: bool,
    /// Dynamic memory minimum.
    #[serde(default)]
    pub memory_minimum_bytes: Option<u64>,
    /// Dynamic memory maximum.
    #[serde(default)]
    pub memory_maximum_bytes: Option<u64>,
    /// 1 or 2.
    #[serde(default = "default_generation")]
    pub generation: Generation,
    /// Secure Boot (generation 2).
    #[serde(default = "yes")]
    pub secure_boot_enabled: bool,
    /// Explicit template; otherwise from the OS family.
    #[serde(default)]
    pub secure_boot_template: Option<SecureBootTemplate>,
    /// Explicit OS family; otherwise the image's.
    #[serde(default)]
    pub os_family: Option<OsFamily>,
    /// Boot disk image.
    #[serde(default)]
    pub image: Option<String>,
    /// Boot disk size (with image).
    #[serde(default)]
    pub boot_disk_size_bytes: Option<u64>,
    /// Notes.
    #[serde(default)]
    pub notes: Option<String>,
    /// Storage class of the VM's folder.
    pub storage_class: String,
}

/// A new disk (`defs.schema.json#/$defs/disk`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskSpec {
    /// Image to clone.
    #[serde(default)]
    pub image: Option<String>,
    /// Capacity.
    #[serde(default)]
    pub size_bytes: Option<u64>,
    /// Dynamic or Fixed.
    #[serde(rename = "type", default = "default_disk_type")]
    pub disk_type: NewDiskType,
    /// SCSI or IDE.
    #[serde(default = "default_controller")]
    pub controller_type: ControllerType,
    /// Where the file goes.
    #[serde(default)]
    pub storage_class: Option<String>,
}

/// A new network adapter (`defs.schema.json#/$defs/nic`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NicSpec {
    /// Catalogue network.
    #[serde(default)]
    pub network: Option<String>,
    /// Virtual switch.
    #[serde(default)]
    pub switch_name: Option<String>,
    /// VLAN with the switch.
    #[serde(default)]
    pub vlan_id: Option<u16>,
    /// Adapter name.
    #[serde(default)]
    pub name: Option<String>,
    /// Static MAC (any accepted form; see [`normalize_mac`]).
    #[serde(default)]
    pub mac_address: Option<String>,
}

/// Changes to a VM (update_vm).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct VmChanges {
    /// Processors.
    #[serde(default)]
    pub cpu_count: Option<u32>,
    /// Startup memory.
    #[serde(default)]
    pub memory_startup_bytes: Option<u64>,
    /// Dynamic memory on/off.
    #[serde(default)]
    pub dynamic_memory_enabled: Option<bool>,
    /// Minimum.
    #[serde(default)]
    pub memory_minimum_bytes: Option<u64>,
    /// Maximum.
    #[serde(default)]
    pub memory_maximum_bytes: Option<u64>,
    /// Notes.
    #[serde(default)]
    pub notes: Option<String>,
}

/// Changes to a network adapter (update_nic). For `vlan_id` and `mac_address`: `None`
/// leaves it, `Some(None)` clears it, `Some(Some(x))` sets it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NicChanges {
    /// Catalogue network.
    pub network: Option<String>,
    /// Virtual switch.
    pub switch_name: Option<String>,
    /// VLAN.
    pub vlan_id: Option<Option<u16>>,
    /// Name.
    pub name: Option<String>,
    /// MAC.
    pub mac_address: Option<Option<String>>,
}

/// A typed job spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// create_vm.
    CreateVm {
        /// Target.
        host: HostId,
        /// The VM.
        vm: VmSpec,
    },
    /// update_vm.
    UpdateVm {
        /// Target.
        host: HostId,
        /// The VM.
        vm_id: VmId,
        /// What changes.
        changes: VmChanges,
    },
    /// delete_vm.
    DeleteVm {
        /// Target.
        host: HostId,
        /// The VM.
        vm_id: VmId,
        /// Turn off first.
        force: bool,
        /// Delete the disk files.
        delete_disks: bool,
    },
    /// start/shutdown/stop/reset/save/pause/resume_vm.
    Power {
        /// Target.
        host: HostId,
        /// The VM.
        vm_id: VmId,
        /// The action.
        action: PowerAction,
        /// shutdown: seconds to wait.
        shutdown_timeout_seconds: Option<u32>,
        /// shutdown: turn off after the wait.
        turn_off_after_timeout: Option<bool>,
    },
    /// create_disk.
    CreateDisk {
        /// Target.
        host: HostId,
        /// The VM.
        vm_id: VmId,
        /// The disk.
        disk: DiskSpec,
    },
    /// resize_disk.
    ResizeDisk {
        /// Target.
        host: HostId,
        /// The VM.
        vm_id: VmId,
        /// The disk.
        disk_id: DiskId,
        /// New size.
        size_bytes: u64,
    },
    /// delete_disk.
    DeleteDisk {
        /// Target.
        host: HostId,
        /// The VM.
        vm_id: VmId,
        /// The disk.
        disk_id: DiskId,
        /// Delete the file.
        delete_file: bool,
    },
    /// create_nic.
    CreateNic {
        /// Target.
        host: HostId,
        /// The VM.
        vm_id: VmId,
        /// The adapter.
        nic: NicSpec,
    },
    /// update_nic.
    UpdateNic {
        /// Target.
        host: HostId,
        /// The VM.
        vm_id: VmId,
        /// The adapter.
        nic_id: NicId,
        /// What changes.
        changes: NicChanges,
    },
    /// delete_nic.
    DeleteNic {
        /// Target.
        host: HostId,
        /// The VM.
        vm_id: VmId,
        /// The adapter.
        nic_id: NicId,
    },
    /// managed_deployment.
    ManagedDeployment {
        /// Target.
        host: HostId,
        /// The VM.
        vm: VmSpec,
        /// Further disks.
        disks: Vec<DiskSpec>,
        /// Adapters.
        nics: Vec<NicSpec>,
        /// Start at the end.
        start: bool,
    },
    /// noop.
    Noop {
        /// Target.
        host: HostId,
        /// Echoed object.
        echo: Map<String, Value>,
        /// Secret sent along (prints masked).
        secret: Option<Secret<String>>,
    },
}

/// Why a schema-valid spec does not map to the types (a schema/type disagreement). Never
/// carries the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {field} cannot be read")]
pub struct TypeError {
    /// The field.
    pub field: String,
}

fn field<T: for<'de> Deserialize<'de>>(object: &Value, name: &str) -> Result<T, TypeError> {
    serde_json::from_value(object.get(name).cloned().unwrap_or(Value::Null)).map_err(|_| {
        TypeError {
            field: name.to_owned(),
        }
    })
}

fn optional<T: for<'de> Deserialize<'de>>(
    object: &Value,
    name: &str,
) -> Result<Option<T>, TypeError> {
    match object.get(name) {
        None => Ok(None),
        Some(value) => serde_json::from_value(value.clone())
            .map(Some)
            .map_err(|_| TypeError {
                field: name.to_owned(),
            }),
    }
}

/// `Some(None)` for an explicit null, `Some(Some(x))` for a value, `None` when absent.
fn nullable<T: for<'de> Deserialize<'de>>(
    object: &Value,
    name: &str,
) -> Result<Option<Option<T>>, TypeError> {
    match object.get(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(value) => serde_json::from_value(value.clone())
            .map(|v| Some(Some(v)))
            .map_err(|_| TypeError {
                field: name.to_owned(),
            }),
    }
}

fn host(object: &Value) -> Result<HostId, TypeError> {
    let text: String = field(object, "host")?;
    HostId::parse(&text).map_err(|_| TypeError {
        field: "host".to_owned(),
    })
}

fn vm_id(object: &Value) -> Result<VmId, TypeError> {
    let text: String = field(object, "vm_id")?;
    VmId::parse(&text.to_ascii_lowercase()).map_err(|_| TypeError {
        field: "vm_id".to_owned(),
    })
}

/// The agent's form of a MAC address: 12 upper-case hex digits, no separators.
pub fn normalize_mac(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

impl Spec {
    /// Maps a schema-valid spec to its type.
    pub fn from_value(job_type: JobType, value: &Value) -> Result<Spec, TypeError> {
        let power = |action: PowerAction| -> Result<Spec, TypeError> {
            Ok(Spec::Power {
                host: host(value)?,
                vm_id: vm_id(value)?,
                action,
                shutdown_timeout_seconds: None,
                turn_off_after_timeout: None,
            })
        };
        Ok(match job_type {
            JobType::CreateVm => Spec::CreateVm {
                host: host(value)?,
                vm: field(value, "vm")?,
            },
            JobType::UpdateVm => Spec::UpdateVm {
                host: host(value)?,
                vm_id: vm_id(value)?,
                changes: VmChanges {
                    cpu_count: optional(value, "cpu_count")?,
                    memory_startup_bytes: optional(value, "memory_startup_bytes")?,
                    dynamic_memory_enabled: optional(value, "dynamic_memory_enabled")?,
                    memory_minimum_bytes: optional(value, "memory_minimum_bytes")?,
                    memory_maximum_bytes: optional(value, "memory_maximum_bytes")?,
                    notes: optional(value, "notes")?,
                },
            },
            JobType::DeleteVm => Spec::DeleteVm {
                host: host(value)?,
                vm_id: vm_id(value)?,
                force: optional(value, "force")?.unwrap_or(false),
                delete_disks: optional(value, "delete_disks")?.unwrap_or(false),
            },
            JobType::StartVm => power(PowerAction::Start)?,
            JobType::StopVm => power(PowerAction::Stop)?,
            JobType::ResetVm => power(PowerAction::Reset)?,
            JobType::SaveVm => power(PowerAction::Save)?,
            JobType::PauseVm => power(PowerAction::Pause)?,
            JobType::ResumeVm => power(PowerAction::Resume)?,
            JobType::ShutdownVm => Spec::Power {
                host: host(value)?,
                vm_id: vm_id(value)?,
                action: PowerAction::Shutdown,
                shutdown_timeout_seconds: Some(
                    optional(value, "timeout_seconds")?.unwrap_or_else(default_shutdown_wait),
                ),
                turn_off_after_timeout: Some(
                    optional(value, "turn_off_after_timeout")?.unwrap_or(false),
                ),
            },
            JobType::CreateDisk => Spec::CreateDisk {
                host: host(value)?,
                vm_id: vm_id(value)?,
                disk: field(value, "disk")?,
            },
            JobType::ResizeDisk => Spec::ResizeDisk {
                host: host(value)?,
                vm_id: vm_id(value)?,
                disk_id: field(value, "disk_id")?,
                size_bytes: field(value, "size_bytes")?,
            },
            JobType::DeleteDisk => Spec::DeleteDisk {
                host: host(value)?,
                vm_id: vm_id(value)?,
                disk_id: field(value, "disk_id")?,
                delete_file: optional(value, "delete_file")?.unwrap_or(true),
            },
            JobType::CreateNic => Spec::CreateNic {
                host: host(value)?,
                vm_id: vm_id(value)?,
                nic: field(value, "nic")?,
            },
            JobType::UpdateNic => Spec::UpdateNic {
                host: host(value)?,
                vm_id: vm_id(value)?,
                nic_id: field(value, "nic_id")?,
                changes: NicChanges {
                    network: optional(value, "network")?,
                    switch_name: optional(value, "switch_name")?,
                    vlan_id: nullable(value, "vlan_id")?,
                    name: optional(value, "name")?,
                    mac_address: nullable(value, "mac_address")?,
                },
            },
            JobType::DeleteNic => Spec::DeleteNic {
                host: host(value)?,
                vm_id: vm_id(value)?,
                nic_id: field(value, "nic_id")?,
            },
            JobType::ManagedDeployment => Spec::ManagedDeployment {
                host: host(value)?,
                vm: field(value, "vm")?,
                disks: optional(value, "disks")?.unwrap_or_default(),
                nics: optional(value, "nics")?.unwrap_or_default(),
                start: optional(value, "start")?.unwrap_or(true),
            },
            JobType::Noop => Spec::Noop {
                host: host(value)?,
                echo: optional(value, "echo")?.unwrap_or_default(),
                secret: optional::<String>(value, "secret")?.map(Secret::new),
            },
        })
    }

    /// The host the job runs on.
    pub fn host(&self) -> &HostId {
        match self {
            Spec::CreateVm { host, .. }
            | Spec::UpdateVm { host, .. }
            | Spec::DeleteVm { host, .. }
            | Spec::Power { host, .. }
            | Spec::CreateDisk { host, .. }
            | Spec::ResizeDisk { host, .. }
            | Spec::DeleteDisk { host, .. }
            | Spec::CreateNic { host, .. }
            | Spec::UpdateNic { host, .. }
            | Spec::DeleteNic { host, .. }
            | Spec::ManagedDeployment { host, .. }
            | Spec::Noop { host, .. } => host,
        }
    }

    /// The existing VM the job works on, if it names one.
    pub fn vm_id(&self) -> Option<VmId> {
        match self {
            Spec::UpdateVm { vm_id, .. }
            | Spec::DeleteVm { vm_id, .. }
            | Spec::Power { vm_id, .. }
            | Spec::CreateDisk { vm_id, .. }
            | Spec::ResizeDisk { vm_id, .. }
            | Spec::DeleteDisk { vm_id, .. }
            | Spec::CreateNic { vm_id, .. }
            | Spec::UpdateNic { vm_id, .. }
            | Spec::DeleteNic { vm_id, .. } => Some(*vm_id),
            _ => None,
        }
    }

    /// The VM the job creates, if it creates one.
    pub fn new_vm(&self) -> Option<&VmSpec> {
        match self {
            Spec::CreateVm { vm, .. } | Spec::ManagedDeployment { vm, .. } => Some(vm),
            _ => None,
        }
    }
}
