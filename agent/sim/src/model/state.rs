//! What a simulated host holds: volumes and the files on them, the resource catalogue, and
//! VMs with their NICs and disks, plus their conversion to the protocol's shapes
//! (`aetherv_hyperv::Vm`, `Disk`, `Nic`).

use std::net::IpAddr;
use std::time::Duration;

use aetherv_hyperv::{
    ControllerType, Disk, DiskId, DiskType, Generation, Nic, NicId, OsFamily, PowerAction,
    SecureBootTemplate, Timestamp, Vm, VmId, VmState,
};
use uuid::Uuid;

use crate::clock::SimInstant;

/// A volume (a drive letter or a cluster shared volume) and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Its root folder, e.g. `D:\` or `C:\ClusterStorage\Volume1\`.
    pub root: String,
    /// Size in bytes.
    pub total_bytes: u64,
    /// Space taken by things the model does not track (the OS, other files).
    pub base_used_bytes: u64,
}

/// A virtual hard disk file (or a golden image) on a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VhdFile {
    /// Full path.
    pub path: String,
    /// Dynamic, Fixed or Differencing.
    pub disk_type: DiskType,
    /// The size the guest sees.
    pub capacity_bytes: u64,
    /// The size of the file.
    pub file_size_bytes: u64,
}

/// A storage class of the catalogue (its space comes from its volume).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassEntry {
    /// Name, e.g. `fast-ssd`.
    pub name: String,
    /// Folder VMs of this class go in.
    pub path: String,
}

/// A golden image of the catalogue; its file is in the host's file table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageEntry {
    /// Name, e.g. `ubuntu-24.04`.
    pub name: String,
    /// The image file.
    pub path: String,
    /// OS family.
    pub os_family: OsFamily,
    /// What a guest booted from a clone reports as its OS name.
    pub guest_os_name: String,
}

/// The host's resource catalogue (`hostresources.json`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalogue {
    /// The file the agent reads; None when the host has none.
    pub path: Option<String>,
    /// Storage classes.
    pub storage_classes: Vec<ClassEntry>,
    /// Networks.
    pub networks: Vec<aetherv_hyperv::Network>,
    /// Golden images.
    pub images: Vec<ImageEntry>,
}

/// Memory settings of a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Startup memory.
    pub startup_bytes: u64,
    /// Dynamic memory (minimum, maximum); None when static.
    pub dynamic: Option<(u64, u64)>,
}

impl Memory {
    /// What the VM is given while it runs: the startup memory, kept within the dynamic range.
    pub fn assigned_bytes(&self) -> u64 {
        match self.dynamic {
            Some((min, max)) => self.startup_bytes.clamp(min, max.max(min)),
            None => self.startup_bytes,
        }
    }
}

/// A power transition under way: the VM shows a transitional state until `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The action.
    pub action: PowerAction,
    /// Where it ends.
    pub to: VmState,
    /// When it ends.
    pub at: SimInstant,
}

/// A network adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimNic {
    /// The adapter GUID (the part after the VM GUID in its id).
    pub guid: Uuid,
    /// Name.
    pub name: String,
    /// Connected switch.
    pub switch_name: Option<String>,
    /// Access VLAN.
    pub vlan_id: Option<u16>,
    /// MAC, 12 upper-case hex digits; all zeros while dynamic and never started.
    pub mac_address: String,
    /// Static MAC.
    pub mac_static: bool,
    /// What the guest reports on it while running.
    pub guest_ips: Vec<IpAddr>,
}

/// A disk drive: a file attached at a controller location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimDisk {
    /// Controller kind.
    pub controller_type: ControllerType,
    /// Controller number.
    pub controller_number: u8,
    /// Location on it.
    pub controller_location: u8,
    /// The file (a key of the host's file table).
    pub path: String,
}

