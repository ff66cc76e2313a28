//! [`SimHost`]: a handle to one simulated host — its model, its knobs, its endpoints and
//! its operation log — with the in-process API tests use (`host.set_latency(…)`,
//! `host.vm(id)`, `host.operations()`, out-of-band changes).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aetherv_hyperv::EventLine;
use aetherv_hyperv::ops::inventory::InventoryCollectResult;
use aetherv_hyperv::{Operation, ResourceCatalogue, Timestamp, Vm, VmId, VmState};
use tokio::sync::{broadcast, watch};

use crate::changes::{CHANGE_BUFFER, Fingerprint};
use crate::clock::{SimClock, SimInstant};
use crate::error::Error;
use crate::knobs::{FailNext, Knobs, KnobsPatch, KnobsView, Malformed, Responsiveness};
use crate::model::HostModel;
use crate::model::state::VhdFile;
use crate::model::vm_ops::{self, NewVm, VmChange};
use crate::oplog::{OpLog, OperationRecord};
use crate::validate;

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Endpoints {
    pub http: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
}

#[derive(Debug)]
struct HostState {
    index: u32,
    name: String,
    computer_name: String,
    cluster: Option<String>,
    address: Ipv4Addr,
    model: Mutex<HostModel>,
    knobs: Mutex<Knobs>,
    responsiveness: watch::Sender<Responsiveness>,
    log: Mutex<OpLog>,
    clock: Arc<SimClock>,
    endpoints: Mutex<Endpoints>,
    changes: broadcast::Sender<EventLine>,
}

/// One simulated host. Cheap to clone; clones share everything.
#[derive(Debug, Clone)]
pub struct SimHost {
    inner: Arc<HostState>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SimHost {
    pub(crate) fn new(model: HostModel, address: Ipv4Addr, clock: Arc<SimClock>) -> SimHost {
        let facts = model.facts().clone();
        SimHost {
            inner: Arc::new(HostState {
                index: facts.index,
                name: facts.fqdn,
                computer_name: facts.computer_name,
                cluster: facts.cluster_name,
                address,
                model: Mutex::new(model),
                knobs: Mutex::new(Knobs::default()),
                responsiveness: watch::Sender::new(Responsiveness::Normal),
                log: Mutex::new(OpLog::default()),
                clock,
                endpoints: Mutex::new(Endpoints::default()),
                changes: broadcast::Sender::new(CHANGE_BUFFER),
            }),
        }
    }

    /// The host's name: its FQDN, lower case (`hv-ams-c1-n01.corp.example`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Its NetBIOS name (`HV-AMS-C1-N01`).
    pub fn computer_name(&self) -> &str {
        &self.inner.computer_name
    }

    /// Its failover cluster; None when standalone.
    pub fn cluster(&self) -> Option<&str> {
        self.inner.cluster.as_deref()
    }

    /// Its position in the fleet.
    pub fn index(&self) -> u32 {
        self.inner.index
    }

    /// Its loopback address.
    pub fn address(&self) -> Ipv4Addr {
        self.inner.address
    }

    /// Whether `name` names this host (FQDN or computer name, any case).
    pub fn is_named(&self, name: &str) -> bool {
        self.inner.name.eq_ignore_ascii_case(name)
            || self.inner.computer_name.eq_ignore_ascii_case(name)
    }

    pub(crate) fn set_endpoints(&self, endpoints: Endpoints) {
        *lock(&self.inner.endpoints) = endpoints;
    }

    /// The HTTP listener's address, once bound.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        lock(&self.inner.endpoints).http
    }

    /// The HTTPS listener's address, once bound (only with HTTPS on).
    pub fn https_addr(&self) -> Option<SocketAddr> {
        lock(&self.inner.endpoints).https
    }

    /// `http://<address>:<port>/wsman`.
    pub fn http_endpoint(&self) -> Option<String> {
        self.http_addr().map(|a| format!("http://{a}/wsman"))
    }

    /// `https://<address>:<port>/wsman`.
    pub fn https_endpoint(&self) -> Option<String> {
        self.https_addr().map(|a| format!("https://{a}/wsman"))
    }

    pub(crate) fn clock(&self) -> &SimClock {
        &self.inner.clock
    }

    /// Simulated time now.
    pub fn now(&self) -> SimInstant {
        self.inner.clock.now()
    }

    /// Runs `f` on the model at the current simulated time. While someone watches the
    /// host ([`SimHost::subscribe_changes`]), what `f` changed is broadcast as event lines.
    pub(crate) fn with_model<R>(&self, f: impl FnOnce(&mut HostModel, SimInstant) -> R) -> R {
        let now = self.inner.clock.now();
        let mut model = lock(&self.inner.model);
        if self.inner.changes.receiver_count() == 0 {
            return f(&mut model, now);
        }
        let before = Fingerprint::of(&model);
        let result = f(&mut model, now);
        let changes = before.changes_to(&Fingerprint::of(&model));
        drop(model);
        for change in changes {
            // No receiver left: nobody to tell.
            let _ = self.inner.changes.send(change);
        }
        result
    }

