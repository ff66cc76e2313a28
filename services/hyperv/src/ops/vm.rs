//! `vm.power`, `vm.create`, `vm.update` and `vm.delete`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::agent_error::FieldError;
use crate::ids::VmId;
use crate::model::{Generation, SecureBootTemplate};
use crate::vm_state::{PowerAction, VmState};

/// Params of `vm.power`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VmPowerParams {
    /// The VM.
    pub vm_id: VmId,
    /// The action.
    pub action: PowerAction,
    /// shutdown only: seconds to wait for the guest (agent default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u32")]
    pub shutdown_timeout_seconds: Option<u32>,
    /// shutdown only: turn off when the guest does not shut down in time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub turn_off_after_timeout: Option<bool>,
}

impl VmPowerParams {
    /// An action with the agent's defaults.
    pub fn new(vm_id: VmId, action: PowerAction) -> Self {
        Self {
            vm_id,
            action,
            shutdown_timeout_seconds: None,
            turn_off_after_timeout: None,
        }
    }
}

/// Result of `vm.power`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VmPowerResult {
    /// The VM.
    pub vm_id: VmId,
    /// The action run.
    pub action: PowerAction,
    /// State before.
    pub previous_state: VmState,
    /// State after.
    pub state: VmState,
    /// Whether a timed-out shutdown turned the VM off.
    pub turned_off_after_timeout: bool,
}

/// Params of `vm.create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VmCreateParams {
    /// VM name.
    pub name: String,
    /// Virtual processors.
    pub cpu_count: u32,
    /// Generation.
    pub generation: Generation,
    /// Startup memory.
    pub memory_startup_bytes: u64,
    /// Dynamic memory on/off.
    pub dynamic_memory_enabled: bool,
    /// Dynamic memory minimum (dynamic memory only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u64")]
    pub memory_minimum_bytes: Option<u64>,
    /// Dynamic memory maximum (dynamic memory only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u64")]
    pub memory_maximum_bytes: Option<u64>,
    /// Secure Boot (generation 2 only, required there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub secure_boot_enabled: Option<bool>,
    /// Secure Boot template (generation 2 with Secure Boot only, required there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "SecureBootTemplate")]
    pub secure_boot_template: Option<SecureBootTemplate>,
    /// Notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub notes: Option<String>,
    /// Catalogue storage class for the VM's folder.
    pub storage_class: String,
}

/// minimum <= startup <= maximum, over the values present.
fn memory_order(min: Option<u64>, startup: Option<u64>, max: Option<u64>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let error = |pointer: &str, message: &str| FieldError {
        pointer: pointer.to_owned(),
        message: message.to_owned(),
    };
    if let (Some(min), Some(startup)) = (min, startup)
        && min > startup
    {
        errors.push(error(
            "/memory_minimum_bytes",
            "must not exceed memory_startup_bytes",
        ));
    }
    if let (Some(startup), Some(max)) = (startup, max)
        && startup > max
    {
        errors.push(error(
            "/memory_maximum_bytes",
            "must not be below memory_startup_bytes",
        ));
    }
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        errors.push(error(
            "/memory_maximum_bytes",
            "must not be below memory_minimum_bytes",
        ));
    }
    errors.dedup();
    errors
}

/// Hyper-V's limits for generation 1 VMs: 64 virtual processors, 1 TiB of memory.
const GEN1_MAX_CPUS: u32 = 64;
const GEN1_MAX_MEMORY_BYTES: u64 = 1 << 40;

impl VmCreateParams {
    /// Rules the schema cannot express: with dynamic memory, minimum <= startup <= maximum;
    /// a generation 1 VM has at most 64 processors and 1 TiB of memory.
    pub fn check(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.generation == Generation::One {
            if self.cpu_count > GEN1_MAX_CPUS {
                errors.push(FieldError {
                    pointer: "/cpu_count".to_owned(),
                    message: "must be at most 64 for a generation 1 vm".to_owned(),
                });
            }
            let memory = [
                ("/memory_startup_bytes", Some(self.memory_startup_bytes)),
                ("/memory_maximum_bytes", self.memory_maximum_bytes),
            ];
            for (pointer, bytes) in memory {
                if bytes.is_some_and(|b| b > GEN1_MAX_MEMORY_BYTES) {
                    errors.push(FieldError {
                        pointer: pointer.to_owned(),
                        message: "must be at most 1 TiB for a generation 1 vm".to_owned(),
                    });
                }
            }
        }
        if self.dynamic_memory_enabled {
            errors.extend(memory_order(
                self.memory_minimum_bytes,
                Some(self.memory_startup_bytes),
                self.memory_maximum_bytes,
            ));
        }
        errors
    }
}

/// Params of `vm.update`; None leaves a setting unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VmUpdateParams {
    /// The VM.
    pub vm_id: VmId,
    /// New processor count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u32")]
    pub cpu_count: Option<u32>,
    /// New startup memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u64")]
    pub memory_startup_bytes: Option<u64>,
    /// Dynamic memory on/off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub dynamic_memory_enabled: Option<bool>,
    /// New dynamic memory minimum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u64")]
    pub memory_minimum_bytes: Option<u64>,
    /// New dynamic memory maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u64")]
    pub memory_maximum_bytes: Option<u64>,
    /// New notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub notes: Option<String>,
}

impl VmUpdateParams {
    /// No change yet; set the fields to change.
    pub fn new(vm_id: VmId) -> Self {
        Self {
            vm_id,
            cpu_count: None,
            memory_startup_bytes: None,
            dynamic_memory_enabled: None,
            memory_minimum_bytes: None,
            memory_maximum_bytes: None,
            notes: None,
        }
    }

    /// Rules the schema cannot express, over the values given (the agent also checks
    /// them against the VM's unchanged values): minimum <= startup <= maximum.
    pub fn check(&self) -> Vec<FieldError> {
        if self.dynamic_memory_enabled == Some(false) {
            return Vec::new();
        }
        memory_order(
            self.memory_minimum_bytes,
            self.memory_startup_bytes,
            self.memory_maximum_bytes,
        )
    }
}

/// Params of `vm.delete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VmDeleteParams {
    /// The VM.
    pub vm_id: VmId,
    /// Turn it off first if needed.
    pub force: bool,
    /// Delete its disk files too.
    pub delete_disks: bool,
}

/// Result of `vm.delete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VmDeleteResult {
    /// The deleted VM.
    pub vm_id: VmId,
    /// Its name.
    pub name: String,
    /// Disk files deleted.
    pub deleted_disk_paths: Vec<String>,
    /// Disk files kept.
    pub retained_disk_paths: Vec<String>,
}
