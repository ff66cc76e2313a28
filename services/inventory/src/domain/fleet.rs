//! The fleet model: configured hosts, their VMs and the clusters derived from them, with
//! one global revision. Every mutation goes through [`Fleet::set_configured_hosts`] or a
//! refresh ([`Fleet::begin_refresh`] then [`Fleet::apply_success`] /
//! [`Fleet::apply_failure`]) and returns the [`ChangeBatch`] it made — a diff against the
//! previous model, so a refresh that changes nothing about a VM produces no event for it.
//!
//! Refresh results carry a ticket issued when the refresh began; a result whose ticket is
//! older than one already applied for that host (a slow refresh overtaken by a newer one)
//! is dropped.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aetherv_hyperv::HostId;
use time::OffsetDateTime;

use super::changes::{Change, ChangeBatch, VmCounts};
use super::convert::HostReport;
use super::intern::Interner;
use super::model::{Capacity, Cluster, ClusterName, Host, HostStatus, Text, Vm, VmData};
use super::table::{Slot, VmTable};

/// Tunables of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetSettings {
    /// A refresh longer than this marks its host slow.
    pub slow_threshold: Duration,
    /// Start times (collection time minus uptime) closer than this are the same start:
    /// uptimes are whole seconds, read a moment apart from the collection time.
    pub start_tolerance: Duration,
}

impl Default for FleetSettings {
    fn default() -> FleetSettings {
        FleetSettings {
            slow_threshold: Duration::from_secs(10),
            start_tolerance: Duration::from_secs(5),
        }
    }
}

/// Proof that a refresh of a host began, ordering its result against other refreshes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The host.
    pub host: Arc<HostId>,
    /// Issue order per host.
    pub seq: u64,
}

/// When a refresh attempt finished and how long it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// When it finished.
    pub at: OffsetDateTime,
    /// How long it took.
    pub duration: Duration,
}

/// What applying a refresh result did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// The changes (None when nothing changed), counts, and the host afterwards.
    Done {
        /// The batch, if anything changed.
        batch: Option<ChangeBatch>,
        /// VM counts.
        counts: VmCounts,
        /// The host record now.
        host: Arc<Host>,
    },
    /// A newer refresh of the host was applied already; this result was dropped.
    Superseded {
        /// The host record now.
        host: Arc<Host>,
    },
    /// The host is no longer configured.
    Unconfigured,
}

pub(super) struct HostEntry {
    pub(super) record: Arc<Host>,
    pub(super) slots: Vec<Slot>,
    issued: u64,
    applied: u64,
}

/// The model.
pub struct Fleet {
    pub(super) settings: FleetSettings,
    pub(super) revision: u64,
    pub(super) hosts: BTreeMap<HostId, HostEntry>,
    pub(super) clusters: BTreeMap<ClusterName, Arc<Cluster>>,
    pub(super) vms: VmTable,
    pub(super) interner: Interner,
}

/// Changes being collected for one revision.
pub(super) struct Pending {
    pub(super) revision: u64,
    pub(super) changes: Vec<Change>,
    pub(super) hosts: BTreeSet<HostId>,
    pub(super) clusters: BTreeSet<ClusterName>,
    pub(super) staged: BTreeMap<HostId, Host>,
}

impl Fleet {
    /// An empty model at `start_revision` (the service starts it at its start time in
    /// microseconds, so revisions of an earlier process are always older).
    pub fn new(settings: FleetSettings, start_revision: u64) -> Fleet {
        Fleet {
            settings,
            revision: start_revision,
            hosts: BTreeMap::new(),
            clusters: BTreeMap::new(),
            vms: VmTable::default(),
            interner: Interner::default(),
        }
    }

    /// The current revision.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The settings.
    pub fn settings(&self) -> FleetSettings {
        self.settings
    }

    /// Configured hosts, sorted by id.
    pub fn hosts(&self) -> impl Iterator<Item = &Arc<Host>> {
        self.hosts.values().map(|entry| &entry.record)
    }

    /// One host.
    pub fn host(&self, id: &HostId) -> Option<&Arc<Host>> {
        self.hosts.get(id).map(|entry| &entry.record)
    }

    /// The VM slots of a host.
    pub fn host_slots(&self, id: &HostId) -> &[Slot] {
        self.hosts.get(id).map_or(&[], |entry| &entry.slots)
    }

