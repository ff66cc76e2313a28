//! Job events and the bounded event log behind `Watch(from_event_id)`.
//!
//! Event ids are global across jobs and increase by one per event. A process's first id
//! is one past its *base* (its start time in microseconds), so an id handed out by an
//! earlier process is below the base, or above the current id, and is recognised as
//! unknown instead of being replayed against the wrong history.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::SystemTime;

use aetherv_runtime::ApiError;

use super::model::{Job, JobId, JobState, OutputLine, Step, Waiting};

/// What happened to a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Submitted (the whole job, without output).
    Created(Box<Job>),
    /// Moved to another state.
    StateChanged {
        /// The new state.
        state: JobState,
        /// The state before.
        previous: JobState,
        /// Set when waiting.
        waiting: Option<Waiting>,
        /// Set when failed.
        error: Option<ApiError>,
        /// The job's attempt.
        attempt: u32,
    },
    /// A step changed (the whole step).
    StepChanged(Box<Step>),
    /// New output lines.
    Output(Vec<OutputLine>),
    /// Progress moved.
    Progress {
        /// Overall 0..100.
        percent: u32,
        /// The step.
        step_index: u32,
        /// Its 0..100.
        step_percent: u32,
        /// Its text.
        step_text: String,
    },
}

/// One event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its id.
    pub id: u64,
    /// The job.
    pub job_id: JobId,
    /// When.
    pub time: SystemTime,
    /// What.
    pub change: Change,
}

/// What a live subscriber receives: a logged event, or word that a job left the history
/// (not logged, no id of its own; watchers of that one job end with NOT_FOUND).
#[derive(Debug, Clone, PartialEq)]
pub enum Live {
    /// A logged event.
    Event(Arc<Event>),
    /// The job was evicted from history.
    Evicted(JobId),
}

/// Why a watcher cannot be served from the log and needs a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResyncReason {
    /// It asked from 0.
    Initial,
    /// Its id is older than the log.
    TooOld,
    /// Its id was never handed out by this process.
    UnknownEventId,
    /// Its stream fell behind.
    FellBehind,
}

/// Where a watcher starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// The events after its id, oldest first (possibly none).
    Replay(Vec<Arc<Event>>),
    /// A snapshot is needed.
    Resync(ResyncReason),
}

/// The log.
#[derive(Debug)]
pub struct EventLog {
    events: VecDeque<Arc<Event>>,
    limit: usize,
    base: u64,
    floor: u64,
    last: u64,
}

impl EventLog {
    /// An empty log keeping the last `limit` events; the first event gets `base + 1`.
    pub fn new(limit: usize, base: u64) -> EventLog {
        EventLog {
            events: VecDeque::new(),
            limit: limit.max(1),
            base,
            floor: base,
            last: base,
        }
    }

    /// The latest id (the base when there was none).
    pub fn last(&self) -> u64 {
        self.last
    }

    /// The oldest id a watcher may resume from.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when none is held.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Records the next event.
    pub fn append(&mut self, job_id: JobId, time: SystemTime, change: Change) -> Arc<Event> {
        self.last += 1;
        let event = Arc::new(Event {
            id: self.last,
            job_id,
            time,
            change,
        });
        self.events.push_back(event.clone());
        while self.events.len() > self.limit {
            if let Some(evicted) = self.events.pop_front() {
                self.floor = evicted.id;
            }
        }
        event
    }

    /// Where a watcher that has seen everything through `from` starts; with `job`, only
    /// that job's events are replayed.
    pub fn since(&self, from: u64, job: Option<&JobId>) -> Start {
        if from == 0 {
            return Start::Resync(ResyncReason::Initial);
        }
        if from > self.last || from < self.base {
            return Start::Resync(ResyncReason::UnknownEventId);
        }
        if from < self.floor {
            return Start::Resync(ResyncReason::TooOld);
        }
        let first = self.events.partition_point(|event| event.id <= from);
        Start::Replay(
            self.events
                .range(first..)
                .filter(|event| job.is_none_or(|id| &event.job_id == id))
                .cloned()
                .collect(),
        )
    }
}
