//! One topic's shared event buffer. The topic's single upstream stream (see
//! [`super::upstream`]) appends each event, serialized once, to a bounded ring; every
//! WebSocket client subscribed to the topic reads the ring at its own pace through a
//! sequence number, like a `tokio::sync::broadcast` receiver. A client whose sequence number
//! has been evicted fell behind: it gets a `resync` instead of silent loss. A client that
//! resumes from a cursor is replayed from the ring when the ring still holds every event
//! after that cursor.
//!
//! The ring is *established* once the upstream stream has synced with the service: from then
//! on it holds every event after its `base` cursor (minus evictions, which move `base`). When
//! the upstream stream loses continuity (the service restarted, or the gateway's own stream
//! fell behind) the ring is re-established and a `Reset` entry tells the clients reading past
//! it to reload.
//!
//! Beside the ring, the feed holds its upstream stream's [`Status`] (up, or down and why),
//! which connections pass on as `topic_status` frames, and whether the topic is closed for
//! good (a watched job left the jobs service's history).

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError, RwLock};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::watch;

use super::cursor::Cursor;
use crate::error::HttpError;
use crate::model::now_rfc3339;

/// Whether the topic's upstream stream is working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// False while the stream is lost.
    pub up: bool,
    /// Why it is down.
    pub reason: Option<String>,
    /// Since when (RFC 3339).
    pub since: String,
    /// Bumped on every change, so readers notice one.
    pub version: u64,
}

/// Why a client is told to reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResyncReason {
    /// The client read too slowly; events it had not read were evicted.
    FellBehind,
    /// The client's cursor is older than any history the gateway or the service keeps.
    TooOld,
    /// The client's cursor is ahead of the service (the service restarted).
    UnknownCursor,
    /// The gateway's own stream lost continuity with the service.
    UpstreamReset,
}

impl ResyncReason {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ResyncReason::FellBehind => "fell_behind",
            ResyncReason::TooOld => "too_old",
            ResyncReason::UnknownCursor => "unknown_cursor",
            ResyncReason::UpstreamReset => "upstream_reset",
        }
    }
}

/// One ring entry.
#[derive(Debug, Clone)]
pub enum Entry {
    /// An event and its ready-to-send frame.
    Event {
        /// Its position.
        cursor: Cursor,
        /// The `{"type":"event",...}` frame.
        frame: Utf8Bytes,
    },
    /// Continuity was lost here; live events continue after `cursor`.
    Reset {
        /// The position the new history starts after.
        cursor: Cursor,
    },
}

/// Where a new reader starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    /// Read from `next_seq`; the reader's position is `cursor`.
    At {
        /// The first sequence number to read.
        next_seq: u64,
        /// The reader's position there.
        cursor: Cursor,
    },
    /// The ring does not hold every event after the cursor: replay from the service.
    TooOld,
    /// The cursor is ahead of the ring: check it with the service.
    Ahead {
        /// Where the ring ends now.
        next_seq: u64,
    },
    /// The upstream stream has not synced yet.
    NotReady,
}

/// What a reader got.
#[derive(Debug)]
pub enum Read {
    /// Entries from the requested sequence number on.
    Entries {
        /// The entries, in order.
        entries: Vec<Entry>,
        /// The sequence number after the last one.
        next_seq: u64,
        /// True when nothing more is buffered now.
        at_end: bool,
        /// The ring's head position (when established).
        head: Option<Cursor>,
    },
    /// The requested sequence number was evicted.
    Lagged {
        /// Where the ring ends now.
        next_seq: u64,
        /// The head position there.
        head: Option<Cursor>,
    },
}

#[derive(Debug, Default)]
struct Ring {
    entries: VecDeque<Entry>,
    first_seq: u64,
    next_seq: u64,
    /// First sequence number of the current history (after the last reset).
    epoch_seq: u64,
    base: Option<Cursor>,
    head: Option<Cursor>,
}

/// A topic's buffer.
#[derive(Debug)]
pub struct Feed {
    topic: String,
    capacity: usize,
    ring: RwLock<Ring>,
    tick: watch::Sender<u64>,
    status: Mutex<Status>,
    closed: Mutex<Option<HttpError>>,
}

impl Feed {
    /// An empty, not yet established buffer of `capacity` events; `tick` is bumped on
    /// every change so readers wake up.
    pub fn new(topic: &str, capacity: usize, tick: watch::Sender<u64>) -> Feed {
        Feed {
            topic: topic.to_string(),
            capacity: capacity.max(2),
            ring: RwLock::new(Ring::default()),
            tick,
            status: Mutex::new(Status {
                up: true,
                reason: None,
                since: now_rfc3339(),
                version: 0,
            }),
            closed: Mutex::new(None),
        }
    }

