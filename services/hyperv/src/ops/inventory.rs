//! `inventory.collect` and `host.resources`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::VmId;
use crate::model::{ResourceCatalogue, StorageLocation, Timestamp, VirtualSwitch, Vm, Warning};

/// Params of `inventory.collect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryCollectParams {
    /// Only these VMs; None for all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Vec<VmId>")]
    pub vm_ids: Option<Vec<VmId>>,
}

/// Result of `inventory.collect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryCollectResult {
    /// The host.
    pub host: HostInventory,
    /// Its VMs.
    pub vms: Vec<Vm>,
    /// Partial failures.
    pub warnings: Vec<Warning>,
}

/// The host part of an inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostInventory {
    /// NetBIOS name.
    pub computer_name: String,
    /// DNS name.
    pub fqdn: String,
    /// Cluster; None when standalone.
    pub cluster_name: Option<String>,
    /// Logical processors.
    pub logical_processor_count: u32,
    /// Physical memory.
    pub memory_total_bytes: u64,
    /// Memory available for VMs now.
    pub memory_available_bytes: u64,
    /// Virtual switches.
    pub virtual_switches: Vec<VirtualSwitch>,
    /// VM and disk folders with their space.
    pub storage_locations: Vec<StorageLocation>,
    /// The resource catalogue.
    pub resources: ResourceCatalogue,
    /// When the snapshot was taken.
    pub collected_at: Timestamp,
}

/// Params of `host.resources`: none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostResourcesParams {}

/// The watch length when `inventory.watch` params name none.
pub const DEFAULT_WATCH_SECONDS: u32 = 300;

/// Params of `inventory.watch`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryWatchParams {
    /// How long to watch, 1–3600 seconds; None for the agent's default (300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u32")]
    pub seconds: Option<u32>,
}

impl InventoryWatchParams {
    /// A watch of `seconds`.
    pub fn for_seconds(seconds: u32) -> InventoryWatchParams {
        InventoryWatchParams {
            seconds: Some(seconds),
        }
    }

    /// The length asked for, or the default.
    pub fn seconds_or_default(&self) -> u32 {
        self.seconds.unwrap_or(DEFAULT_WATCH_SECONDS)
    }
}

/// Result of `inventory.watch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryWatchResult {
    /// Event lines written.
    pub events: u64,
    /// Whole seconds watched.
    pub watched_seconds: u64,
}
