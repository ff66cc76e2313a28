//! The ordering of jobs: fair, first-come-first-served locks.
//!
//! - A mutating job holds its VM's lock for its whole run (one mutating job per VM at a
//!   time). A job that creates a VM locks the VM's *name* on its host (two creations of one
//!   name cannot race) and, once the VM exists, its id too ([`Locks::bind`]), so a job
//!   submitted for the new VM waits until the creating job is done.
//! - A heavy step (disk work, image copies) holds its host's heavy lock for that step only.
//!
//! Each lock has one holder and a FIFO queue; a release hands the lock to the first waiter,
//! so nobody is overtaken (no starvation). No deadlock: a job waits for a VM lock while
//! holding nothing, and for a heavy lock while holding only its VM lock; a heavy lock's
//! holder is running a step and waits for no lock, so no cycle can form. No job waits for
//! another job's completion except through these locks (no worker pool whose parents wait
//! on children).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use aetherv_hyperv::{HostId, VmId};
use tokio::sync::oneshot;

use super::model::JobId;

/// What a job may lock.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    /// An existing VM.
    Vm(VmId),
    /// A VM name on a host (lower-cased), for a VM being created.
    VmName(HostId, String),
    /// The heavy-step slot of a host.
    HostHeavy(HostId),
}

impl Resource {
    /// A VM name key (case-insensitive, like Hyper-V's names).
    pub fn vm_name(host: &HostId, name: &str) -> Resource {
        Resource::VmName(host.clone(), name.to_lowercase())
    }
}

/// The answer to [`Locks::acquire`].
#[derive(Debug)]
pub enum Acquire {
    /// The lock is the caller's.
    Granted,
    /// The caller is queued behind `holder`; `granted` fires when the lock is handed to it.
    Queued {
        /// Who holds it now.
        holder: JobId,
        /// Fires on hand-over.
        granted: oneshot::Receiver<()>,
    },
}

/// What a release changed, so waiting jobs can be told who blocks them now.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Released {
    /// The job the lock went to.
    pub granted: Option<JobId>,
    /// Jobs still queued (they now wait for `granted`).
    pub waiting: Vec<JobId>,
}

#[derive(Debug, Default)]
struct Slot {
    holder: Option<JobId>,
    queue: VecDeque<(JobId, oneshot::Sender<()>)>,
}

/// Every lock.
#[derive(Debug, Default)]
pub struct Locks {
    slots: Mutex<HashMap<Resource, Slot>>,
}

impl Locks {
    /// No lock held.
    pub fn new() -> Locks {
        Locks::default()
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<Resource, Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes `resource` for `job`, or queues it at the back.
    pub fn acquire(&self, resource: &Resource, job: &JobId) -> Acquire {
        let mut slots = self.slots();
        let slot = slots.entry(resource.clone()).or_default();
        match &slot.holder {
            None => {
                slot.holder = Some(job.clone());
                Acquire::Granted
            }
            Some(holder) if holder == job => Acquire::Granted,
            Some(holder) => {
                let (sender, granted) = oneshot::channel();
                slot.queue.push_back((job.clone(), sender));
                Acquire::Queued {
                    holder: holder.clone(),
                    granted,
                }
            }
        }
    }

    /// Takes `resource` for `job` only if it is free (never queues); true when held.
    pub fn bind(&self, resource: &Resource, job: &JobId) -> bool {
        let mut slots = self.slots();
        let slot = slots.entry(resource.clone()).or_default();
        match &slot.holder {
            None => {
                slot.holder = Some(job.clone());
                true
            }
            Some(holder) => holder == job,
        }
    }

    /// Gives `resource` up (when `job` holds it) and hands it to the first waiter still
    /// there. Also removes `job` from the queue if it was waiting (a cancelled wait).
    pub fn release(&self, resource: &Resource, job: &JobId) -> Released {
        let mut slots = self.slots();
        let Some(slot) = slots.get_mut(resource) else {
            return Released::default();
        };
        slot.queue.retain(|(waiter, _)| waiter != job);
        let mut released = Released::default();
        if slot.holder.as_ref() == Some(job) {
            slot.holder = None;
            while let Some((next, sender)) = slot.queue.pop_front() {
                // A waiter whose receiver is gone stopped waiting; try the next one.
                if sender.send(()).is_ok() {
                    slot.holder = Some(next.clone());
                    released.granted = Some(next);
                    break;
                }
            }
        }
        released.waiting = slot
            .queue
            .iter()
            .map(|(waiter, _)| waiter.clone())
            .collect();
        if slot.holder.is_none() && slot.queue.is_empty() {
            slots.remove(resource);
        }
        released
    }

    /// Who holds `resource`.
    pub fn holder(&self, resource: &Resource) -> Option<JobId> {
        self.slots()
            .get(resource)
            .and_then(|slot| slot.holder.clone())
    }

    /// Jobs queued for `resource`, in order.
    pub fn queue(&self, resource: &Resource) -> Vec<JobId> {
        self.slots().get(resource).map_or_else(Vec::new, |slot| {
            slot.queue.iter().map(|(job, _)| job.clone()).collect()
        })
    }

    /// Locks with a holder or waiters (for tests and metrics).
    pub fn len(&self) -> usize {
        self.slots().len()
    }

    /// True when no lock is held or awaited.
    pub fn is_empty(&self) -> bool {
        self.slots().is_empty()
    }
}
