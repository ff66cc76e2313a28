//! Admission and slot accounting: which queued task may start now.
//!
//! A task needs four slots at once: a global one, one of its host, one of its category,
//! and one of its category on its host (io: 1 per host). Watch tasks (`inventory.watch`,
//! running for minutes on every host) take only the last two: they are outside the global
//! and per-host limits, which count the other categories only. All four are taken together under
//! one lock or not at all, so no task ever holds some slots while waiting for others: no
//! deadlock is possible. Slots come back when the [`SlotGuard`] is dropped.
//!
//! Every change (a task queued, a slot released, a task withdrawn) re-runs the dispatch:
//! the waiting tasks are visited in arrival order and each one whose four slots are free
//! starts. A task that cannot start does not hold back tasks of *other* hosts or *other*
//! categories (a busy host never stalls the rest of the fleet), and tasks of one host and
//! category start in arrival order. One refinement keeps this free of starvation: a task
//! that has been held back both by its host being full and (at another time) by its
//! category being full — so it could otherwise lose to newcomers of each forever — becomes
//! *urgent*: later tasks may then take neither its host's nor its category's slots until it
//! has started.
//!
//! Queues are bounded: per category (`queue_capacity`) and per host
//! (`per_host_queue_capacity`); a full queue refuses at once ([`Rejection`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use aetherv_hyperv::HostId;
use tokio::sync::oneshot;

use super::category::{Category, PerCategory};
use super::limits::Limits;

/// Why a task was refused at admission.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The category's queue holds `capacity` waiting tasks already.
    #[error("the {category} queue is full ({capacity} tasks waiting)")]
    CategoryQueueFull {
        /// The category.
        category: Category,
        /// Its queue capacity.
        capacity: u32,
    },
    /// The host has `capacity` waiting tasks already.
    #[error("the queue of host {host} is full ({capacity} tasks waiting)")]
    HostQueueFull {
        /// The host.
        host: HostId,
        /// The per-host queue capacity.
        capacity: u32,
    },
}

/// Running and waiting counts of one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostLoad {
    /// Running, all categories but watch.
    pub running: u32,
    /// Waiting, all categories.
    pub waiting: u32,
    /// Running per category.
    pub running_by_category: PerCategory<u32>,
}

/// Running and waiting counts of one category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CategoryLoad {
    /// Running.
    pub running: u32,
    /// Waiting.
    pub waiting: u32,
}

/// A snapshot of the load, for Metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Load {
    /// Running across everything.
    pub running: u32,
    /// Per category.
    pub categories: PerCategory<CategoryLoad>,
    /// Per host, sorted by host.
    pub hosts: BTreeMap<HostId, HostLoad>,
}

struct Waiter {
    host: HostId,
    category: Category,
    grant: oneshot::Sender<SlotGuard>,
    seen_host_full: bool,
    seen_category_full: bool,
}

impl Waiter {
    fn urgent(&self) -> bool {
        self.seen_host_full && self.seen_category_full
    }
}

struct State {
    limits: Limits,
    next_seq: u64,
    waiting: BTreeMap<u64, Waiter>,
    running: u32,
    categories: PerCategory<CategoryLoad>,
    hosts: HashMap<HostId, HostLoad>,
}

/// The admission controller. Cheap to share (`Arc`).
pub struct Scheduler {
    state: Mutex<State>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler").finish_non_exhaustive()
    }
}

/// A queued task's place: resolves to its slots once it may start.
#[derive(Debug)]
pub struct Ticket {
    seq: u64,
    /// Tasks of the same category that were waiting when this one was queued.
    pub position: u32,
    granted: oneshot::Receiver<SlotGuard>,
    scheduler: Arc<Scheduler>,
}

/// The four slots of a running task; dropping it gives them back.
pub struct SlotGuard {
    host: HostId,
    category: Category,
    scheduler: Arc<Scheduler>,
}

impl std::fmt::Debug for SlotGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotGuard")
            .field("host", &self.host)
            .field("category", &self.category)
            .finish()
    }
}

