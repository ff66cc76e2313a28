//! The shared home of the notifications: the [`Book`], the [`EventLog`], retention, and
//! the broadcast of new events to subscribers.
//!
//! Every mutation changes the book, appends its events to the log and broadcasts them
//! under one lock, and a subscription reads the log (or takes a snapshot) and subscribes
//! to the broadcast under the same lock, so a subscriber sees every event exactly once:
//! the ones up to its start from the replay or snapshot, the later ones live.
//!
//! Semantics decided here:
//! - **De-duplication**: a Publish whose key is held updates that notification in place
//!   (level, title, message, related, metadata replaced; occurrences + 1; `updated_at` and
//!   list position refreshed) and keeps its id, category and creation time. It becomes
//!   unread again only when that is news ([`Notification::is_news`]): the level changed,
//!   or the title changed at warning/error level. A key belongs to one category: a Publish
//!   of the key under another category is refused (FAILED_PRECONDITION).
//! - **Reading** changes `read` only; it neither reorders the list nor counts as a
//!   publication. Marking a read notification read again changes nothing (no event).
//! - **Retention**: at most `max_count` notifications (after each Publish the oldest read
//!   ones go first, unread ones only when none is read) and none last published more than
//!   `max_age` ago ([`Store::expire`], run periodically). Each removal is a `Deleted`
//!   event with reason retention.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use aetherv_runtime::{ErrorCode, HasErrorCode};
use tokio::sync::broadcast;

use super::book::Book;
use super::events::{Change, DeleteReason, Event, EventLog, ResyncReason, Start};
use super::model::{Category, DedupKey, Draft, Notification, NotificationId};

/// Sizes and ages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSettings {
    /// Most notifications retained.
    pub max_count: usize,
    /// Longest time a notification is retained after its last publication.
    pub max_age: Duration,
    /// Events kept for Subscribe replay.
    pub event_history: usize,
    /// Events a subscriber may lag behind the live broadcast before it is resynced.
    pub subscriber_buffer: usize,
}

impl StoreSettings {
    /// Small limits for tests: 100 notifications, 1 day, 1000 events, 64 behind.
    pub fn for_testing() -> StoreSettings {
        StoreSettings {
            max_count: 100,
            max_age: Duration::from_secs(24 * 3600),
            event_history: 1000,
            subscriber_buffer: 64,
        }
    }
}

/// Which notification an operation is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// By id.
    Id(NotificationId),
    /// By de-duplication key.
    Key(DedupKey),
}

/// Why an operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No notification has this id.
    #[error("notification {0} not found")]
    NotFound(NotificationId),
    /// No notification has this key.
    #[error("no notification has dedup_key {0:?}")]
    KeyNotFound(DedupKey),
    /// The key is held by a notification of another category.
    #[error("dedup_key {key:?} belongs to a {existing} notification, not a {requested} one")]
    CategoryMismatch {
        /// The key.
        key: DedupKey,
        /// The category of the notification holding it.
        existing: Category,
        /// The category of the Publish.
        requested: Category,
    },
}

impl HasErrorCode for Error {
    fn error_code(&self) -> ErrorCode {
        match self {
            Error::NotFound(_) | Error::KeyNotFound(_) => ErrorCode::NotFound,
            Error::CategoryMismatch { .. } => ErrorCode::FailedPrecondition,
        }
    }
}

/// What a Publish did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// As stored.
    pub notification: Arc<Notification>,
    /// True when an existing notification was updated through its key.
    pub updated: bool,
    /// Notifications count retention removed to make room.
    pub evicted: usize,
}

/// One List answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Newest first.
    pub notifications: Vec<Arc<Notification>>,
    /// All retained.
    pub total: u32,
    /// Unread among all retained.
    pub unread: u32,
}

