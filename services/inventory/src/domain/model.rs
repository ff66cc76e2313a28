//! The records of the fleet model: clusters, hosts, VMs with their disks and NICs.
//!
//! Records are immutable once built and shared as `Arc`s: the live model, the change
//! history and the Watch streams hold the same allocation until a record changes. Strings
//! that repeat across VMs (host, cluster, switch, adapter and OS names, versions) are
//! interned ([`super::intern`]); per-VM strings are boxed slices, not `String`s, so a VM
//! costs about a kilobyte.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use aetherv_hyperv::{
    ControllerType, DiskType, HostId, ResourceCatalogue, StorageLocation, VirtualSwitch, VmId,
    Warning,
};
use time::OffsetDateTime;

/// Interned text shared by many records.
pub type Text = Arc<str>;

/// A failover cluster's name, lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterName(Text);

impl ClusterName {
    /// Wraps an already lower-cased, interned name.
    pub(crate) fn from_interned(name: Text) -> ClusterName {
        ClusterName(name)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ClusterName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether inventory can reach a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostStatus {
    /// Not refreshed since inventory started.
    Unknown,
    /// The last refresh succeeded.
    Reachable,
    /// The last refresh failed.
    Unreachable,
}

impl HostStatus {
    /// Every status, in order.
    pub const ALL: [HostStatus; 3] = [
        HostStatus::Unknown,
        HostStatus::Reachable,
        HostStatus::Unreachable,
    ];
}

/// A VM state: Hyper-V's, plus the two inventory sets while a job creates or deletes a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VmState {
    /// Running.
    Running,
    /// Turned off.
    Off,
    /// Memory saved to disk.
    Saved,
    /// Paused in memory.
    Paused,
    /// Transitional: to Running.
    Starting,
    /// Transitional: to Off.
    Stopping,
    /// Transitional: to Saved.
    Saving,
    /// Transitional: to Paused.
    Pausing,
    /// Transitional: Paused to Running.
    Resuming,
    /// Transitional: a hard reset.
    Resetting,
    /// A state Hyper-V reports outside this list.
    Other,
    /// A job is creating the VM.
    Creating,
    /// A job is deleting the VM.
    Deleting,
}

impl VmState {
    /// Every state, in the proto's order.
    pub const ALL: [VmState; 13] = [
        VmState::Running,
        VmState::Off,
        VmState::Saved,
        VmState::Paused,
        VmState::Starting,
        VmState::Stopping,
        VmState::Saving,
        VmState::Pausing,
        VmState::Resuming,
        VmState::Resetting,
        VmState::Other,
        VmState::Creating,
        VmState::Deleting,
    ];

    /// From the agent protocol's state.
    pub fn from_agent(state: aetherv_hyperv::VmState) -> VmState {
        use aetherv_hyperv::VmState as A;
        match state {
            A::Running => VmState::Running,
            A::Off => VmState::Off,
            A::Saved => VmState::Saved,
            A::Paused => VmState::Paused,
            A::Starting => VmState::Starting,
            A::Stopping => VmState::Stopping,
            A::Saving => VmState::Saving,
            A::Pausing => VmState::Pausing,
            A::Resuming => VmState::Resuming,
            A::Reset => VmState::Resetting,
            A::Other => VmState::Other,
        }
    }

    /// Its position in [`VmState::ALL`] (the sort order of states).
    pub fn ordinal(self) -> usize {
        self as usize
    }

    /// True when the VM holds host resources (everything but Off): its vCPUs and memory
    /// count as assigned.
    pub fn holds_resources(self) -> bool {
        self != VmState::Off
    }
}

/// Guest OS family, inferred from the guest's OS name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OsFamily {
    /// No OS name reported.
    Unknown,
    /// Windows.
    Windows,
    /// Linux.
    Linux,
    /// Some other OS.
    Other,
}

impl OsFamily {
    /// Infers the family from a guest-reported OS name, as the reference system did
    /// ("windows" → Windows; Linux distribution names → Linux), with `Other` for a name
    /// that is neither and `Unknown` for none.
    pub fn infer(os_name: Option<&str>) -> OsFamily {
        const LINUX: &[&str] = &[
            "linux", "ubuntu", "debian", "centos", "rhel", "red hat", "fedora", "suse", "rocky",
            "alma", "oracle", "arch", "alpine", "mint",
        ];
        let Some(name) = os_name.map(str::trim).filter(|n| !n.is_empty()) else {
            return OsFamily::Unknown;
        };
        let lower = name.to_lowercase();
        if lower.contains("windows") {
            OsFamily::Windows
        } else if LINUX.iter().any(|word| lower.contains(word)) {
            OsFamily::Linux
        } else {
            OsFamily::Other
        }
    }
}