/// A simulated VM: everything inventory shows, plus what drives its behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimVm {
    /// GUID.
    pub id: VmId,
    /// Name.
    pub name: String,
    /// Current state (transitional while `transition` is set).
    pub state: VmState,
    /// The transition under way.
    pub transition: Option<Transition>,
    /// Generation.
    pub generation: Generation,
    /// Configuration version, e.g. "10.0".
    pub configuration_version: String,
    /// Virtual processors.
    pub cpu_count: u32,
    /// Memory settings.
    pub memory: Memory,
    /// Secure Boot (on, template); None for generation 1.
    pub secure_boot: Option<(bool, Option<SecureBootTemplate>)>,
    /// Notes.
    pub notes: String,
    /// The guest OS name once an OS is installed (a clone of an image, or generated).
    pub guest_os: Option<String>,
    /// Creation time.
    pub creation_time: Timestamp,
    /// When the VM last reached Running.
    pub running_since: Option<SimInstant>,
    /// Whether it has ever started (dynamic MACs are assigned then).
    pub ever_started: bool,
    /// A cluster role.
    pub clustered: bool,
    /// Its configuration folder.
    pub configuration_path: String,
    /// Network adapters.
    pub nics: Vec<SimNic>,
    /// Disk drives.
    pub disks: Vec<SimDisk>,
    /// SCSI controller GUIDs, by controller number.
    pub scsi_controllers: Vec<Uuid>,
    /// IDE controller GUIDs (generation 1 only).
    pub ide_controllers: Vec<Uuid>,
    /// The guest does not react to a shutdown request (Stop-VM waits, then times out).
    pub guest_ignores_shutdown: bool,
}

/// Whether a VM in this state has memory assigned.
pub fn holds_memory(state: VmState) -> bool {
    !matches!(state, VmState::Off | VmState::Saved | VmState::Other)
}

/// Whether the guest's integration services report (OS name, IPs) in this state.
pub fn guest_reports(state: VmState) -> bool {
    holds_memory(state) && state != VmState::Starting
}

fn upper(u: Uuid) -> String {
    u.hyphenated().to_string().to_ascii_uppercase()
}

impl SimVm {
    /// The disk drive id Hyper-V gives this attachment.
    pub fn disk_id(&self, disk: &SimDisk) -> Option<DiskId> {
        let controllers = match disk.controller_type {
            ControllerType::Scsi => &self.scsi_controllers,
            ControllerType::Ide => &self.ide_controllers,
        };
        let controller = controllers.get(usize::from(disk.controller_number))?;
        DiskId::parse(&format!(
            "Microsoft:{}\\{}\\{}\\{}\\D",
            upper(self.id.uuid()),
            upper(*controller),
            disk.controller_number,
            disk.controller_location
        ))
        .ok()
    }

    /// The adapter id Hyper-V gives this NIC.
    pub fn nic_id(&self, nic: &SimNic) -> Option<NicId> {
        NicId::parse(&format!(
            "Microsoft:{}\\{}",
            upper(self.id.uuid()),
            upper(nic.guid)
        ))
        .ok()
    }

    /// Memory assigned now (0 unless the state holds memory).
    pub fn memory_assigned_bytes(&self) -> u64 {
        if holds_memory(self.state) {
            self.memory.assigned_bytes()
        } else {
            0
        }
    }

    /// Whole seconds since it last reached Running; 0 when not running.
    pub fn uptime_seconds(&self, now: SimInstant) -> u64 {
        match self.running_since {
            Some(since) if holds_memory(self.state) => now.saturating_since(since).as_secs(),
            _ => 0,
        }
    }

    /// The index of the disk with this id.
    pub fn disk_index(&self, id: &DiskId) -> Option<usize> {
        self.disks
            .iter()
            .position(|d| self.disk_id(d).as_ref() == Some(id))
    }

    /// The index of the NIC with this id.
    pub fn nic_index(&self, id: &NicId) -> Option<usize> {
        self.nics
            .iter()
            .position(|n| self.nic_id(n).as_ref() == Some(id))
    }
}

/// Looks up what a view needs from the host: file details and network names.
pub trait HostLookup {
    /// The file at `path`, if it exists.
    fn file(&self, path: &str) -> Option<&VhdFile>;
    /// The catalogue network matching a switch and VLAN.
    fn network_name(&self, switch: Option<&str>, vlan: Option<u16>) -> Option<String>;
}

/// The file name of a path (after the last backslash).
pub fn file_name(path: &str) -> &str {
    path.rsplit('\\').next().unwrap_or(path)
}