    /// The upstream stream's status.
    pub fn status(&self) -> Status {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records that the upstream stream works (`true`) or is lost, with why; wakes the
    /// readers when that is a change.
    pub fn set_status(&self, up: bool, reason: Option<String>) {
        let changed = {
            let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
            if status.up == up {
                false
            } else {
                *status = Status {
                    up,
                    reason: if up { None } else { reason },
                    since: now_rfc3339(),
                    version: status.version + 1,
                };
                true
            }
        };
        if changed {
            self.tick.send_modify(|tick| *tick = tick.wrapping_add(1));
        }
    }

    /// Ends the topic for good with `error` (readers say so and drop it).
    pub fn close(&self, error: HttpError) {
        *self.closed.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
        self.tick.send_modify(|tick| *tick = tick.wrapping_add(1));
    }

    /// Why the topic ended, once it has.
    pub fn closed(&self) -> Option<HttpError> {
        self.closed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The topic name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    fn write<T>(&self, change: impl FnOnce(&mut Ring) -> T) -> T {
        let mut ring = self.ring.write().unwrap_or_else(PoisonError::into_inner);
        let result = change(&mut ring);
        drop(ring);
        self.tick.send_modify(|tick| *tick = tick.wrapping_add(1));
        result
    }

    fn read_ring<T>(&self, read: impl FnOnce(&Ring) -> T) -> T {
        let ring = self.ring.read().unwrap_or_else(PoisonError::into_inner);
        read(&ring)
    }

    /// Whether the upstream stream has synced.
    pub fn is_established(&self) -> bool {
        self.read_ring(|ring| ring.base.is_some())
    }

    /// The position after the last event, once established.
    pub fn head(&self) -> Option<Cursor> {
        self.read_ring(|ring| ring.head)
    }

    /// (Re-)establishes the history at `at`. After an earlier history, a `Reset` entry
    /// tells readers still in it to reload.
    pub fn establish(&self, at: Cursor) {
        self.write(|ring| {
            if ring.base.is_some() {
                push(ring, self.capacity, Entry::Reset { cursor: at });
            }
            ring.epoch_seq = ring.next_seq;
            ring.base = Some(at);
            ring.head = Some(at);
        });
    }

    /// Appends an event.
    pub fn push(&self, cursor: Cursor, frame: Utf8Bytes) {
        self.write(|ring| {
            push(ring, self.capacity, Entry::Event { cursor, frame });
            ring.head = Some(cursor);
        });
    }

    /// Marks every event numbered `number` as received: the head becomes `Through`.
    pub fn complete(&self, number: u64) {
        let incomplete = self
            .read_ring(|ring| matches!(ring.head, Some(Cursor::Within(head, _)) if head == number));
        if incomplete {
            self.write(|ring| {
                if matches!(ring.head, Some(Cursor::Within(head, _)) if head == number) {
                    ring.head = Some(Cursor::Through(number));
                }
            });
        }
    }

    /// Where a reader resuming after `after` (or from now, `None`) starts.
    pub fn attach(&self, after: Option<Cursor>) -> Attach {
        self.read_ring(|ring| {
            let (Some(base), Some(head)) = (ring.base, ring.head) else {
                return Attach::NotReady;
            };
            let Some(after) = after else {
                return Attach::At {
                    next_seq: ring.next_seq,
                    cursor: head,
                };
            };
            if after > head {
                return Attach::Ahead {
                    next_seq: ring.next_seq,
                };
            }
            if after < base {
                return Attach::TooOld;
            }
            // Entries of the current history are events in cursor order: binary search
            // for the first one the reader has not seen.
            let start = ring.epoch_seq.max(ring.first_seq) - ring.first_seq;
            let start = usize::try_from(start)
                .unwrap_or(usize::MAX)
                .min(ring.entries.len());
            let (mut low, mut high) = (start, ring.entries.len());
            while low < high {
                let mid = low + (high - low) / 2;
                let seen = match &ring.entries[mid] {
                    Entry::Event { cursor, .. } => !after.precedes(*cursor),
                    Entry::Reset { .. } => true,
                };
                if seen {
                    low = mid + 1;
                } else {
                    high = mid;
                }
            }
            Attach::At {
                next_seq: ring.first_seq + low as u64,
                cursor: after,
            }
        })
    }

    /// Up to `max` entries from `from_seq` on.
    pub fn read(&self, from_seq: u64, max: usize) -> Read {
        self.read_ring(|ring| {
            if from_seq < ring.first_seq {
                return Read::Lagged {
                    next_seq: ring.next_seq,
                    head: ring.head,
                };
            }
            let offset = usize::try_from(from_seq - ring.first_seq).unwrap_or(usize::MAX);
            let entries: Vec<Entry> = ring
                .entries
                .iter()
                .skip(offset)
                .take(max)
                .cloned()
                .collect();
            let next_seq = from_seq + entries.len() as u64;
            Read::Entries {
                entries,
                next_seq,
                at_end: next_seq >= ring.next_seq,
                head: ring.head,
            }
        })
    }
}

fn push(ring: &mut Ring, capacity: usize, entry: Entry) {
    ring.entries.push_back(entry);
    ring.next_seq += 1;
    while ring.entries.len() > capacity {
        let evicted_seq = ring.first_seq;
        let evicted = ring.entries.pop_front();
        ring.first_seq += 1;
        // The history now starts after the evicted event.
        if let Some(Entry::Event { cursor, .. }) = evicted
            && evicted_seq >= ring.epoch_seq
        {
            ring.base = Some(cursor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(capacity: usize) -> Feed {
        let (tick, _) = watch::channel(0);
        Feed::new("inventory", capacity, tick)
    }

    fn frame(cursor: Cursor) -> Utf8Bytes {
        Utf8Bytes::from(cursor.to_string())
    }

    fn cursors(read: Read) -> Vec<String> {
        match read {
            Read::Entries { entries, .. } => entries
                .into_iter()
                .map(|entry| match entry {
                    Entry::Event { cursor, .. } => cursor.to_string(),
                    Entry::Reset { cursor } => format!("reset@{cursor}"),
                })
                .collect(),
            Read::Lagged { .. } => vec!["lagged".to_string()],
        }
    }

    #[test]
    fn readers_resume_from_any_cursor_the_ring_still_holds() {
        let feed = feed(8);
        assert_eq!(feed.attach(None), Attach::NotReady);
        feed.establish(Cursor::Through(10));
        for cursor in [
            Cursor::Within(11, 1),
            Cursor::Within(11, 2),
            Cursor::Within(12, 1),
        ] {
            feed.push(cursor, frame(cursor));
        }
        let Attach::At { next_seq, .. } = feed.attach(Some(Cursor::Within(11, 1))) else {
            panic!("cursor inside the ring must attach");
        };
        assert_eq!(cursors(feed.read(next_seq, 10)), ["11.2", "12.1"]);
        let Attach::At { next_seq, .. } = feed.attach(Some(Cursor::Through(11))) else {
            panic!("a revision inside the ring must attach");
        };
        assert_eq!(cursors(feed.read(next_seq, 10)), ["12.1"]);
        let Attach::At { next_seq, .. } = feed.attach(Some(Cursor::Through(10))) else {
            panic!("the base must attach");
        };
        assert_eq!(cursors(feed.read(next_seq, 10)).len(), 3);
        assert_eq!(feed.attach(Some(Cursor::Through(9))), Attach::TooOld);
        assert!(matches!(
            feed.attach(Some(Cursor::Through(13))),
            Attach::Ahead { .. }
        ));
    }

    #[test]
    fn eviction_moves_the_base_and_lags_slow_readers() {
        let feed = feed(2);
        feed.establish(Cursor::Through(0));
        for number in 1..=4 {
            feed.push(Cursor::Within(number, 1), frame(Cursor::Within(number, 1)));
        }
        assert!(matches!(feed.read(0, 10), Read::Lagged { next_seq: 4, .. }));
        assert_eq!(feed.attach(Some(Cursor::Through(1))), Attach::TooOld);
        assert!(matches!(
            feed.attach(Some(Cursor::Within(2, 1))),
            Attach::At { next_seq: 2, .. }
        ));
        feed.complete(4);
        assert_eq!(feed.head(), Some(Cursor::Through(4)));
    }

    #[test]
    fn re_establishing_leaves_a_reset_for_readers_of_the_old_history() {
        let feed = feed(8);
        feed.establish(Cursor::Through(5));
        feed.push(Cursor::Within(6, 1), frame(Cursor::Within(6, 1)));
        let Attach::At { next_seq, .. } = feed.attach(Some(Cursor::Through(5))) else {
            panic!("must attach");
        };
        feed.establish(Cursor::Through(2));
        feed.push(Cursor::Within(3, 1), frame(Cursor::Within(3, 1)));
        assert_eq!(cursors(feed.read(next_seq, 10)), ["6.1", "reset@2", "3.1"]);
        let Attach::At { next_seq, .. } = feed.attach(Some(Cursor::Through(2))) else {
            panic!("must attach in the new history");
        };
        assert_eq!(cursors(feed.read(next_seq, 10)), ["3.1"]);
    }
}