    /// Clusters, sorted by name.
    pub fn clusters(&self) -> impl Iterator<Item = &Arc<Cluster>> {
        self.clusters.values()
    }

    /// The VM table.
    pub fn vms(&self) -> &VmTable {
        &self.vms
    }

    /// Replaces the configured host list: new hosts start UNKNOWN, hosts no longer listed
    /// are dropped with their VMs.
    pub fn set_configured_hosts(&mut self, hosts: &[HostId]) -> Option<ChangeBatch> {
        let wanted: BTreeSet<&HostId> = hosts.iter().collect();
        let mut pending = self.pending();
        let gone: Vec<HostId> = self
            .hosts
            .keys()
            .filter(|id| !wanted.contains(id))
            .cloned()
            .collect();
        for id in gone {
            let Some(entry) = self.hosts.remove(&id) else {
                continue;
            };
            for slot in entry.slots {
                if let Some(vm) = self.vms.remove(slot) {
                    pending.changes.push(Change::VmDeleted {
                        id: vm.id,
                        host: vm.host.clone(),
                    });
                }
            }
            if let Some(cluster) = &entry.record.cluster {
                pending.clusters.insert(cluster.clone());
            }
            pending
                .changes
                .push(Change::HostDeleted(entry.record.id.clone()));
        }
        for id in wanted {
            if self.hosts.contains_key(id) {
                continue;
            }
            let mut record = Host::unknown(Arc::new(id.clone()));
            record.revision = pending.revision;
            let record = Arc::new(record);
            pending.changes.push(Change::HostUpserted(record.clone()));
            self.hosts.insert(
                id.clone(),
                HostEntry {
                    record,
                    slots: Vec::new(),
                    issued: 0,
                    applied: 0,
                },
            );
        }
        self.finish(pending)
    }

    /// Starts a refresh of `host`; None when it is not configured.
    pub fn begin_refresh(&mut self, host: &HostId) -> Option<Ticket> {
        let entry = self.hosts.get_mut(host)?;
        entry.issued += 1;
        Some(Ticket {
            host: entry.record.id.clone(),
            seq: entry.issued,
        })
    }

    /// Checks a ticket: the entry's current record, or why the result must be dropped.
    fn accept(&mut self, ticket: &Ticket) -> Result<Arc<Host>, Applied> {
        let Some(entry) = self.hosts.get_mut(&*ticket.host) else {
            return Err(Applied::Unconfigured);
        };
        if ticket.seq <= entry.applied {
            return Err(Applied::Superseded {
                host: entry.record.clone(),
            });
        }
        entry.applied = ticket.seq;
        Ok(entry.record.clone())
    }

    /// Applies a successful collection.
    pub fn apply_success(
        &mut self,
        ticket: &Ticket,
        report: HostReport,
        attempt: Attempt,
    ) -> Applied {
        let old = match self.accept(ticket) {
            Ok(old) => old,
            Err(dropped) => return dropped,
        };
        let mut pending = self.pending();
        let counts = self.apply_vms(&old, &report, &mut pending);
        let mut host = (*old).clone();
        host.cluster = report.cluster;
        host.status = HostStatus::Reachable;
        host.status_reason = Text::from("");
        host.last_seen = Some(attempt.at);
        host.last_refresh = Some(attempt.at);
        host.last_refresh_duration = Some(attempt.duration);
        host.slow = attempt.duration > self.settings.slow_threshold;
        host.facts = Some(report.facts);
        host.stale = false;
        self.stage_host(host, &mut pending);
        self.done(ticket, pending, counts)
    }

    /// Applies a failed refresh: the host becomes UNREACHABLE with `reason`; its VMs are
    /// kept and marked stale.
    pub fn apply_failure(&mut self, ticket: &Ticket, reason: &str, attempt: Attempt) -> Applied {
        let old = match self.accept(ticket) {
            Ok(old) => old,
            Err(dropped) => return dropped,
        };
        let mut pending = self.pending();
        let mut counts = VmCounts::default();
        let slots = self.host_slots(&old.id).to_vec();
        for slot in slots {
            let Some(vm) = self.vms.get(slot) else {
                continue;
            };
            if vm.stale {
                continue;
            }
            let mut stale = (**vm).clone();
            stale.stale = true;
            stale.revision = pending.revision;
            let stale = Arc::new(stale);
            self.vms.replace(slot, stale.clone());
            pending.changes.push(Change::VmUpserted(stale));
            counts.changed += 1;
        }
        let mut host = (*old).clone();
        host.status = HostStatus::Unreachable;
        host.status_reason = self.interner.intern(reason);
        host.last_refresh = Some(attempt.at);
        host.last_refresh_duration = Some(attempt.duration);
        host.slow = attempt.duration > self.settings.slow_threshold;
        host.stale = host.facts.is_some();
        self.stage_host(host, &mut pending);
        self.done(ticket, pending, counts)
    }