/// A VM in the protocol's shape.
pub fn vm_view(vm: &SimVm, now: SimInstant, host: &dyn HostLookup) -> Vm {
    let reports = guest_reports(vm.state);
    let nics: Vec<Nic> = vm
        .nics
        .iter()
        .filter_map(|n| {
            Some(Nic {
                id: vm.nic_id(n)?,
                name: n.name.clone(),
                switch_name: n.switch_name.clone(),
                vlan_id: n.vlan_id,
                mac_address: n.mac_address.clone(),
                mac_address_static: n.mac_static,
                ip_addresses: if reports && n.switch_name.is_some() {
                    n.guest_ips.clone()
                } else {
                    Vec::new()
                },
                network_name: host.network_name(n.switch_name.as_deref(), n.vlan_id),
            })
        })
        .collect();
    let mut ip_addresses: Vec<IpAddr> = Vec::new();
    for ip in nics.iter().flat_map(|n| n.ip_addresses.iter()) {
        if !ip_addresses.contains(ip) {
            ip_addresses.push(*ip);
        }
    }
    let disks = vm
        .disks
        .iter()
        .filter_map(|d| {
            let file = host.file(&d.path);
            Some(Disk {
                id: vm.disk_id(d)?,
                name: file_name(&d.path).to_owned(),
                path: d.path.clone(),
                disk_type: file.map(|f| f.disk_type),
                capacity_bytes: file.map(|f| f.capacity_bytes),
                file_size_bytes: file.map(|f| f.file_size_bytes),
                controller_type: d.controller_type,
                controller_number: d.controller_number,
                controller_location: d.controller_location,
            })
        })
        .collect();
    let (secure_boot_enabled, secure_boot_template) = match vm.secure_boot {
        Some((on, template)) => (Some(on), template),
        None => (None, None),
    };
    Vm {
        id: vm.id,
        name: vm.name.clone(),
        state: vm.state,
        generation: vm.generation,
        configuration_version: vm.configuration_version.clone(),
        cpu_count: vm.cpu_count,
        memory_assigned_bytes: vm.memory_assigned_bytes(),
        memory_startup_bytes: vm.memory.startup_bytes,
        dynamic_memory_enabled: vm.memory.dynamic.is_some(),
        memory_minimum_bytes: vm.memory.dynamic.map(|(min, _)| min),
        memory_maximum_bytes: vm.memory.dynamic.map(|(_, max)| max),
        secure_boot_enabled,
        secure_boot_template,
        notes: vm.notes.clone(),
        guest_os_name: if reports { vm.guest_os.clone() } else { None },
        creation_time: vm.creation_time,
        uptime_seconds: vm.uptime_seconds(now),
        clustered: vm.clustered,
        configuration_path: vm.configuration_path.clone(),
        ip_addresses,
        nics,
        disks,
    }
}

/// Simulated durations of Hyper-V's work (before the time scale applies).
pub mod durations {
    use super::Duration;

    /// Start-VM from Off.
    pub const START: Duration = Duration::from_secs(4);
    /// Resume-VM (and Start-VM of a paused VM).
    pub const RESUME: Duration = Duration::from_secs(1);
    /// Stop-VM -Force with a cooperative guest.
    pub const SHUTDOWN: Duration = Duration::from_secs(6);
    /// Stop-VM -TurnOff.
    pub const TURN_OFF: Duration = Duration::from_secs(1);
    /// Restart-VM -Force.
    pub const RESET: Duration = Duration::from_secs(2);
    /// Suspend-VM.
    pub const PAUSE: Duration = Duration::from_secs(1);
    /// Save-VM / restore from saved: fixed part; plus [`SAVE_PER_GIB`] per GiB of memory.
    pub const SAVE_BASE: Duration = Duration::from_secs(2);
    /// Save-VM / restore: per GiB of assigned memory.
    pub const SAVE_PER_GIB: Duration = Duration::from_millis(250);
    /// New-VM, Set-VM, Remove-VM and similar configuration changes.
    pub const CONFIGURE: Duration = Duration::from_millis(800);
    /// Copy-Item / New-VHD -Fixed throughput, bytes per simulated second (400 MiB/s).
    pub const COPY_BYTES_PER_SECOND: u64 = 400 * 1024 * 1024;
    /// Default shutdown wait (vm.power's shutdown_timeout_seconds).
    pub const SHUTDOWN_WAIT_DEFAULT: Duration = Duration::from_secs(300);

    /// Time to copy or write `bytes`.
    pub fn copy(bytes: u64) -> Duration {
        Duration::from_secs_f64(bytes as f64 / COPY_BYTES_PER_SECOND as f64)
    }

    /// Time to save or restore `memory_bytes` of memory.
    pub fn save(memory_bytes: u64) -> Duration {
        SAVE_BASE + SAVE_PER_GIB.mul_f64(memory_bytes as f64 / (1u64 << 30) as f64)
    }
}
