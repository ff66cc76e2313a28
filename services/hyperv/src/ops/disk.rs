//! `disk.create`, `disk.resize` and `disk.delete`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{DiskId, VmId};
use crate::model::{ControllerType, NewDiskType};

/// Params of `disk.create`: an image clone, an empty disk, or a clone expanded to a size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiskCreateParams {
    /// The VM to attach to.
    pub vm_id: VmId,
    /// Golden image to clone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub image: Option<String>,
    /// Capacity (required without an image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u64")]
    pub size_bytes: Option<u64>,
    /// Dynamic or Fixed.
    #[serde(rename = "type")]
    pub disk_type: NewDiskType,
    /// Storage class; None for the VM's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub storage_class: Option<String>,
    /// Controller kind.
    pub controller_type: ControllerType,
}

/// Params of `disk.resize`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiskResizeParams {
    /// The VM.
    pub vm_id: VmId,
    /// The disk drive.
    pub disk_id: DiskId,
    /// New capacity; never below the current one.
    pub size_bytes: u64,
}

/// Params of `disk.delete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiskDeleteParams {
    /// The VM.
    pub vm_id: VmId,
    /// The disk drive.
    pub disk_id: DiskId,
    /// Delete the file after detaching.
    pub delete_file: bool,
}

/// Result of `disk.delete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiskDeleteResult {
    /// The VM.
    pub vm_id: VmId,
    /// The detached drive.
    pub disk_id: DiskId,
    /// Its file.
    pub path: String,
    /// Whether the file was deleted.
    pub file_deleted: bool,
}
