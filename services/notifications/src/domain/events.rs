//! Change events and the bounded event log behind `Subscribe(from_event_id)`.
//!
//! Event ids increase by one per change. A process's first id is one past its *base*
//! (the service passes its start time in microseconds), so an id handed out by an earlier
//! process is below the base, or above the current id, and is recognised as unknown
//! instead of being replayed against the wrong history.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::SystemTime;

use super::model::{DedupKey, Notification, NotificationId};

/// Why a notification was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    /// An explicit Delete.
    Requested,
    /// Retention (age or count).
    Retention,
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new notification.
    Created(Arc<Notification>),
    /// A notification changed (a de-duplicated publish, or MarkRead).
    Updated(Arc<Notification>),
    /// A notification was removed.
    Deleted {
        /// Its id.
        id: NotificationId,
        /// Its key, when it had one.
        dedup_key: Option<DedupKey>,
        /// Why.
        reason: DeleteReason,
    },
    /// Every unread notification was marked read at once.
    AllRead {
        /// How many changed.
        marked: u32,
    },
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its id.
    pub id: u64,
    /// When it happened.
    pub time: SystemTime,
    /// Unread notifications after it.
    pub unread_count: u32,
    /// What changed.
    pub change: Change,
}

/// Why a subscriber cannot be served from the log and needs a snapshot.
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

/// Where a subscriber starts.
#[derive(Debug, Clone, PartialEq, Eq)]
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

    /// The id of the latest event (the base when there was none).
    pub fn last(&self) -> u64 {
        self.last
    }

    /// The oldest id a subscriber may resume from: every event after it is held.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when no event is held.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Records a change as the next event and returns it.
    pub fn append(&mut self, time: SystemTime, unread_count: u32, change: Change) -> Arc<Event> {
        self.last += 1;
        let event = Arc::new(Event {
            id: self.last,
            time,
            unread_count,
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

    /// Where a subscriber that has seen everything through `from` starts.
    pub fn since(&self, from: u64) -> Start {
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
        Start::Replay(self.events.range(first..).cloned().collect())
    }
}
