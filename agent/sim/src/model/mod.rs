//! The in-memory Hyper-V model of one host: no I/O, no clocks of its own. Every function
//! that depends on time takes the simulated `now`; transitions that have run their course
//! are applied by [`HostModel::settle`], which every reader calls first.
//!
//! The operations (`power`, `vm_ops`, `disk_ops`, `nic_ops`) check Hyper-V's rules and
//! answer the agent protocol's errors (`errors`); the agent layer (`crate::agent`) waits
//! for the durations they return and writes the results.

pub mod disk_ops;
pub mod errors;
pub mod nic_ops;
pub mod power;
pub mod state;
pub mod vm_ops;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use aetherv_hyperv::ops::inventory::{HostInventory, InventoryCollectResult};
use aetherv_hyperv::{
    AgentError, Image, ResourceCatalogue, ScarceResource, StorageClass, StorageLocation, Timestamp,
    VirtualSwitch, Vm, VmId,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::clock::SimInstant;
use state::{Catalogue, HostLookup, SimVm, VhdFile, Volume, holds_memory, vm_view};

/// What a host is, apart from its VMs and storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// Position in the fleet (0-based); seeds its MAC and IP ranges.
    pub index: u32,
    /// NetBIOS name, upper case (`HV-AMS-C1-N03`).
    pub computer_name: String,
    /// DNS name, lower case (`hv-ams-c1-n03.corp.example`).
    pub fqdn: String,
    /// Failover cluster; None when standalone.
    pub cluster_name: Option<String>,
    /// Logical processors.
    pub logical_processor_count: u32,
    /// Physical memory.
    pub memory_total_bytes: u64,
    /// Memory the parent partition keeps for itself.
    pub memory_reserved_bytes: u64,
    /// Windows version, e.g. `10.0.20348`.
    pub os_version: String,
    /// Windows edition.
    pub os_caption: String,
    /// `$PSVersionTable.PSVersion`.
    pub powershell_version: String,
    /// The Hyper-V module's version.
    pub hyperv_module_version: String,
    /// Hyper-V's default virtual machine folder.
    pub default_vm_path: String,
    /// Hyper-V's default virtual hard disk folder.
    pub default_vhd_path: String,
    /// The configuration version new VMs get.
    pub configuration_version: String,
}

/// A space reservation of an operation under way (an image copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReservationId(u64);

/// One simulated Hyper-V host.
#[derive(Debug, Clone)]
pub struct HostModel {
    facts: HostFacts,
    volumes: Vec<Volume>,
    files: BTreeMap<String, VhdFile>,
    reservations: BTreeMap<ReservationId, (String, u64)>,
    next_reservation: u64,
    switches: Vec<VirtualSwitch>,
    catalogue: Catalogue,
    vms: Vec<SimVm>,
    attaching: Vec<disk_ops::Attaching>,
    mac_next: u32,
    ip_next: BTreeMap<String, u8>,
    rng: ChaCha8Rng,
}

/// Two models are equal when everything visible is (the RNG position is not compared).
impl PartialEq for HostModel {
    fn eq(&self, other: &Self) -> bool {
        self.facts == other.facts
            && self.volumes == other.volumes
            && self.files == other.files
            && self.switches == other.switches
            && self.catalogue == other.catalogue
            && self.vms == other.vms
            && self.mac_next == other.mac_next
            && self.ip_next == other.ip_next
    }
}

fn key(path: &str) -> String {
    path.to_ascii_lowercase()
}

