//! The one upstream stream per topic, and the per-client catch-up streams.
//!
//! [`follow`] keeps a topic's [`Feed`] filled for as long as the gateway runs: it starts at
//! the service's current number (no snapshot), appends every change, and after a broken
//! stream resumes from the feed's head, so no event is lost or repeated. When the service
//! answers with a snapshot instead (it restarted, or this stream fell behind), the snapshot
//! is not forwarded — clients reload through REST — and the feed is re-established after it.
//!
//! [`catch_up`] serves one client whose cursor the ring no longer covers: a private stream
//! from the client's cursor, forwarded until the service says the replay is complete, after
//! which the client continues from the shared ring.
//!
//! [`follow`] also keeps the feed's status: down (with the service's error) whenever its
//! stream is lost or ends, up again with the first event of a new stream. A source whose
//! NOT_FOUND is final (a watched job left the history) closes the feed instead.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use super::cursor::{Cursor, Numbering};
use super::feed::{Feed, ResyncReason};
use super::source::{Source, SourceEvent, UpstreamResync, event_frame};
use crate::error::HttpError;

/// Reconnect delays: doubling from the first to the last.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(5));

/// Keeps `feed` filled from `source` until `shutdown` fires. With `start`, the feed's
/// history begins right after that number (a `jobs:<id>` topic opened by a client resuming
/// from it: the service replays what came after, so every client of the topic attaches to
/// the shared ring); without, at the service's current number.
pub async fn follow(
    feed: Arc<Feed>,
    source: Arc<dyn Source>,
    shutdown: CancellationToken,
    start: Option<u64>,
) {
    if let Some(start) = start.filter(|start| *start > 0)
        && source.unique_numbers()
    {
        feed.establish(Cursor::Through(start));
    }
    let mut delay = BACKOFF.0;
    // Repeated failures while the service stays down are logged once, then at debug.
    let mut failing = false;
    loop {
        let outcome = tokio::select! {
            () = shutdown.cancelled() => return,
            outcome = follow_once(&feed, source.as_ref()) => outcome,
        };
        match outcome {
            Ok(delivered) => {
                failing = false;
                if delivered {
                    delay = BACKOFF.0;
                }
                feed.set_status(
                    false,
                    Some(format!(
                        "the {} stream ended; reconnecting",
                        source.dependency()
                    )),
                );
            }
            Err(status)
                if status.code() == tonic::Code::NotFound && source.ends_when_not_found() =>
            {
                tracing::info!(topic = feed.topic(), "websocket topic ended: not found");
                feed.close(HttpError::from_status(source.dependency(), &status, &[]));
                return;
            }
            Err(status) if !failing => {
                feed.set_status(
                    false,
                    Some(HttpError::from_status(source.dependency(), &status, &[]).message),
                );
                failing = true;
                tracing::warn!(
                    topic = feed.topic(),
                    dependency = %source.dependency(),
                    code = ?status.code(),
                    message = status.message(),
                    "websocket topic stream lost; reconnecting"
                );
            }
            Err(status) => {
                feed.set_status(
                    false,
                    Some(HttpError::from_status(source.dependency(), &status, &[]).message),
                );
                tracing::debug!(
                    topic = feed.topic(),
                    code = ?status.code(),
                    "websocket topic stream still unavailable"
                );
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(BACKOFF.1);
    }
}

/// One upstream stream, until it ends. `Ok(true)` when it delivered anything (the next
/// reconnect starts with a short delay again).
async fn follow_once(feed: &Feed, source: &dyn Source) -> Result<bool, Status> {
    let resume = if feed.is_established() {
        feed.head()
    } else {
        None
    };
    let (after, _) = match resume {
        Some(head) => head.replay_from(),
        None => (source.current().await?, None),
    };
    let mut stream = source.watch(after).await?;
    let mut numbering = Numbering::new(source.unique_numbers());
    let mut snapshot = false;
    let mut last_number = after;
    let mut delivered = false;
    // Events up to the feed's head were appended by an earlier stream.
    let mut skip = resume;
    while let Some(event) = stream.next().await {
        let event = event?;
        if !delivered {
            feed.set_status(true, None);
        }
        delivered = true;
        match event {
            SourceEvent::Snapshot { number } => last_number = last_number.max(number),
            SourceEvent::Resync(_) => {
                snapshot = true;
                skip = None;
                // The snapshot's numbers replace the old history's.
                last_number = 0;
                numbering = Numbering::new(source.unique_numbers());
            }
            SourceEvent::Change { number, kind, data } => {
                last_number = last_number.max(number);
                if snapshot {
                    continue;
                }
                let cursor = numbering.next(number);
                if let Some(skip) = skip
                    && !skip.precedes(cursor)
                {
                    continue;
                }
                let frame = event_frame(
                    source.topic(),
                    source.number_name(),
                    cursor,
                    number,
                    kind,
                    &data,
                );
                feed.push(cursor, frame);
            }
            SourceEvent::Synced { number } => {
                let number = number.max(last_number);
                if snapshot || !feed.is_established() {
                    snapshot = false;
                    feed.establish(Cursor::Through(number));
                    tracing::info!(
                        topic = feed.topic(),
                        revision = number,
                        "websocket topic stream synced"
                    );
                } else {
                    feed.complete(number);
                }
            }
            SourceEvent::Heartbeat { number } => feed.complete(number),
        }
    }
    Ok(delivered)
}

/// What a catch-up sends its connection.
#[derive(Debug)]
pub enum CatchUpMessage {
    /// A replayed event, in order.
    Frame {
        /// Subscription generation it belongs to.
        generation: u64,
        /// The frame.
        frame: Utf8Bytes,
        /// Its cursor.
        cursor: Cursor,
    },
    /// The replay is complete up to `cursor`: continue from the ring.
    Done {
        /// Subscription generation.
        generation: u64,
        /// The client's position now.
        cursor: Cursor,
    },
    /// The service cannot replay from the cursor: the client must reload.
    Resync {
        /// Subscription generation.
        generation: u64,
        /// Why.
        reason: ResyncReason,
    },
}

/// Replays `source` after `after` into `out` (tagged with `generation`), retrying while the
/// service does not answer, and waits until `feed` is established before reporting `Done`.
pub async fn catch_up(
    source: Arc<dyn Source>,
    feed: Arc<Feed>,
    after: Cursor,
    generation: u64,
    out: mpsc::Sender<(String, CatchUpMessage)>,
) {
    let topic = feed.topic().to_string();
    let mut position = after;
    let mut delay = BACKOFF.0;
    let message = loop {
        match replay(source.as_ref(), position, generation, &topic, &out).await {
            Ok(Replay::Done(cursor)) => {
                position = cursor;
                break CatchUpMessage::Done {
                    generation,
                    cursor: position,
                };
            }
            Ok(Replay::Resync(reason)) => break CatchUpMessage::Resync { generation, reason },
            Err(Failure::Closed) => return,
            Err(Failure::Upstream(progress, status)) => {
                if let Some(cursor) = progress {
                    position = cursor;
                }
                tracing::debug!(topic, code = ?status.code(), "websocket catch-up stream failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(BACKOFF.1);
            }
        }
    };
    if matches!(message, CatchUpMessage::Done { .. }) {
        while !feed.is_established() {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(BACKOFF.1);
        }
    }
    let _ = out.send((topic, message)).await;
}

enum Replay {
    Done(Cursor),
    Resync(ResyncReason),
}

enum Failure {
    Closed,
    Upstream(Option<Cursor>, Status),
}

async fn replay(
    source: &dyn Source,
    after: Cursor,
    generation: u64,
    topic: &str,
    out: &mpsc::Sender<(String, CatchUpMessage)>,
) -> Result<Replay, Failure> {
    let (from, _) = after.replay_from();
    if from == 0 {
        // 0 asks the service for a snapshot: the client holds nothing we can continue.
        return Ok(Replay::Resync(ResyncReason::TooOld));
    }
    let mut stream = source
        .watch(from)
        .await
        .map_err(|status| Failure::Upstream(None, status))?;
    let mut numbering = Numbering::new(source.unique_numbers());
    let mut position = after;
    let mut progressed = false;
    while let Some(event) = stream.next().await {
        let event =
            event.map_err(|status| Failure::Upstream(progressed.then_some(position), status))?;
        match event {
            SourceEvent::Resync(reason) => {
                return Ok(Replay::Resync(match reason {
                    UpstreamResync::Unknown => ResyncReason::UnknownCursor,
                    UpstreamResync::TooOld | UpstreamResync::Other => ResyncReason::TooOld,
                }));
            }
            SourceEvent::Change { number, kind, data } => {
                let cursor = numbering.next(number);
                if !position.precedes(cursor) {
                    continue;
                }
                let frame = event_frame(topic, source.number_name(), cursor, number, kind, &data);
                let message = CatchUpMessage::Frame {
                    generation,
                    frame,
                    cursor,
                };
                if out.send((topic.to_string(), message)).await.is_err() {
                    return Err(Failure::Closed);
                }
                position = cursor;
                progressed = true;
            }
            SourceEvent::Synced { .. } => {
                // Everything up to the last replayed number is complete now.
                if let Cursor::Within(number, _) = position
                    && progressed
                {
                    position = Cursor::Through(number);
                }
                return Ok(Replay::Done(position));
            }
            SourceEvent::Heartbeat { .. } | SourceEvent::Snapshot { .. } => {}
        }
    }
    Err(Failure::Upstream(
        progressed.then_some(position),
        Status::unavailable("the stream ended before its replay was complete"),
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use futures::future::BoxFuture;
    use tokio::sync::watch;

    use super::*;
    use crate::error::Dependency;
    use crate::ws::feed::{Attach, Entry, Read};
    use crate::ws::source::SourceStream;

    /// A service stream given as a script: each `watch` call plays the next one and records
    /// the number it was asked to start after.
    struct Script {
        current: u64,
        streams: Mutex<VecDeque<Vec<SourceEvent>>>,
        asked: Mutex<Vec<u64>>,
    }

    impl Source for Script {
        fn topic(&self) -> &str {
            "inventory"
        }
        fn dependency(&self) -> Dependency {
            Dependency::Inventory
        }
        fn unique_numbers(&self) -> bool {
            false
        }
        fn number_name(&self) -> &'static str {
            "revision"
        }
        fn watch(&self, after: u64) -> BoxFuture<'static, Result<SourceStream, Status>> {
            self.asked
                .lock()
                .map(|mut a| a.push(after))
                .unwrap_or_default();
            let events = self
                .streams
                .lock()
                .ok()
                .and_then(|mut s| s.pop_front())
                .unwrap_or_default();
            Box::pin(async move { Ok(futures::stream::iter(events.into_iter().map(Ok)).boxed()) })
        }
        fn current(&self) -> BoxFuture<'static, Result<u64, Status>> {
            let current = self.current;
            Box::pin(async move { Ok(current) })
        }
    }

    fn change(number: u64, name: &str) -> SourceEvent {
        SourceEvent::Change {
            number,
            kind: "vm_upserted",
            data: format!("{{\"name\":\"{name}\"}}"),
        }
    }

    fn names(feed: &Feed, from: u64) -> Vec<String> {
        let Read::Entries { entries, .. } = feed.read(from, 100) else {
            panic!("lagged");
        };
        entries
            .into_iter()
            .map(|entry| match entry {
                Entry::Event { cursor, frame } => {
                    let value: serde_json::Value =
                        serde_json::from_str(frame.as_str()).unwrap_or_default();
                    format!("{cursor}:{}", value["data"]["name"].as_str().unwrap_or("?"))
                }
                Entry::Reset { cursor } => format!("reset@{cursor}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn the_feed_starts_at_the_current_number_resumes_without_repeats_and_drops_snapshots() {
        let script = Arc::new(Script {
            current: 10,
            streams: Mutex::new(VecDeque::from([
                // First stream: synced at 10, two events of 11, one of 12, then it breaks.
                vec![
                    SourceEvent::Synced { number: 10 },
                    change(11, "a"),
                    change(11, "b"),
                    change(12, "c"),
                ],
                // Resumed from 11 (the head was 12.1): 12's first event again, then new.
                vec![
                    change(12, "c"),
                    change(12, "d"),
                    SourceEvent::Synced { number: 12 },
                    change(13, "e"),
                ],
                // The service restarted: a snapshot, which clients must not receive.
                vec![
                    SourceEvent::Resync(UpstreamResync::Unknown),
                    change(3, "snapshot-1"),
                    change(3, "snapshot-2"),
                    SourceEvent::Synced { number: 3 },
                    change(4, "f"),
                ],
            ])),
            asked: Mutex::new(Vec::new()),
        });
        let (tick, _) = watch::channel(0);
        let feed = Feed::new("inventory", 64, tick);
        for _ in 0..3 {
            let outcome = follow_once(&feed, script.as_ref()).await;
            assert!(matches!(outcome, Ok(true)));
        }
        let asked = script.asked.lock().map(|a| a.clone()).unwrap_or_default();
        assert_eq!(asked, [10, 11, 12]);
        assert_eq!(
            names(&feed, 0),
            [
                "11.1:a", "11.2:b", "12.1:c", "12.2:d", "13.1:e", "reset@3", "4.1:f"
            ]
        );
        assert_eq!(feed.head(), Some(Cursor::Within(4, 1)));
        // A reader of the new history starts after the reset.
        assert!(matches!(
            feed.attach(Some(Cursor::Through(3))),
            Attach::At { next_seq: 6, .. }
        ));
    }
}