/// How a subscriber begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Beginning {
    /// Replay these events (possibly none), then live.
    Replay(Vec<Arc<Event>>),
    /// Resync: drop what you hold, take this snapshot, then live.
    Resync {
        /// Why.
        reason: ResyncReason,
        /// The oldest id a later Subscribe can resume from.
        oldest_event_id: u64,
        /// The retained notifications, oldest first.
        snapshot: Vec<Arc<Notification>>,
    },
}

/// A subscriber's start and its live feed.
#[derive(Debug)]
pub struct Subscription {
    /// The start.
    pub beginning: Beginning,
    /// The latest event id when subscribed (what the beginning brings the subscriber to).
    pub event_id: u64,
    /// Unread notifications then.
    pub unread_count: u32,
    /// Events after `event_id`.
    pub live: broadcast::Receiver<Arc<Event>>,
}

struct State {
    book: Book,
    log: EventLog,
}

/// The store; share it in an `Arc`.
pub struct Store {
    state: Mutex<State>,
    live: broadcast::Sender<Arc<Event>>,
    settings: StoreSettings,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Store {
    /// An empty store whose first event id is `base + 1`.
    pub fn new(settings: StoreSettings, base: u64) -> Store {
        let (live, _) = broadcast::channel(settings.subscriber_buffer.max(1));
        Store {
            state: Mutex::new(State {
                book: Book::default(),
                log: EventLog::new(settings.event_history, base),
            }),
            live,
            settings,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The settings.
    pub fn settings(&self) -> &StoreSettings {
        &self.settings
    }

    fn emit(&self, state: &mut State, now: SystemTime, change: Change) {
        let unread = count(state.book.unread_count());
        let event = state.log.append(now, unread, change);
        // No receiver is not an error: nobody is subscribed.
        let _ = self.live.send(event);
    }

    /// Creates a notification, or updates the one holding the draft's key.
    pub fn publish(&self, draft: Draft, now: SystemTime) -> Result<Published, Error> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let sequence = state.log.last() + 1;
        let existing = draft
            .dedup_key
            .as_ref()
            .and_then(|key| Some((key.clone(), state.book.by_key(key)?.clone())));
        if let Some((key, existing)) = existing {
            if existing.category != draft.category {
                return Err(Error::CategoryMismatch {
                    key,
                    existing: existing.category,
                    requested: draft.category,
                });
            }
            let notification = Arc::new(existing.updated_by(draft, now, sequence));
            state.book.put(notification.clone());
            self.emit(state, now, Change::Updated(notification.clone()));
            return Ok(Published {
                notification,
                updated: true,
                evicted: 0,
            });
        }
        let notification = Arc::new(Notification::create(draft, now, sequence));
        state.book.put(notification.clone());
        self.emit(state, now, Change::Created(notification.clone()));
        let mut evicted = 0;
        while state.book.len() > self.settings.max_count.max(1) {
            let Some(id) = state.book.eviction_candidate() else {
                break;
            };
            self.remove(state, &id, DeleteReason::Retention, now);
            evicted += 1;
        }
        Ok(Published {
            notification,
            updated: false,
            evicted,
        })
    }

    fn remove(
        &self,
        state: &mut State,
        id: &NotificationId,
        reason: DeleteReason,
        now: SystemTime,
    ) {
        if let Some(removed) = state.book.remove(id) {
            let change = Change::Deleted {
                id: removed.id.clone(),
                dedup_key: removed.dedup_key.clone(),
                reason,
            };
            self.emit(state, now, change);
        }
    }

    /// Up to `limit` notifications, newest first, and the counts.
    pub fn list(&self, limit: usize, unread_only: bool) -> Page {
        let state = self.lock();
        Page {
            notifications: state
                .book
                .newest_first(unread_only)
                .take(limit)
                .cloned()
                .collect(),
            total: count(state.book.len()),
            unread: count(state.book.unread_count()),
        }
    }

    /// One notification.
    pub fn get(&self, target: &Target) -> Option<Arc<Notification>> {
        let state = self.lock();
        match target {
            Target::Id(id) => state.book.get(id).cloned(),
            Target::Key(key) => state.book.by_key(key).cloned(),
        }
    }

    /// Marks one notification read; returns it and the unread count afterwards.
    pub fn mark_read(
        &self,
        id: &NotificationId,
        now: SystemTime,
    ) -> Result<(Arc<Notification>, u32), Error> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let current = state
            .book
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NotFound(id.clone()))?;
        if current.read {
            return Ok((current, count(state.book.unread_count())));
        }
        let notification = Arc::new(Notification {
            read: true,
            ..(*current).clone()
        });
        state.book.put(notification.clone());
        self.emit(state, now, Change::Updated(notification.clone()));
        Ok((notification, count(state.book.unread_count())))
    }