impl HostModel {
    /// A host with no VMs and no files; `seed` drives the ids and names it invents later.
    pub fn new(
        facts: HostFacts,
        volumes: Vec<Volume>,
        switches: Vec<VirtualSwitch>,
        catalogue: Catalogue,
        seed: u64,
    ) -> HostModel {
        HostModel {
            facts,
            volumes,
            files: BTreeMap::new(),
            reservations: BTreeMap::new(),
            next_reservation: 1,
            switches,
            catalogue,
            vms: Vec::new(),
            attaching: Vec::new(),
            mac_next: 0,
            ip_next: BTreeMap::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The host's facts.
    pub fn facts(&self) -> &HostFacts {
        &self.facts
    }

    pub(crate) fn facts_mut(&mut self) -> &mut HostFacts {
        &mut self.facts
    }

    /// Resizes the volume whose root is `root` (generation).
    pub(crate) fn set_volume(&mut self, root: &str, total_bytes: u64, base_used_bytes: u64) {
        if let Some(v) = self
            .volumes
            .iter_mut()
            .find(|v| v.root.eq_ignore_ascii_case(root))
        {
            v.total_bytes = total_bytes;
            v.base_used_bytes = base_used_bytes;
        }
    }

    /// The volumes.
    pub fn volumes(&self) -> &[Volume] {
        &self.volumes
    }

    /// The VMs, in creation order (as they are, without settling).
    pub fn vms(&self) -> &[SimVm] {
        &self.vms
    }

    /// The VM with that id.
    pub fn vm(&self, id: VmId) -> Option<&SimVm> {
        self.vms.iter().find(|v| v.id == id)
    }

    pub(crate) fn vm_mut(&mut self, id: VmId) -> Option<&mut SimVm> {
        self.vms.iter_mut().find(|v| v.id == id)
    }

    pub(crate) fn vm_or_not_found(&mut self, id: VmId) -> Result<&mut SimVm, AgentError> {
        self.vm_mut(id).ok_or_else(|| errors::vm_not_found(id))
    }

    /// The VM with that name (case-insensitive, as Hyper-V compares names).
    pub fn vm_by_name(&self, name: &str) -> Option<&SimVm> {
        self.vms.iter().find(|v| v.name.eq_ignore_ascii_case(name))
    }

    /// The files on the host's volumes.
    pub fn files(&self) -> impl Iterator<Item = &VhdFile> {
        self.files.values()
    }

    /// The file at `path` (any case).
    pub fn file(&self, path: &str) -> Option<&VhdFile> {
        self.files.get(&key(path))
    }

    /// When the next power transition under way ends, if any.
    pub fn next_transition(&self) -> Option<SimInstant> {
        self.vms
            .iter()
            .filter_map(|v| v.transition.map(|t| t.at))
            .min()
    }

    /// The virtual switches.
    pub fn switches(&self) -> &[VirtualSwitch] {
        &self.switches
    }

    /// The resource catalogue as configured.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    pub(crate) fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Adds a file (used by generation and operations).
    pub(crate) fn put_file(&mut self, file: VhdFile) {
        self.files.insert(key(&file.path), file);
    }

    pub(crate) fn remove_file(&mut self, path: &str) -> Option<VhdFile> {
        self.files.remove(&key(path))
    }

    pub(crate) fn file_mut(&mut self, path: &str) -> Option<&mut VhdFile> {
        self.files.get_mut(&key(path))
    }

    /// Adds a VM as it is (generation and out-of-band changes).
    pub(crate) fn push_vm(&mut self, vm: SimVm) {
        self.vms.push(vm);
    }

    pub(crate) fn take_vm(&mut self, id: VmId) -> Option<SimVm> {
        let index = self.vms.iter().position(|v| v.id == id)?;
        Some(self.vms.remove(index))
    }

    /// Applies every transition that has ended by `now`, in the order they end.
    pub fn settle(&mut self, now: SimInstant) {
        loop {
            let due = self
                .vms
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.transition.filter(|t| t.at <= now).map(|t| (t.at, i)))
                .min();
            let Some((_, index)) = due else { return };
            power::complete_transition(self, index);
        }
    }

    /// Memory the host can still give VMs.
    pub fn memory_available_bytes(&self) -> u64 {
        let used: u64 = self
            .vms
            .iter()
            .filter(|v| holds_memory(v.state))
            .map(|v| v.memory.assigned_bytes())
            .sum();
        self.facts
            .memory_total_bytes
            .saturating_sub(self.facts.memory_reserved_bytes)
            .saturating_sub(used)
    }

    fn volume_index(&self, path: &str) -> Option<usize> {
        let p = key(path);
        self.volumes
            .iter()
            .enumerate()
            .filter(|(_, v)| {
                let root = key(&v.root);
                p == root.trim_end_matches('\\') || p.starts_with(&root)
            })
            .max_by_key(|(_, v)| v.root.len())
            .map(|(i, _)| i)
    }

    /// (total, free) bytes of the volume holding `path`; None when no volume holds it.
    pub fn space(&self, path: &str) -> Option<(u64, u64)> {
        let index = self.volume_index(path)?;
        let volume = &self.volumes[index];
        let on_volume = |p: &str| self.volume_index(p) == Some(index);
        let files: u64 = self
            .files
            .values()
            .filter(|f| on_volume(&f.path))
            .map(|f| f.file_size_bytes)
            .sum();
        let reserved: u64 = self
            .reservations
            .values()
            .filter(|(p, _)| on_volume(p))
            .map(|(_, b)| *b)
            .sum();
        let free = volume
            .total_bytes
            .saturating_sub(volume.base_used_bytes)
            .saturating_sub(files)
            .saturating_sub(reserved);
        Some((volume.total_bytes, free))
    }

    /// Reserves `bytes` on the volume of `path`, or says how much is missing.
    pub fn reserve(&mut self, path: &str, bytes: u64) -> Result<ReservationId, AgentError> {
        let folder = path.rsplit_once('\\').map_or(path, |(f, _)| f).to_owned();
        let free = self.space(path).map_or(0, |(_, free)| free);
        if free < bytes {
            return Err(errors::insufficient(
                ScarceResource::DiskSpace,
                bytes,
                free,
                Some(folder),
            ));
        }
        let id = ReservationId(self.next_reservation);
        self.next_reservation += 1;
        self.reservations.insert(id, (path.to_owned(), bytes));
        Ok(id)
    }

    /// Gives reserved space back.
    pub fn release(&mut self, id: ReservationId) {
        self.reservations.remove(&id);
    }

    /// The next dynamic MAC of the host's pool (`00155D` + 24 bits from the host index
    /// and a counter, as Hyper-V's per-host MAC address range).
    pub(crate) fn next_mac(&mut self) -> String {
        let low = ((self.facts.index & 0xfff) << 12) | (self.mac_next & 0xfff);
        self.mac_next = self.mac_next.wrapping_add(1);
        format!("00155D{low:06X}")
    }

    /// The next guest IPv4 address on a switch/VLAN: a /24 per host and network.
    pub(crate) fn next_ip(&mut self, switch: &str, vlan: Option<u16>) -> Ipv4Addr {
        let network = self
            .catalogue
            .networks
            .iter()
            .position(|n| n.switch_name.eq_ignore_ascii_case(switch) && n.vlan_id == vlan)
            .unwrap_or(9);
        let h = self.facts.index;
        let second = 16 + (h / 256) % 20 * 10 + network as u32 % 10;
        let third = h % 256;
        let counter = self
            .ip_next
            .entry(format!("{switch}/{vlan:?}"))
            .or_insert(10);
        let fourth = *counter;
        *counter = if *counter >= 250 { 10 } else { *counter + 1 };
        Ipv4Addr::new(10, second as u8, third as u8, fourth)
    }

    /// A VM in the protocol's shape, after settling.
    pub fn vm_snapshot(&mut self, now: SimInstant, id: VmId) -> Option<Vm> {
        self.settle(now);
        let vm = self.vm(id)?;
        Some(vm_view(vm, now, self))
    }

    /// Every VM in the protocol's shape, sorted by name, after settling.
    pub fn vm_snapshots(&mut self, now: SimInstant) -> Vec<Vm> {
        self.settle(now);
        let mut vms: Vec<Vm> = self.vms.iter().map(|v| vm_view(v, now, self)).collect();
        vms.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        vms
    }

    /// The catalogue with the current space of each class and image.
    pub fn resources(&self) -> ResourceCatalogue {
        let c = &self.catalogue;
        ResourceCatalogue {
            catalogue_path: c.path.clone(),
            storage_classes: c
                .storage_classes
                .iter()
                .map(|s| {
                    let space = self.space(&s.path);
                    StorageClass {
                        name: s.name.clone(),
                        path: s.path.clone(),
                        total_bytes: space.map(|(t, _)| t),
                        free_bytes: space.map(|(_, f)| f),
                    }
                })
                .collect(),
            networks: c.networks.clone(),
            images: c
                .images
                .iter()
                .map(|i| {
                    let file = self.files.get(&key(&i.path));
                    Image {
                        name: i.name.clone(),
                        path: i.path.clone(),
                        os_family: i.os_family,
                        capacity_bytes: file.map(|f| f.capacity_bytes),
                        file_size_bytes: file.map(|f| f.file_size_bytes),
                    }
                })
                .collect(),
        }
    }

    /// The folders VMs and disks live in, with their volumes' space, without duplicates.
    pub fn storage_locations(&self) -> Vec<StorageLocation> {
        let mut paths = vec![
            self.facts.default_vm_path.clone(),
            self.facts.default_vhd_path.clone(),
        ];
        paths.extend(
            self.catalogue
                .storage_classes
                .iter()
                .map(|c| c.path.clone()),
        );
        paths.extend(
            self.volumes
                .iter()
                .filter(|v| v.root.contains("ClusterStorage"))
                .map(|v| v.root.trim_end_matches('\\').to_owned()),
        );
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for p in paths {
            if seen.contains(&key(&p)) {
                continue;
            }
            seen.push(key(&p));
            if let Some((total, free)) = self.space(&p) {
                out.push(StorageLocation {
                    path: p,
                    total_bytes: total,
                    free_bytes: free,
                });
            }
        }
        out
    }

    /// `inventory.collect`: the host and its VMs (only `vm_ids` when given).
    pub fn inventory(
        &mut self,
        now: SimInstant,
        wall: Timestamp,
        vm_ids: Option<&[VmId]>,
    ) -> InventoryCollectResult {
        let mut vms = self.vm_snapshots(now);
        if let Some(ids) = vm_ids {
            vms.retain(|v| ids.contains(&v.id));
        }
        InventoryCollectResult {
            host: HostInventory {
                computer_name: self.facts.computer_name.clone(),
                fqdn: self.facts.fqdn.clone(),
                cluster_name: self.facts.cluster_name.clone(),
                logical_processor_count: self.facts.logical_processor_count,
                memory_total_bytes: self.facts.memory_total_bytes,
                memory_available_bytes: self.memory_available_bytes(),
                virtual_switches: self.switches.clone(),
                storage_locations: self.storage_locations(),
                resources: self.resources(),
                collected_at: wall,
            },
            vms,
            warnings: Vec::new(),
        }
    }

    /// How many VMs are in each stable or transitional state.
    pub fn state_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for vm in &self.vms {
            *counts.entry(vm.state.as_str()).or_insert(0) += 1;
        }
        counts
    }
}

impl HostLookup for HostModel {
    fn file(&self, path: &str) -> Option<&VhdFile> {
        self.files.get(&key(path))
    }

    fn network_name(&self, switch: Option<&str>, vlan: Option<u16>) -> Option<String> {
        let switch = switch?;
        self.catalogue
            .networks
            .iter()
            .find(|n| n.switch_name.eq_ignore_ascii_case(switch) && n.vlan_id == vlan)
            .map(|n| n.name.clone())
    }
}
