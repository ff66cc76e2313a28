//! What the pre-checks know about a host and a VM: the parts of inventory's records and of
//! the host's resource catalogue a job's checks need, in domain types.

use aetherv_hyperv::{ControllerType, Generation, HostId, ResourceCatalogue, VmId, VmState};

/// Whether inventory reaches a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostStatus {
    /// Not refreshed yet.
    Unknown,
    /// The last refresh succeeded.
    Reachable,
    /// The last refresh failed, with the reason.
    Unreachable(String),
}

/// A host as the checks see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// The host.
    pub host: HostId,
    /// Reachability.
    pub status: HostStatus,
    /// Its logical processors (0 when unknown).
    pub cpu_cores: u32,
    /// Its virtual switches' names.
    pub switches: Vec<String>,
}

/// A disk of a VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskFacts {
    /// Hyper-V drive id.
    pub id: String,
    /// Its file.
    pub path: String,
    /// Its capacity (0 when unknown).
    pub capacity_bytes: u64,
    /// Its controller.
    pub controller_type: ControllerType,
}

/// A network adapter of a VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicFacts {
    /// Hyper-V adapter id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// A VM as the checks see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmFacts {
    /// The VM.
    pub id: VmId,
    /// Its name.
    pub name: String,
    /// Its host.
    pub host: HostId,
    /// Its state (inventory's Creating/Deleting read as Other).
    pub state: VmState,
    /// Generation.
    pub generation: Generation,
    /// Startup memory.
    pub memory_startup_bytes: u64,
    /// Dynamic memory on.
    pub dynamic_memory_enabled: bool,
    /// Dynamic memory minimum.
    pub memory_minimum_bytes: Option<u64>,
    /// Dynamic memory maximum.
    pub memory_maximum_bytes: Option<u64>,
    /// Its disks.
    pub disks: Vec<DiskFacts>,
    /// Its adapters.
    pub nics: Vec<NicFacts>,
}

impl VmFacts {
    /// The disk of that id (ids compare case-insensitively).
    pub fn disk(&self, id: &str) -> Option<&DiskFacts> {
        self.disks.iter().find(|d| d.id.eq_ignore_ascii_case(id))
    }

    /// The adapter of that id (ids compare case-insensitively).
    pub fn nic(&self, id: &str) -> Option<&NicFacts> {
        self.nics.iter().find(|n| n.id.eq_ignore_ascii_case(id))
    }
}

/// Everything the checks of one spec need; the engine gathers what the spec calls for.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The host, `None` when inventory does not know it.
    pub host: Option<HostFacts>,
    /// Configured hosts (filled when the host is unknown, to list the valid ones).
    pub known_hosts: Vec<String>,
    /// The VM the spec names, `None` when unknown (or when the spec names none).
    pub vm: Option<VmFacts>,
    /// The host's catalogue, when the spec names something in it.
    pub catalogue: Option<std::sync::Arc<ResourceCatalogue>>,
    /// A VM of the new VM's name already on the host.
    pub name_taken_by: Option<VmId>,
    /// An unfinished job creating a VM of that name on the host.
    pub name_claimed_by: Option<String>,
    /// An unfinished job on the VM that runs first (the state checks are then the host's).
    pub earlier_job: Option<String>,
}
