//! The shared, lockable home of the model: the [`Fleet`], its change [`History`], the
//! cached sort orders, and the broadcast of new batches to Watch streams.
//!
//! A mutation applies, appends to the history and broadcasts under one write lock, and a
//! subscription reads the history (or takes a snapshot) and subscribes under the read
//! lock, so a watcher sees every revision exactly once: the ones up to its start from the
//! replay or snapshot, the later ones from the broadcast.

use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use aetherv_hyperv::HostId;
use aetherv_hyperv::ops::inventory::InventoryCollectResult;
use tokio::sync::broadcast;

use super::changes::ChangeBatch;
use super::convert::convert;
use super::fleet::{Applied, Attempt, Fleet, FleetSettings, Ticket};
use super::history::{History, ResyncReason, Start};
use super::model::{Cluster, Host, Vm};
use super::query::{OrderCache, VmPage, VmQuery, list_vms};

/// Sizes of the change log and of each watcher's backlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSettings {
    /// Model tunables.
    pub fleet: FleetSettings,
    /// Changes kept for replay.
    pub history: usize,
    /// Batches a watcher may fall behind before it is resynced.
    pub watch_buffer: usize,
}

/// Every record at one revision.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The revision.
    pub revision: u64,
    /// Clusters, by name.
    pub clusters: Vec<Arc<Cluster>>,
    /// Hosts, by id.
    pub hosts: Vec<Arc<Host>>,
    /// VMs, in table order.
    pub vms: Vec<Arc<Vm>>,
}

/// How a watcher begins.
#[derive(Debug)]
pub enum Beginning {
    /// Replay these batches (possibly none), then live.
    Replay(Vec<Arc<ChangeBatch>>),
    /// Resync: send this snapshot, then live.
    Resync {
        /// Why.
        reason: ResyncReason,
        /// Oldest revision the log can resume from.
        oldest_revision: u64,
        /// The records.
        snapshot: Snapshot,
    },
}

/// A watcher's start and its live feed.
#[derive(Debug)]
pub struct Subscription {
    /// The start.
    pub beginning: Beginning,
    /// The model's revision when subscribed.
    pub revision: u64,
    /// Batches after `revision`.
    pub live: broadcast::Receiver<Arc<ChangeBatch>>,
}

/// What applying a refresh result did, and why the refresh failed if it did.
#[derive(Debug, Clone)]
pub struct RefreshApplied {
    /// The model's answer.
    pub applied: Applied,
    /// The failure reason when the refresh failed (including unusable data).
    pub error: Option<String>,
    /// The model's revision afterwards.
    pub revision: u64,
}

struct State {
    fleet: Fleet,
    history: History,
}

/// The store; share it in an `Arc`.
pub struct Store {
    state: RwLock<State>,
    orders: OrderCache,
    live: broadcast::Sender<Arc<ChangeBatch>>,
}

impl Store {
    /// An empty store at `start_revision`.
    pub fn new(settings: StoreSettings, start_revision: u64) -> Store {
        let (live, _) = broadcast::channel(settings.watch_buffer.max(1));
        Store {
            state: RwLock::new(State {
                fleet: Fleet::new(settings.fleet, start_revision),
                history: History::new(settings.history, start_revision),
            }),
            orders: OrderCache::default(),
            live,
        }
    }

    fn read_state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the model under the read lock.
    pub fn read<R>(&self, f: impl FnOnce(&Fleet) -> R) -> R {
        f(&self.read_state().fleet)
    }

    /// The current revision.
    pub fn revision(&self) -> u64 {
        self.read(Fleet::revision)
    }

    /// Runs a VM query.
    pub fn list_vms(&self, query: &VmQuery) -> VmPage {
        let state = self.read_state();
        list_vms(&state.fleet, &self.orders, query)
    }

    fn publish(&self, state: &mut State, batch: Option<ChangeBatch>) -> Option<Arc<ChangeBatch>> {
        let batch = Arc::new(batch?);
        state.history.push(batch.clone());
        // No receiver is not an error: nobody is watching.
        let _ = self.live.send(batch.clone());
        Some(batch)
    }

    /// Replaces the configured host list.
    pub fn set_configured_hosts(&self, hosts: &[HostId]) -> Option<Arc<ChangeBatch>> {
        let mut state = self.write_state();
        let batch = state.fleet.set_configured_hosts(hosts);
        self.publish(&mut state, batch)
    }

    /// Starts a refresh of a configured host.
    pub fn begin_refresh(&self, host: &HostId) -> Option<Ticket> {
        self.write_state().fleet.begin_refresh(host)
    }

    /// Applies the outcome of a refresh: the collected data, or the failure reason. Data
    /// the model cannot accept fails the refresh with the conversion error as reason.
    pub fn apply(
        &self,
        ticket: &Ticket,
        outcome: Result<&InventoryCollectResult, &str>,
        attempt: Attempt,
    ) -> RefreshApplied {
        let mut guard = self.write_state();
        let state = &mut *guard;
        let converted = match outcome {
            Ok(result) => convert(result, attempt.at, &mut state.fleet.interner).map_err(|error| {
                tracing::warn!(host = %ticket.host, %error, "inventory data refused");
                error.to_string()
            }),
            Err(reason) => Err(reason.to_string()),
        };
        let (applied, error) = match converted {
            Ok(report) => (state.fleet.apply_success(ticket, report, attempt), None),
            Err(reason) => (
                state.fleet.apply_failure(ticket, &reason, attempt),
                Some(reason),
            ),
        };
        if let Applied::Done { batch, .. } = &applied {
            self.publish(state, batch.clone());
        }
        RefreshApplied {
            applied,
            error,
            revision: state.fleet.revision(),
        }
    }

    fn snapshot_of(fleet: &Fleet) -> Snapshot {
        Snapshot {
            revision: fleet.revision(),
            clusters: fleet.clusters().cloned().collect(),
            hosts: fleet.hosts().cloned().collect(),
            vms: fleet.vms().iter().map(|(_, vm)| vm.clone()).collect(),
        }
    }

    /// Starts watching after `from_revision`.
    pub fn subscribe(&self, from_revision: u64) -> Subscription {
        let state = self.read_state();
        let revision = state.fleet.revision();
        let beginning = match state.history.since(from_revision, revision) {
            Start::Replay(batches) => Beginning::Replay(batches),
            Start::Resync(reason) => Beginning::Resync {
                reason,
                oldest_revision: state.history.floor(),
                snapshot: Store::snapshot_of(&state.fleet),
            },
        };
        Subscription {
            beginning,
            revision,
            live: self.live.subscribe(),
        }
    }

    /// A fresh snapshot and live feed for a watcher that fell behind.
    pub fn resubscribe(&self) -> Subscription {
        let state = self.read_state();
        Subscription {
            beginning: Beginning::Resync {
                reason: ResyncReason::FellBehind,
                oldest_revision: state.history.floor(),
                snapshot: Store::snapshot_of(&state.fleet),
            },
            revision: state.fleet.revision(),
            live: self.live.subscribe(),
        }
    }
}
