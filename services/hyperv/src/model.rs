//! The shapes shared by several operations (`schemas/agent/defs.schema.json`): VMs,
//! disks, NICs, virtual switches, storage and the host's resource catalogue.
//!
//! Conventions, all checked against the schemas by the crate's tests: a field that is
//! `Option<T>` without `skip_serializing_if` is always present and may be `null`; lists
//! are always arrays; byte counts are `_bytes`, durations `_seconds`.

use std::borrow::Cow;
use std::net::IpAddr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::ids::{DiskId, NicId, VmId};
use crate::vm_state::VmState;

/// An instant in UTC, written as RFC 3339 with a `Z` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// Converts any instant to UTC.
    pub fn new(at: OffsetDateTime) -> Self {
        Self(at.to_offset(time::UtcOffset::UTC))
    }

    /// The current time.
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc())
    }

    /// The instant.
    pub fn get(self) -> OffsetDateTime {
        self.0
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self.0.format(&Rfc3339).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        if !text.ends_with('Z') {
            return Err(serde::de::Error::custom(
                "timestamp must be in UTC with a Z suffix",
            ));
        }
        OffsetDateTime::parse(&text, &Rfc3339)
            .map(Self)
            .map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Timestamp {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Timestamp")
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "date-time", "pattern": "Z$" })
    }
}

/// A VM generation: 1 (BIOS) or 2 (UEFI). Carried as the integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Generation {
    /// BIOS firmware, IDE boot.
    One,
    /// UEFI firmware, Secure Boot, SCSI boot.
    Two,
}

impl Generation {
    /// 1 or 2.
    pub fn number(self) -> u8 {
        match self {
            Generation::One => 1,
            Generation::Two => 2,
        }
    }
}

impl Serialize for Generation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.number())
    }
}

impl<'de> Deserialize<'de> for Generation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match u8::deserialize(deserializer)? {
            1 => Ok(Generation::One),
            2 => Ok(Generation::Two),
            _ => Err(serde::de::Error::custom("generation must be 1 or 2")),
        }
    }
}

impl JsonSchema for Generation {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Generation")
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "enum": [1, 2] })
    }
}

/// A virtual hard disk's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum DiskType {
    /// Dynamically expanding.
    Dynamic,
    /// Fixed size.
    Fixed,
    /// A child of a parent disk.
    Differencing,
}

/// The type of a disk to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum NewDiskType {
    /// Dynamically expanding.
    Dynamic,
    /// Fixed size, allocated at creation.
    Fixed,
}

/// The kind of controller a disk is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ControllerType {
    /// SCSI (the only kind on generation 2 VMs).
    #[serde(rename = "SCSI")]
    Scsi,
    /// IDE (generation 1 only).
    #[serde(rename = "IDE")]
    Ide,
}

/// A Secure Boot template of a generation 2 VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SecureBootTemplate {
    /// For Windows guests.
    MicrosoftWindows,
    /// For most Linux guests.
    MicrosoftUEFICertificateAuthority,
    /// For shielded Linux guests.
    OpenSourceShieldedVM,
}

/// An image's operating system family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OsFamily {
    /// Windows.
    Windows,
    /// Linux.
    Linux,
}

/// A virtual switch's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SwitchType {
    /// Bound to a physical adapter.
    External,
    /// Host and VMs only.
    Internal,
    /// VMs only.
    Private,
}

/// A partial failure reported alongside a valid result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Warning {
    /// The cmdlet or CIM class that failed, or "catalogue".
    pub source: String,
    /// The failure.
    pub message: String,
    /// The VM concerned; None for the host.
    pub vm_id: Option<VmId>,
}