    /// Marks every notification read; returns how many were unread (one `AllRead` event
    /// when any) and the unread count afterwards (0 unless another call raced it).
    pub fn mark_all_read(&self, now: SystemTime) -> (u32, u32) {
        let mut guard = self.lock();
        let state = &mut *guard;
        let ids = state.book.unread_ids();
        for id in &ids {
            if let Some(current) = state.book.get(id).cloned() {
                state.book.put(Arc::new(Notification {
                    read: true,
                    ..(*current).clone()
                }));
            }
        }
        let marked = count(ids.len());
        if marked > 0 {
            self.emit(state, now, Change::AllRead { marked });
        }
        (marked, count(state.book.unread_count()))
    }

    /// Deletes one notification; returns the unread count afterwards.
    pub fn delete(&self, target: &Target, now: SystemTime) -> Result<u32, Error> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let id = match target {
            Target::Id(id) => state.book.get(id).map(|n| n.id.clone()),
            Target::Key(key) => state.book.by_key(key).map(|n| n.id.clone()),
        };
        let Some(id) = id else {
            return Err(match target {
                Target::Id(id) => Error::NotFound(id.clone()),
                Target::Key(key) => Error::KeyNotFound(key.clone()),
            });
        };
        self.remove(state, &id, DeleteReason::Requested, now);
        Ok(count(state.book.unread_count()))
    }

    /// Removes the notifications last published more than `max_age` before `now`;
    /// returns how many.
    pub fn expire(&self, now: SystemTime) -> usize {
        let Some(cutoff) = now.checked_sub(self.settings.max_age) else {
            return 0;
        };
        let mut guard = self.lock();
        let state = &mut *guard;
        let mut expired = state.book.published_before(cutoff);
        expired.sort_by_key(|id| state.book.get(id).map(|n| n.sequence));
        for id in &expired {
            self.remove(state, id, DeleteReason::Retention, now);
        }
        expired.len()
    }

    /// The latest event id and the unread count.
    pub fn position(&self) -> (u64, u32) {
        let state = self.lock();
        (state.log.last(), count(state.book.unread_count()))
    }

    fn subscription(&self, state: &State, start: Start) -> Subscription {
        let beginning = match start {
            Start::Replay(events) => Beginning::Replay(events),
            Start::Resync(reason) => Beginning::Resync {
                reason,
                oldest_event_id: state.log.floor(),
                snapshot: state.book.oldest_first(),
            },
        };
        Subscription {
            beginning,
            event_id: state.log.last(),
            unread_count: count(state.book.unread_count()),
            live: self.live.subscribe(),
        }
    }

    /// Starts a subscriber that has seen every event through `from` (0: nothing).
    pub fn subscribe(&self, from: u64) -> Subscription {
        let state = self.lock();
        let start = state.log.since(from);
        self.subscription(&state, start)
    }

    /// A fresh snapshot and live feed for a subscriber that fell behind.
    pub fn resubscribe(&self) -> Subscription {
        let state = self.lock();
        self.subscription(&state, Start::Resync(ResyncReason::FellBehind))
    }
}