    fn done(&mut self, ticket: &Ticket, pending: Pending, counts: VmCounts) -> Applied {
        let batch = self.finish(pending);
        match self.host(&ticket.host) {
            Some(host) => Applied::Done {
                batch,
                counts,
                host: host.clone(),
            },
            None => Applied::Unconfigured,
        }
    }

    /// Upserts the reported VMs of a host and removes the ones it no longer reports.
    fn apply_vms(
        &mut self,
        host: &Arc<Host>,
        report: &HostReport,
        pending: &mut Pending,
    ) -> VmCounts {
        let mut counts = VmCounts::default();
        let mut kept: HashSet<Slot> = HashSet::with_capacity(report.vms.len());
        let tolerance = self.settings.start_tolerance;
        for (id, data) in &report.vms {
            let existing = self
                .vms
                .slot_of(id)
                .and_then(|slot| Some((slot, self.vms.get(slot)?.clone())));
            match existing {
                Some((slot, old)) if *old.host == *host.id => {
                    kept.insert(slot);
                    let mut data = data.clone();
                    snap_start(&old.data, &mut data, tolerance);
                    let unchanged = old.data == data && old.cluster == report.cluster && !old.stale;
                    let mut vm = Vm {
                        id: *id,
                        host: host.id.clone(),
                        cluster: report.cluster.clone(),
                        data,
                        stale: false,
                        observed_at: report.received_at,
                        revision: old.revision,
                    };
                    if !unchanged {
                        vm.revision = pending.revision;
                        counts.changed += 1;
                    }
                    let vm = Arc::new(vm);
                    self.vms.replace(slot, vm.clone());
                    if !unchanged {
                        pending.changes.push(Change::VmUpserted(vm));
                    }
                }
                Some((_, old)) if old.observed_at > report.received_at => {
                    // Another host reported this VM more recently (it migrated there after
                    // this data was collected): theirs wins.
                }
                Some((slot, old)) => {
                    // The VM moved here from another host.
                    if let Some(entry) = self.hosts.get_mut(&*old.host) {
                        entry.slots.retain(|s| *s != slot);
                        pending.hosts.insert((*old.host).clone());
                    }
                    kept.insert(slot);
                    let vm = Arc::new(Vm {
                        id: *id,
                        host: host.id.clone(),
                        cluster: report.cluster.clone(),
                        data: data.clone(),
                        stale: false,
                        observed_at: report.received_at,
                        revision: pending.revision,
                    });
                    self.vms.replace(slot, vm.clone());
                    if let Some(entry) = self.hosts.get_mut(&*host.id) {
                        entry.slots.push(slot);
                    }
                    pending.changes.push(Change::VmUpserted(vm));
                    counts.added += 1;
                }
                None => {
                    let vm = Arc::new(Vm {
                        id: *id,
                        host: host.id.clone(),
                        cluster: report.cluster.clone(),
                        data: data.clone(),
                        stale: false,
                        observed_at: report.received_at,
                        revision: pending.revision,
                    });
                    let slot = self.vms.insert(vm.clone());
                    kept.insert(slot);
                    if let Some(entry) = self.hosts.get_mut(&*host.id) {
                        entry.slots.push(slot);
                    }
                    pending.changes.push(Change::VmUpserted(vm));
                    counts.added += 1;
                }
            }
        }
        let gone: Vec<Slot> = self
            .host_slots(&host.id)
            .iter()
            .copied()
            .filter(|slot| !kept.contains(slot))
            .collect();
        if let Some(entry) = self.hosts.get_mut(&*host.id) {
            entry.slots.retain(|slot| kept.contains(slot));
        }
        for slot in gone {
            if let Some(vm) = self.vms.remove(slot) {
                pending.changes.push(Change::VmDeleted {
                    id: vm.id,
                    host: vm.host.clone(),
                });
                counts.removed += 1;
            }
        }
        counts
    }