impl Scheduler {
    /// A scheduler with these limits and these hosts (listed in the load even when idle).
    pub fn new(limits: Limits, hosts: impl IntoIterator<Item = HostId>) -> Arc<Scheduler> {
        Arc::new(Scheduler {
            state: Mutex::new(State {
                limits,
                next_seq: 0,
                waiting: BTreeMap::new(),
                running: 0,
                categories: PerCategory::default(),
                hosts: hosts
                    .into_iter()
                    .map(|host| (host, HostLoad::default()))
                    .collect(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the counts consistent before it can panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a task for `host` in `category`, or refuses it when a queue is full. The
    /// ticket resolves at once when its slots are free.
    pub fn submit(
        self: &Arc<Self>,
        host: &HostId,
        category: Category,
    ) -> Result<Ticket, Rejection> {
        let (grant, granted) = oneshot::channel();
        let (seq, position, grants) = {
            let mut state = self.lock();
            let capacity = state.limits.category(category).queue_capacity;
            let position = state.categories.get(category).waiting;
            if position >= capacity {
                return Err(Rejection::CategoryQueueFull { category, capacity });
            }
            let host_capacity = state.limits.per_host_queue_capacity;
            let load = state.hosts.entry(host.clone()).or_default();
            if load.waiting >= host_capacity {
                return Err(Rejection::HostQueueFull {
                    host: host.clone(),
                    capacity: host_capacity,
                });
            }
            load.waiting += 1;
            state.categories.get_mut(category).waiting += 1;
            let seq = state.next_seq;
            state.next_seq += 1;
            state.waiting.insert(
                seq,
                Waiter {
                    host: host.clone(),
                    category,
                    grant,
                    seen_host_full: false,
                    seen_category_full: false,
                },
            );
            (seq, position, self.dispatch(&mut state))
        };
        deliver(grants);
        Ok(Ticket {
            seq,
            position,
            granted,
            scheduler: self.clone(),
        })
    }

    /// The current load.
    pub fn load(&self) -> Load {
        let state = self.lock();
        Load {
            running: state.running,
            categories: state.categories,
            hosts: state
                .hosts
                .iter()
                .map(|(host, load)| (host.clone(), load.clone()))
                .collect(),
        }
    }

    /// Starts every waiting task that may start; returns their grants, to be delivered
    /// once the lock is released (a grant whose receiver is gone is dropped there, which
    /// releases its slots and dispatches again).
    fn dispatch(
        self: &Arc<Self>,
        state: &mut State,
    ) -> Vec<(oneshot::Sender<SlotGuard>, SlotGuard)> {
        let limits = state.limits;
        let mut reserved_hosts: HashSet<HostId> = HashSet::new();
        let mut reserved_categories = PerCategory([false; 5]);
        let mut starting = Vec::new();
        let watches_waiting = state.categories.get(Category::Watch).waiting > 0;
        for (seq, waiter) in state.waiting.iter_mut() {
            let category = waiter.category;
            let shares = category.shares_host_limits();
            if shares && state.running >= limits.global_in_flight {
                if watches_waiting {
                    continue;
                }
                break;
            }
            let category_limit = limits.category(category);
            // Every waiter's host has an entry (submit creates it).
            let Some(host_load) = state.hosts.get_mut(&waiter.host) else {
                continue;
            };
            if *host_load.running_by_category.get(category) >= category_limit.per_host_in_flight {
                // Behind a task of the same host and category: they go in arrival order.
                continue;
            }
            let host_full = shares && host_load.running >= limits.per_host_in_flight;
            let category_load = state.categories.get_mut(category);
            let category_full = category_load.running >= category_limit.in_flight;
            let reserved = (shares && reserved_hosts.contains(&waiter.host))
                || *reserved_categories.get(category);
            if host_full || category_full || reserved {
                waiter.seen_host_full |= host_full;
                waiter.seen_category_full |= category_full;
                if waiter.urgent() {
                    reserved_hosts.insert(waiter.host.clone());
                    *reserved_categories.get_mut(category) = true;
                }
                continue;
            }
            category_load.waiting -= 1;
            category_load.running += 1;
            host_load.waiting -= 1;
            if shares {
                state.running += 1;
                host_load.running += 1;
            }
            *host_load.running_by_category.get_mut(category) += 1;
            starting.push(*seq);
        }
        let mut grants = Vec::with_capacity(starting.len());
        for seq in starting {
            if let Some(waiter) = state.waiting.remove(&seq) {
                let guard = SlotGuard {
                    host: waiter.host,
                    category: waiter.category,
                    scheduler: self.clone(),
                };
                grants.push((waiter.grant, guard));
            }
        }
        grants
    }

    fn release(self: &Arc<Self>, host: &HostId, category: Category) {
        let grants = {
            let mut state = self.lock();
            let shares = category.shares_host_limits();
            if shares {
                state.running = state.running.saturating_sub(1);
            }
            let category_load = state.categories.get_mut(category);
            category_load.running = category_load.running.saturating_sub(1);
            if let Some(load) = state.hosts.get_mut(host) {
                if shares {
                    load.running = load.running.saturating_sub(1);
                }
                let by_category = load.running_by_category.get_mut(category);
                *by_category = by_category.saturating_sub(1);
            }
            self.dispatch(&mut state)
        };
        deliver(grants);
    }

    /// Removes a waiting task; false when it had been granted its slots already.
    fn withdraw(self: &Arc<Self>, seq: u64) -> bool {
        let grants = {
            let mut state = self.lock();
            let Some(waiter) = state.waiting.remove(&seq) else {
                return false;
            };
            let category_load = state.categories.get_mut(waiter.category);
            category_load.waiting = category_load.waiting.saturating_sub(1);
            if let Some(load) = state.hosts.get_mut(&waiter.host) {
                load.waiting = load.waiting.saturating_sub(1);
            }
            // Its reservations are gone: others may start now.
            self.dispatch(&mut state)
        };
        deliver(grants);
        true
    }
}

fn deliver(grants: Vec<(oneshot::Sender<SlotGuard>, SlotGuard)>) {
    for (sender, guard) in grants {
        // A receiver that is gone hands the guard back; dropping it releases the slots.
        drop(sender.send(guard));
    }
}

impl Ticket {
    /// Waits for the slots. Cancel-safe: dropping the future keeps the ticket queued.
    pub async fn granted(&mut self) -> Option<SlotGuard> {
        (&mut self.granted).await.ok()
    }

    /// Leaves the queue. True when the task was still waiting; false when it had been
    /// granted its slots (they are released when the ticket is dropped).
    pub fn withdraw(self) -> bool {
        self.scheduler.withdraw(self.seq)
        // Dropping self now: a grant already in the channel is released.
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // A ticket given up without `withdraw` leaves the queue too (no-op once granted).
        self.scheduler.withdraw(self.seq);
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.scheduler.release(&self.host, self.category);
    }
}

#[cfg(test)]
mod tests;