    /// Every change of the host's VMs from now on, as `inventory.watch` event lines, as
    /// they happen (a receiver that falls behind by more than
    /// [`CHANGE_BUFFER`] changes gets `Lagged`).
    pub fn subscribe_changes(&self) -> broadcast::Receiver<EventLine> {
        self.inner.changes.subscribe()
    }

    /// How many watchers are subscribed to the host's changes (running `inventory.watch`
    /// operations and other subscribers).
    pub fn watchers(&self) -> usize {
        self.inner.changes.receiver_count()
    }

    /// When the next power transition under way on the host ends, if any.
    pub(crate) fn next_transition(&self) -> Option<SimInstant> {
        lock(&self.inner.model).next_transition()
    }

    /// Applies the power transitions that have ended (watchers see them at once).
    pub(crate) fn settle(&self) {
        self.with_model(|m, now| m.settle(now));
    }

    pub(crate) fn log(&self) -> MutexGuard<'_, OpLog> {
        lock(&self.inner.log)
    }

    pub(crate) fn knobs_mut(&self) -> MutexGuard<'_, Knobs> {
        lock(&self.inner.knobs)
    }

    pub(crate) fn watch_responsiveness(&self) -> watch::Receiver<Responsiveness> {
        self.inner.responsiveness.subscribe()
    }

    // --- knobs ---

    /// Adds `latency` (real time) to every operation.
    pub fn set_latency(&self, latency: Duration) {
        self.knobs_mut().latency = latency;
    }

    /// Adds `latency` to one operation, on top of the host's latency (zero removes it).
    pub fn set_operation_latency(&self, operation: Operation, latency: Duration) {
        let mut k = self.knobs_mut();
        if latency.is_zero() {
            k.operation_latency.remove(&operation);
        } else {
            k.operation_latency.insert(operation, latency);
        }
    }

    /// Answer, hang, or refuse connections.
    pub fn set_responsiveness(&self, r: Responsiveness) {
        self.inner.responsiveness.send_replace(r);
    }

    /// The current responsiveness.
    pub fn responsiveness(&self) -> Responsiveness {
        *self.inner.responsiveness.borrow()
    }

    /// Fails the next `f.count` operations (of `f.operation`) with `f.code`.
    pub fn fail_next(&self, f: FailNext) -> Result<(), Error> {
        let patch = KnobsPatch {
            fail_next: Some(vec![f]),
            ..KnobsPatch::default()
        };
        self.apply(&patch)
    }

    /// Breaks the output of the next operations (None: stop).
    pub fn set_malformed(&self, m: Option<Malformed>) -> Result<(), Error> {
        let patch = KnobsPatch {
            malformed: Some(m),
            ..KnobsPatch::default()
        };
        self.apply(&patch)
    }

    /// Back to normal: no latency, no failures, well-formed output, answering.
    pub fn clear_faults(&self) {
        *self.knobs_mut() = Knobs::default();
        self.set_responsiveness(Responsiveness::Normal);
    }

    /// The knobs as they are.
    pub fn knobs(&self) -> KnobsView {
        KnobsView::new(&self.knobs_mut(), self.responsiveness())
    }

    /// Applies a patch (validated first; nothing changes when it is invalid).
    pub fn apply(&self, patch: &KnobsPatch) -> Result<(), Error> {
        patch.validate()?;
        let mut ignores = Vec::new();
        for (vm, on) in patch.guest_ignores_shutdown.iter().flatten() {
            let id = self.resolve_vm(vm).ok_or_else(|| {
                Error::invalid(
                    format!("guest_ignores_shutdown.{vm}"),
                    "no such vm on this host",
                )
            })?;
            ignores.push((id, *on));
        }
        {
            let mut k = self.knobs_mut();
            if let Some(ms) = patch.latency_ms {
                k.latency = Duration::from_millis(ms);
            }
            if let Some(map) = &patch.operation_latency_ms {
                k.operation_latency = map
                    .iter()
                    .filter(|(_, ms)| **ms > 0)
                    .map(|(o, ms)| (*o, Duration::from_millis(*ms)))
                    .collect();
            }
            if let Some(f) = &patch.fail_next {
                k.fail_next.extend(f.iter().cloned());
            }
            if let Some(m) = &patch.malformed {
                k.malformed = m.clone();
            }
        }
        if let Some(r) = patch.responsiveness {
            self.set_responsiveness(r);
        }
        for (id, on) in ignores {
            self.set_guest_ignores_shutdown(id, on)?;
        }
        Ok(())
    }

    // --- VMs ---

    /// A VM id from an id or a name.
    pub fn resolve_vm(&self, id_or_name: &str) -> Option<VmId> {
        self.with_model(|m, _| {
            VmId::parse(id_or_name)
                .ok()
                .filter(|id| m.vm(*id).is_some())
                .or_else(|| m.vm_by_name(id_or_name).map(|v| v.id))
        })
    }

    fn unknown_vm(&self, vm: impl ToString) -> Error {
        Error::UnknownVm {
            host: self.inner.name.clone(),
            vm: vm.to_string(),
        }
    }

    /// Makes the VM's guest ignore (or honour) shutdown requests.
    pub fn set_guest_ignores_shutdown(&self, vm: VmId, on: bool) -> Result<(), Error> {
        self.change_vm(
            vm,
            &VmChange {
                guest_ignores_shutdown: Some(on),
                ..VmChange::default()
            },
        )
        .map(|_| ())
    }

    /// The VM's true state in the model.
    pub fn vm(&self, id: VmId) -> Option<Vm> {
        self.with_model(|m, now| m.vm_snapshot(now, id))
    }

    /// The VM of that name.
    pub fn vm_by_name(&self, name: &str) -> Option<Vm> {
        self.with_model(|m, now| {
            let id = m.vm_by_name(name)?.id;
            m.vm_snapshot(now, id)
        })
    }

    /// Every VM, sorted by name.
    pub fn vms(&self) -> Vec<Vm> {
        self.with_model(|m, now| m.vm_snapshots(now))
    }

    /// What `inventory.collect` would answer now.
    pub fn inventory(&self) -> InventoryCollectResult {
        self.with_model(|m, now| m.inventory(now, Timestamp::now(), None))
    }

    /// What `host.resources` would answer now.
    pub fn resources(&self) -> ResourceCatalogue {
        self.with_model(|m, now| {
            m.settle(now);
            m.resources()
        })
    }

    /// A file on the host's volumes (disk files, images).
    pub fn file(&self, path: &str) -> Option<VhdFile> {
        self.with_model(|m, _| {
            m.files()
                .find(|f| f.path.eq_ignore_ascii_case(path))
                .cloned()
        })
    }

    /// Whether the guest of a VM ignores shutdown requests.
    pub fn guest_ignores_shutdown(&self, vm: VmId) -> Option<bool> {
        self.with_model(|m, _| m.vm(vm).map(|v| v.guest_ignores_shutdown))
    }

    /// Changes a VM out of band, as someone in Hyper-V Manager would (values validated).
    pub fn change_vm(&self, id: VmId, change: &VmChange) -> Result<Vm, Error> {
        let host = self.inner.name.clone();
        self.with_model(|m, now| {
            let vm = m.vm(id).ok_or_else(|| self.unknown_vm(id))?;
            validate::vm_change(change, vm.memory.startup_bytes, vm.memory.dynamic)?;
            vm_ops::change(m, now, id, change).map_err(|e| Error::Conflict {
                host,
                reason: e.message,
            })?;
            m.vm_snapshot(now, id).ok_or_else(|| self.unknown_vm(id))
        })
    }

    /// Forces a VM's state out of band.
    pub fn set_vm_state(&self, id: VmId, state: VmState) -> Result<Vm, Error> {
        self.change_vm(
            id,
            &VmChange {
                state: Some(state),
                ..VmChange::default()
            },
        )
    }

    /// Adds a VM out of band.
    pub fn add_vm(&self, new: &NewVm) -> Result<Vm, Error> {
        validate::new_vm(new)?;
        let host = self.inner.name.clone();
        self.with_model(|m, now| {
            let id = vm_ops::add(m, now, Timestamp::now(), new).map_err(|e| Error::Conflict {
                host,
                reason: e.message,
            })?;
            m.vm_snapshot(now, id).ok_or_else(|| self.unknown_vm(id))
        })
    }

    /// Removes a VM out of band (its disk files stay).
    pub fn remove_vm(&self, id: VmId) -> Result<(), Error> {
        self.with_model(|m, _| vm_ops::remove(m, id).map(|_| ()))
            .map_err(|_| self.unknown_vm(id))
    }

    // --- operation log ---

    /// Every command the host received (the last 10,000), oldest first.
    pub fn operations(&self) -> Vec<OperationRecord> {
        self.log().since(0)
    }

    /// Commands after sequence number `seq`.
    pub fn operations_since(&self, seq: u64) -> Vec<OperationRecord> {
        self.log().since(seq)
    }

    /// Commands running now.
    pub fn running_operations(&self) -> usize {
        self.log().running()
    }

    /// The most commands that ran at the same time.
    pub fn peak_concurrent_operations(&self) -> usize {
        self.log().peak()
    }

    /// Forgets the log.
    pub fn clear_operations(&self) {
        self.log().clear();
    }
}