    pub(super) fn pending(&self) -> Pending {
        Pending {
            revision: self.revision + 1,
            changes: Vec::new(),
            hosts: BTreeSet::new(),
            clusters: BTreeSet::new(),
            staged: BTreeMap::new(),
        }
    }

    /// Records a new version of a host; derived figures and the diff happen in `finish`.
    fn stage_host(&mut self, host: Host, pending: &mut Pending) {
        let id = (*host.id).clone();
        pending.hosts.insert(id.clone());
        pending.staged.insert(id, host);
    }

    /// Recomputes the derived figures of the touched hosts and clusters, diffs them, and
    /// commits the revision when anything changed.
    fn finish(&mut self, mut pending: Pending) -> Option<ChangeBatch> {
        let touched: Vec<HostId> = std::mem::take(&mut pending.hosts).into_iter().collect();
        for id in touched {
            self.commit_host(&id, &mut pending);
        }
        let clusters: Vec<ClusterName> =
            std::mem::take(&mut pending.clusters).into_iter().collect();
        for name in clusters {
            self.commit_cluster(&name, &mut pending);
        }
        if pending.changes.is_empty() {
            return None;
        }
        self.revision = pending.revision;
        Some(ChangeBatch {
            revision: pending.revision,
            changes: pending.changes,
        })
    }

    fn commit_host(&mut self, id: &HostId, pending: &mut Pending) {
        let Some(entry) = self.hosts.get(id) else {
            return;
        };
        let mut host = pending
            .staged
            .remove(id)
            .unwrap_or_else(|| (*entry.record).clone());
        let mut capacity = Capacity::default();
        if let Some(facts) = &host.facts {
            capacity.cpu_cores = facts.cpu_cores;
            capacity.memory_total_bytes = facts.memory_total_bytes;
            capacity.memory_available_bytes = facts.memory_available_bytes;
        }
        for slot in &entry.slots {
            if let Some(vm) = self.vms.get(*slot) {
                capacity.add_vm(&vm.data);
            }
        }
        host.capacity = capacity;
        host.vm_count = entry.slots.len() as u32;
        host.revision = entry.record.revision;
        if *entry.record == host {
            return;
        }
        host.revision = pending.revision;
        if let Some(cluster) = &entry.record.cluster {
            pending.clusters.insert(cluster.clone());
        }
        if let Some(cluster) = &host.cluster {
            pending.clusters.insert(cluster.clone());
        }
        let host = Arc::new(host);
        pending.changes.push(Change::HostUpserted(host.clone()));
        if let Some(entry) = self.hosts.get_mut(id) {
            entry.record = host;
        }
    }

    fn commit_cluster(&mut self, name: &ClusterName, pending: &mut Pending) {
        let mut members = Vec::new();
        let mut reachable_hosts = 0;
        let mut vm_count: u32 = 0;
        let mut capacity = Capacity::default();
        for entry in self.hosts.values() {
            let host = &entry.record;
            if host.cluster.as_ref() != Some(name) {
                continue;
            }
            members.push(host.id.clone());
            if host.status == HostStatus::Reachable {
                reachable_hosts += 1;
            }
            vm_count = vm_count.saturating_add(host.vm_count);
            capacity.add(&host.capacity);
        }
        let old = self.clusters.get(name).cloned();
        if members.is_empty() {
            if old.is_some() {
                self.clusters.remove(name);
                pending.changes.push(Change::ClusterDeleted(name.clone()));
            }
            return;
        }
        let mut cluster = Cluster {
            name: name.clone(),
            hosts: members,
            reachable_hosts,
            vm_count,
            capacity,
            revision: old.as_ref().map_or(0, |c| c.revision),
        };
        if old.as_deref() == Some(&cluster) {
            return;
        }
        cluster.revision = pending.revision;
        let cluster = Arc::new(cluster);
        self.clusters.insert(name.clone(), cluster.clone());
        pending.changes.push(Change::ClusterUpserted(cluster));
    }
}

/// Keeps the old start time when the new one is the same start seen a moment later.
fn snap_start(old: &VmData, new: &mut VmData, tolerance: Duration) {
    if let (Some(before), Some(now)) = (old.started_at, new.started_at) {
        let apart = (now - before).unsigned_abs();
        if apart <= tolerance {
            new.started_at = Some(before);
        }
    }
}
