//! The bounded change log behind `Watch(from_revision)`: the most recent batches, at most
//! `limit` changes in all. A watcher whose revision is still covered gets the batches after
//! it; otherwise it must resync from a snapshot, for one of the reasons the proto names.

use std::collections::VecDeque;
use std::sync::Arc;

use super::changes::ChangeBatch;

/// Why a watcher cannot be served from the log and needs a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResyncReason {
    /// It asked from revision 0.
    Initial,
    /// Its revision is older than the log.
    TooOld,
    /// Its revision is newer than the model (an earlier process's revision).
    UnknownRevision,
    /// Its stream fell behind.
    FellBehind,
}

/// Where a watcher starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// The batches after its revision, oldest first (possibly none).
    Replay(Vec<Arc<ChangeBatch>>),
    /// A snapshot is needed.
    Resync(ResyncReason),
}

/// The log.
#[derive(Debug)]
pub struct History {
    batches: VecDeque<Arc<ChangeBatch>>,
    events: usize,
    limit: usize,
    floor: u64,
}

impl History {
    /// An empty log keeping at most `limit` changes; `revision` is the model's revision now.
    pub fn new(limit: usize, revision: u64) -> History {
        History {
            batches: VecDeque::new(),
            events: 0,
            limit,
            floor: revision,
        }
    }

    /// The oldest revision a watcher may resume from: every batch after it is in the log.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// Changes held.
    pub fn len(&self) -> usize {
        self.events
    }

    /// True when no change is held.
    pub fn is_empty(&self) -> bool {
        self.events == 0
    }

    /// Appends a batch (revisions increase), evicting the oldest beyond the limit.
    pub fn push(&mut self, batch: Arc<ChangeBatch>) {
        self.events += batch.changes.len();
        self.batches.push_back(batch);
        while self.events > self.limit {
            let Some(oldest) = self.batches.pop_front() else {
                break;
            };
            self.events -= oldest.changes.len();
            self.floor = oldest.revision;
        }
    }

    /// Where a watcher from `from` starts, given the model's `current` revision.
    pub fn since(&self, from: u64, current: u64) -> Start {
        if from == 0 {
            return Start::Resync(ResyncReason::Initial);
        }
        if from > current {
            return Start::Resync(ResyncReason::UnknownRevision);
        }
        if from < self.floor {
            return Start::Resync(ResyncReason::TooOld);
        }
        let first = self.batches.partition_point(|batch| batch.revision <= from);
        Start::Replay(self.batches.range(first..).cloned().collect())
    }
}