/// A VM network adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    /// Hyper-V adapter id, as the host wrote it.
    pub id: Box<str>,
    /// Adapter name.
    pub name: Text,
    /// Connected switch.
    pub switch_name: Option<Text>,
    /// Access VLAN.
    pub vlan_id: Option<u16>,
    /// MAC address as 48 bits (written back as 12 upper-case hex digits).
    pub mac_address: u64,
    /// Whether the MAC is static.
    pub mac_address_static: bool,
    /// Guest IPs on this adapter.
    pub ip_addresses: Box<[IpAddr]>,
    /// Catalogue network matching switch + VLAN.
    pub network_name: Option<Text>,
}

impl Nic {
    /// The MAC address as Hyper-V writes it.
    pub fn mac_text(&self) -> String {
        format!("{:012X}", self.mac_address)
    }
}

/// A virtual hard disk attached to a VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// Hyper-V drive id, as the host wrote it.
    pub id: Box<str>,
    /// File name.
    pub name: Box<str>,
    /// Full path.
    pub path: Box<str>,
    /// Type; None when the file could not be read.
    pub disk_type: Option<DiskType>,
    /// Virtual size; None when the file could not be read.
    pub capacity_bytes: Option<u64>,
    /// File size; None when the file could not be read.
    pub file_size_bytes: Option<u64>,
    /// Controller kind.
    pub controller_type: ControllerType,
    /// Controller number.
    pub controller_number: u8,
    /// Location on the controller.
    pub controller_location: u8,
}

/// What a VM is, as its host reported it. Compared as a whole to decide whether a refresh
/// changed the VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmData {
    /// Name in Hyper-V.
    pub name: Box<str>,
    /// The name lower-cased, for search and sorting.
    pub name_folded: Box<str>,
    /// State.
    pub state: VmState,
    /// Virtual processors.
    pub cpu_count: u32,
    /// Memory assigned now.
    pub memory_assigned_bytes: u64,
    /// Startup memory.
    pub memory_startup_bytes: u64,
    /// Dynamic memory minimum.
    pub memory_minimum_bytes: Option<u64>,
    /// Dynamic memory maximum.
    pub memory_maximum_bytes: Option<u64>,
    /// Dynamic memory on.
    pub dynamic_memory_enabled: bool,
    /// 1 or 2.
    pub generation: u8,
    /// Configuration version.
    pub configuration_version: Text,
    /// Secure Boot on/off; None for generation 1.
    pub secure_boot_enabled: Option<bool>,
    /// Secure Boot template name; None for generation 1 or unknown templates.
    pub secure_boot_template: Option<Text>,
    /// Notes.
    pub notes: Box<str>,
    /// Guest OS name.
    pub os_name: Option<Text>,
    /// Inferred from `os_name`.
    pub os_family: OsFamily,
    /// Creation time.
    pub creation_time: Option<OffsetDateTime>,
    /// When the VM last started (collection time minus uptime); None when not running.
    /// Kept instead of the uptime so that a VM that merely kept running is unchanged.
    pub started_at: Option<OffsetDateTime>,
    /// A failover cluster role.
    pub clustered: bool,
    /// Folder of the VM's configuration.
    pub configuration_path: Box<str>,
    /// Guest IPs over all adapters, link-local removed, de-duplicated.
    pub ip_addresses: Box<[IpAddr]>,
    /// Network adapters.
    pub nics: Box<[Nic]>,
    /// Virtual hard disks, by controller and location.
    pub disks: Box<[Disk]>,
}

/// A VM in the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vm {
    /// Hyper-V GUID.
    pub id: VmId,
    /// The host it is on.
    pub host: Arc<HostId>,
    /// Its host's cluster.
    pub cluster: Option<ClusterName>,
    /// What the host reported.
    pub data: VmData,
    /// True when its host is unreachable and this is the last known data.
    pub stale: bool,
    /// When the data was last collected (updated without a change event).
    pub observed_at: OffsetDateTime,
    /// Revision at which the record last changed.
    pub revision: u64,
}

impl Vm {
    /// The first IPv4 address, else the first address.
    pub fn primary_ip(&self) -> Option<IpAddr> {
        let ips = &self.data.ip_addresses;
        ips.iter()
            .find(|ip| ip.is_ipv4())
            .or_else(|| ips.first())
            .copied()
    }