/// A virtual machine (`defs.schema.json#/$defs/vm`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vm {
    /// Hyper-V GUID.
    pub id: VmId,
    /// Name.
    pub name: String,
    /// Power state.
    pub state: VmState,
    /// Generation.
    pub generation: Generation,
    /// Configuration version, e.g. "9.0".
    pub configuration_version: String,
    /// Virtual processors.
    pub cpu_count: u32,
    /// Memory assigned now; 0 when not running.
    pub memory_assigned_bytes: u64,
    /// Startup memory.
    pub memory_startup_bytes: u64,
    /// Whether dynamic memory is on.
    pub dynamic_memory_enabled: bool,
    /// Dynamic memory minimum; None when dynamic memory is off.
    pub memory_minimum_bytes: Option<u64>,
    /// Dynamic memory maximum; None when dynamic memory is off.
    pub memory_maximum_bytes: Option<u64>,
    /// Secure Boot on/off; None for generation 1.
    pub secure_boot_enabled: Option<bool>,
    /// Secure Boot template; None for generation 1 or an unknown template.
    pub secure_boot_template: Option<SecureBootTemplate>,
    /// Notes; "" when none.
    pub notes: String,
    /// Guest OS name from KVP; None when unknown.
    pub guest_os_name: Option<String>,
    /// Creation time.
    pub creation_time: Timestamp,
    /// Seconds since start; 0 when not running.
    pub uptime_seconds: u64,
    /// Whether the VM is a cluster role.
    pub clustered: bool,
    /// The folder of the VM's configuration.
    pub configuration_path: String,
    /// Guest IPs on all adapters, without link-local IPv6.
    pub ip_addresses: Vec<IpAddr>,
    /// Network adapters.
    pub nics: Vec<Nic>,
    /// Virtual hard disks.
    pub disks: Vec<Disk>,
}

/// A VM network adapter (`defs.schema.json#/$defs/nic`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Nic {
    /// Hyper-V id.
    pub id: NicId,
    /// Adapter name.
    pub name: String,
    /// Connected switch; None when disconnected.
    pub switch_name: Option<String>,
    /// Access VLAN; None when untagged.
    pub vlan_id: Option<u16>,
    /// MAC address, 12 upper-case hex digits.
    pub mac_address: String,
    /// Whether the MAC is static.
    pub mac_address_static: bool,
    /// Guest IPs on this adapter.
    pub ip_addresses: Vec<IpAddr>,
    /// Matching catalogue network; None when none matches.
    pub network_name: Option<String>,
}

/// A virtual hard disk attached to a VM (`defs.schema.json#/$defs/disk`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    /// Hyper-V drive id.
    pub id: DiskId,
    /// File name.
    pub name: String,
    /// Full path of the file.
    pub path: String,
    /// Disk type; None when the file could not be read.
    #[serde(rename = "type")]
    pub disk_type: Option<DiskType>,
    /// Virtual size; None when the file could not be read.
    pub capacity_bytes: Option<u64>,
    /// File size on the host; None when the file could not be read.
    pub file_size_bytes: Option<u64>,
    /// Controller kind.
    pub controller_type: ControllerType,
    /// Controller number.
    pub controller_number: u8,
    /// Location on the controller.
    pub controller_location: u8,
}

/// A Hyper-V virtual switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VirtualSwitch {
    /// Switch GUID.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub switch_type: SwitchType,
    /// Physical adapter of an External switch; None otherwise.
    pub uplink: Option<String>,
}

/// A folder where VMs or disks live, with its volume's space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageLocation {
    /// Folder.
    pub path: String,
    /// Volume size.
    pub total_bytes: u64,
    /// Volume free space.
    pub free_bytes: u64,
}

/// A catalogue storage class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageClass {
    /// Name.
    pub name: String,
    /// Folder VMs of this class go in.
    pub path: String,
    /// Volume size; None when it cannot be measured.
    pub total_bytes: Option<u64>,
    /// Volume free space; None when it cannot be measured.
    pub free_bytes: Option<u64>,
}

/// A catalogue network: a switch and an optional VLAN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Name.
    pub name: String,
    /// Virtual switch.
    pub switch_name: String,
    /// Access VLAN; None for untagged.
    pub vlan_id: Option<u16>,
}

/// A catalogue golden image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Name.
    pub name: String,
    /// The image file.
    pub path: String,
    /// Operating system family.
    pub os_family: OsFamily,
    /// Virtual size; None when the file is unreadable.
    pub capacity_bytes: Option<u64>,
    /// File size; None when the file is unreadable.
    pub file_size_bytes: Option<u64>,
}

/// The host's resource catalogue (the result of `host.resources`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceCatalogue {
    /// The file read; None when the host has none.
    pub catalogue_path: Option<String>,
    /// Storage classes.
    pub storage_classes: Vec<StorageClass>,
    /// Networks.
    pub networks: Vec<Network>,
    /// Golden images.
    pub images: Vec<Image>,
}

impl ResourceCatalogue {
    /// The storage class of that name.
    pub fn storage_class(&self, name: &str) -> Option<&StorageClass> {
        self.storage_classes.iter().find(|c| c.name == name)
    }

    /// The network of that name.
    pub fn network(&self, name: &str) -> Option<&Network> {
        self.networks.iter().find(|n| n.name == name)
    }

    /// The image of that name.
    pub fn image(&self, name: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.name == name)
    }
}
