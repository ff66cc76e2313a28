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

/// Reconnect delays: doubling from the first to the last.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(5));

/// Keeps `feed` filled from `source` until `shutdown` fires.
pub async fn follow(feed: Arc<Feed>, source: Arc<dyn Source>, shutdown: CancellationToken) {
    let mut delay = BACKOFF.0;
    loop {
        let outcome = tokio::select! {
            () = shutdown.cancelled() => return,
            outcome = follow_once(&feed, source.as_ref()) => outcome,
        };
        match outcome {
            Ok(true) => delay = BACKOFF.0,
            Ok(false) => {}
            Err(status) => tracing::warn!(
                topic = feed.topic(),
                dependency = %source.dependency(),
                code = ?status.code(),
                message = status.message(),
                "websocket topic stream lost; reconnecting"
            ),
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
        delivered = true;
        match event? {
            SourceEvent::Resync(_) => {
                snapshot = true;
                skip = None;
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
            SourceEvent::Heartbeat { .. } => {}
        }
    }
    Err(Failure::Upstream(
        progressed.then_some(position),
        Status::unavailable("the stream ended before its replay was complete"),
    ))
}