    /// Time since the VM last started, as of `now` (of `observed_at` when stale); zero when
    /// not running.
    pub fn uptime(&self, now: OffsetDateTime) -> Duration {
        let Some(started) = self.data.started_at else {
            return Duration::ZERO;
        };
        let until = if self.stale { self.observed_at } else { now };
        Duration::try_from(until - started).unwrap_or(Duration::ZERO)
    }
}

/// CPU and memory of a host or cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capacity {
    /// Logical processors.
    pub cpu_cores: u32,
    /// vCPUs of VMs that are not Off.
    pub vcpus_assigned: u32,
    /// vCPUs of all VMs.
    pub vcpus_configured: u32,
    /// Physical memory.
    pub memory_total_bytes: u64,
    /// Free memory the host reports.
    pub memory_available_bytes: u64,
    /// Memory assigned to VMs that are not Off.
    pub memory_assigned_bytes: u64,
}

impl Capacity {
    /// Adds another capacity (saturating).
    pub fn add(&mut self, other: &Capacity) {
        self.cpu_cores = self.cpu_cores.saturating_add(other.cpu_cores);
        self.vcpus_assigned = self.vcpus_assigned.saturating_add(other.vcpus_assigned);
        self.vcpus_configured = self.vcpus_configured.saturating_add(other.vcpus_configured);
        self.memory_total_bytes = self
            .memory_total_bytes
            .saturating_add(other.memory_total_bytes);
        self.memory_available_bytes = self
            .memory_available_bytes
            .saturating_add(other.memory_available_bytes);
        self.memory_assigned_bytes = self
            .memory_assigned_bytes
            .saturating_add(other.memory_assigned_bytes);
    }

    /// Adds one VM's share.
    pub fn add_vm(&mut self, vm: &VmData) {
        self.vcpus_configured = self.vcpus_configured.saturating_add(vm.cpu_count);
        if vm.state.holds_resources() {
            self.vcpus_assigned = self.vcpus_assigned.saturating_add(vm.cpu_count);
            self.memory_assigned_bytes = self
                .memory_assigned_bytes
                .saturating_add(vm.memory_assigned_bytes);
        }
    }
}

/// What a host reported about itself at its last successful refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// NetBIOS name.
    pub computer_name: Text,
    /// DNS name.
    pub fqdn: Text,
    /// Logical processors.
    pub cpu_cores: u32,
    /// Physical memory.
    pub memory_total_bytes: u64,
    /// Free memory.
    pub memory_available_bytes: u64,
    /// Virtual switches, sorted by name.
    pub virtual_switches: Arc<[VirtualSwitch]>,
    /// VM and disk folders with their volumes' space.
    pub storage_locations: Arc<[StorageLocation]>,
    /// The host's resource catalogue.
    pub resources: Arc<ResourceCatalogue>,
    /// Partial failures of the last collection.
    pub warnings: Arc<[Warning]>,
}

/// A configured host as inventory last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Configured name, lower case.
    pub id: Arc<HostId>,
    /// Its reported cluster.
    pub cluster: Option<ClusterName>,
    /// Reachability.
    pub status: HostStatus,
    /// Why it is unreachable; empty otherwise.
    pub status_reason: Text,
    /// Last successful refresh.
    pub last_seen: Option<OffsetDateTime>,
    /// Last refresh attempt.
    pub last_refresh: Option<OffsetDateTime>,
    /// Duration of the last attempt.
    pub last_refresh_duration: Option<Duration>,
    /// The last attempt took longer than the slow-host threshold.
    pub slow: bool,
    /// What it reported; None until first reached.
    pub facts: Option<HostFacts>,
    /// Its data is from an earlier refresh (it is unreachable now).
    pub stale: bool,
    /// VMs on it.
    pub vm_count: u32,
    /// What it has and gives to its VMs.
    pub capacity: Capacity,
    /// Revision at which the record last changed.
    pub revision: u64,
}

impl Host {
    /// A configured host never refreshed.
    pub fn unknown(id: Arc<HostId>) -> Host {
        Host {
            id,
            cluster: None,
            status: HostStatus::Unknown,
            status_reason: Text::from(""),
            last_seen: None,
            last_refresh: None,
            last_refresh_duration: None,
            slow: false,
            facts: None,
            stale: false,
            vm_count: 0,
            capacity: Capacity::default(),
            revision: 0,
        }
    }
}

/// A failover cluster, derived from its members' reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Name.
    pub name: ClusterName,
    /// Its configured members, sorted.
    pub hosts: Vec<Arc<HostId>>,
    /// Members currently reachable.
    pub reachable_hosts: u32,
    /// VMs on its members.
    pub vm_count: u32,
    /// Sum over its members.
    pub capacity: Capacity,
    /// Revision at which the record last changed.
    pub revision: u64,
}
