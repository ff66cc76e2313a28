//! One WebSocket connection: a single task that reads client messages, reads its topics'
//! shared rings at the pace the socket accepts (the socket's back-pressure is the client's
//! bounded buffer; the ring is the topic's), forwards catch-up replays, answers pings and
//! closes idle connections.
//!
//! A subscription is in one of three modes: `Live` (reading the ring from a sequence
//! number), `CatchingUp` (a private replay from the service is running; see
//! [`super::upstream::catch_up`]) or `Pending` (the topic's stream has not synced yet).
//! Whatever the mode, a change of the topic's upstream status is passed on as a
//! `topic_status` frame, and a topic that ended (a job that left the history) is dropped
//! with an `error` and an `unsubscribed` frame.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Error as WsError;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::SinkExt;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio_util::task::AbortOnDropHandle;

use super::cursor::Cursor;
use super::feed::{Attach, Entry, Read, ResyncReason};
use super::protocol::{self, ClientMessage, TopicRequest};
use super::upstream::{CatchUpMessage, catch_up};
use super::{Hub, TopicFeed};
use crate::error::HttpError;
use crate::model::now_rfc3339;
use aetherv_runtime::ErrorCode;

/// Entries read from a ring at once.
const READ_BATCH: usize = 256;
/// Catch-up rounds before a client is told to reload instead.
const MAX_CATCH_UP_ROUNDS: u32 = 3;
/// Catch-up messages buffered per connection.
const CATCH_UP_BUFFER: usize = 256;

type Sent = Result<(), WsError>;

enum Mode {
    Live { next_seq: u64 },
    CatchingUp,
    Pending,
}

struct Subscription {
    topic: TopicFeed,
    generation: u64,
    mode: Mode,
    /// The client's position: what it has (been told it has).
    position: Option<Cursor>,
    /// Events up to this were verified with the service but are not in the ring yet.
    skip: Option<Cursor>,
    synced_pending: bool,
    rounds: u32,
    /// The feed status version last passed on, and whether the client was told "down".
    status_seen: u64,
    told_down: bool,
    _catch_up: Option<AbortOnDropHandle<()>>,
}

struct Connection {
    hub: Arc<Hub>,
    socket: WebSocket,
    subscriptions: BTreeMap<String, Subscription>,
    next_generation: u64,
    catch_up_tx: mpsc::Sender<(String, CatchUpMessage)>,
}

/// Serves one upgraded connection until the client leaves, it idles out or the gateway
/// shuts down. `_permit` holds its place in the connection limit.
pub async fn run(socket: WebSocket, hub: Arc<Hub>, _permit: OwnedSemaphorePermit, id: String) {
    let started = Instant::now();
    let (catch_up_tx, mut catch_up_rx) = mpsc::channel(CATCH_UP_BUFFER);
    let mut tick = hub.tick.subscribe();
    let shutdown = hub.shutdown.clone();
    let idle = hub.config.idle_timeout;
    let max_message = hub.config.max_message_bytes;
    let mut connection = Connection {
        hub,
        socket,
        subscriptions: BTreeMap::new(),
        next_generation: 0,
        catch_up_tx,
    };
    let hello = protocol::hello(
        &id,
        connection.hub.dev_mode,
        &connection.hub.topic_names(),
        idle.as_secs(),
        connection.hub.config.ping_interval.as_secs(),
        connection.hub.config.max_topics,
        &now_rfc3339(),
    );
    let mut deadline = tokio::time::Instant::now() + idle;
    let ending: Result<Option<(u16, &str)>, WsError> = async {
        connection.socket.send(Message::Text(hello)).await?;
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return Ok(Some((1001, "server shutting down"))),
                message = connection.socket.recv() => {
                    deadline = tokio::time::Instant::now() + idle;
                    match message {
                        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(None),
                        Some(Ok(Message::Text(text))) if text.len() > max_message => {
                            return Ok(Some((1009, "message too big")));
                        }
                        Some(Ok(Message::Text(text))) => connection.on_text(text.as_str()).await?,
                        Some(Ok(Message::Binary(_))) => {
                            return Ok(Some((1003, "binary frames are not supported")));
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    }
                }
                Some((topic, message)) = catch_up_rx.recv() => {
                    connection.on_catch_up(&topic, message).await?;
                }
                changed = tick.changed() => {
                    if changed.is_err() {
                        return Ok(Some((1001, "server shutting down")));
                    }
                    connection.pump_all().await?;
                }
                () = tokio::time::sleep_until(deadline) => return Ok(Some((1000, "idle timeout"))),
            }
        }
    }
    .await;
    let reason = match ending {
        Ok(Some((code, reason))) => {
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from(reason),
            };
            let _ = connection.socket.send(Message::Close(Some(frame))).await;
            reason.to_string()
        }
        Ok(None) => "closed by the client".to_string(),
        Err(error) => format!("socket error: {error}"),
    };
    tracing::info!(
        connection_id = %id,
        duration_ms = started.elapsed().as_millis() as u64,
        topics = ?connection.subscriptions.keys().collect::<Vec<_>>(),
        reason,
        "websocket closed"
    );
}

impl Connection {
    async fn send(&mut self, frame: Utf8Bytes) -> Sent {
        self.socket.send(Message::Text(frame)).await
    }

    async fn on_text(&mut self, text: &str) -> Sent {
        let message = match protocol::parse(text) {
            Ok(message) => message,
            Err(error) => return self.send(protocol::error(None, &error)).await,
        };
        match message {
            ClientMessage::Ping(id) => self.send(protocol::pong(id, &now_rfc3339())).await,
            ClientMessage::Unsubscribe(topics) => {
                for topic in topics {
                    self.subscriptions.remove(&topic);
                    self.send(protocol::unsubscribed(&topic)).await?;
                }
                Ok(())
            }
            ClientMessage::Subscribe(requests) => {
                for request in requests {
                    self.subscribe(request).await?;
                }
                Ok(())
            }
        }
    }

    async fn subscribe(&mut self, request: TopicRequest) -> Sent {
        let topic = match self.hub.resolve(&request.topic, request.after).await {
            Ok(topic) => topic,
            Err(error) => {
                return self
                    .send(protocol::error(Some(&request.topic), &error))
                    .await;
            }
        };
        let limit = self.hub.config.max_topics;
        if !self.subscriptions.contains_key(&request.topic) && self.subscriptions.len() >= limit {
            let error = HttpError::new(
                ErrorCode::ResourceExhausted,
                format!("topics: at most {limit} subscriptions per connection"),
            );
            return self
                .send(protocol::error(Some(&request.topic), &error))
                .await;
        }
        self.next_generation += 1;
        let status = topic.feed.status();
        let mut subscription = Subscription {
            topic,
            generation: self.next_generation,
            mode: Mode::Pending,
            position: request.after,
            skip: None,
            synced_pending: true,
            rounds: 0,
            status_seen: status.version,
            told_down: !status.up,
            _catch_up: None,
        };
        self.send(protocol::subscribed(&request.topic, request.after))
            .await?;
        if !status.up {
            self.send(protocol::topic_status(&request.topic, &status))
                .await?;
        }
        let head = subscription.topic.feed.head();
        match (subscription.topic.feed.attach(request.after), request.after) {
            (Attach::At { next_seq, cursor }, _) => {
                subscription.mode = Mode::Live { next_seq };
                subscription.position = Some(cursor);
            }
            // A REST revision equal to the ring's last one (whose events may not all have
            // arrived yet): continue at the end, skipping what the client has.
            (Attach::Ahead { next_seq }, Some(after))
                if head.is_some_and(|head| after.number() <= head.number()) =>
            {
                subscription.mode = Mode::Live { next_seq };
                subscription.skip = Some(after);
            }
            (Attach::NotReady, None) => subscription.mode = Mode::Pending,
            (Attach::TooOld | Attach::Ahead { .. } | Attach::NotReady, Some(after)) => {
                start_catch_up(&self.hub, &self.catch_up_tx, &mut subscription, after);
            }
            (Attach::TooOld | Attach::Ahead { .. }, None) => subscription.mode = Mode::Pending,
        }
        let live = matches!(subscription.mode, Mode::Live { .. });
        self.subscriptions
            .insert(request.topic.clone(), subscription);
        if live {
            self.pump(&request.topic).await?;
            self.socket.flush().await?;
        }
        Ok(())
    }

    async fn on_catch_up(&mut self, topic: &str, message: CatchUpMessage) -> Sent {
        let Some(subscription) = self.subscriptions.get_mut(topic) else {
            return Ok(());
        };
        let generation = match &message {
            CatchUpMessage::Frame { generation, .. }
            | CatchUpMessage::Done { generation, .. }
            | CatchUpMessage::Resync { generation, .. } => *generation,
        };
        if generation != subscription.generation {
            return Ok(());
        }
        match message {
            CatchUpMessage::Frame { frame, cursor, .. } => {
                subscription.position = Some(cursor);
                return self.send(frame).await;
            }
            CatchUpMessage::Done { cursor, .. } => {
                subscription._catch_up = None;
                subscription.position = Some(cursor);
                match subscription.topic.feed.attach(Some(cursor)) {
                    Attach::At { next_seq, .. } => subscription.mode = Mode::Live { next_seq },
                    Attach::Ahead { next_seq } => {
                        subscription.mode = Mode::Live { next_seq };
                        subscription.skip = Some(cursor);
                    }
                    Attach::TooOld | Attach::NotReady => {
                        if subscription.rounds < MAX_CATCH_UP_ROUNDS {
                            start_catch_up(&self.hub, &self.catch_up_tx, subscription, cursor);
                            return Ok(());
                        }
                        return self.resync(topic, ResyncReason::TooOld).await;
                    }
                }
            }
            CatchUpMessage::Resync { reason, .. } => {
                subscription._catch_up = None;
                return self.resync(topic, reason).await;
            }
        }
        self.pump(topic).await?;
        self.socket.flush().await
    }

    /// Tells the client to reload `topic` and continues it live from the ring's end.
    async fn resync(&mut self, topic: &str, reason: ResyncReason) -> Sent {
        let Some(subscription) = self.subscriptions.get_mut(topic) else {
            return Ok(());
        };
        subscription.skip = None;
        match subscription.topic.feed.attach(None) {
            Attach::At { next_seq, cursor } => {
                subscription.mode = Mode::Live { next_seq };
                subscription.position = Some(cursor);
            }
            _ => {
                subscription.mode = Mode::Pending;
                subscription.position = None;
            }
        }
        let frame = protocol::resync(topic, reason, subscription.position);
        self.send(frame).await?;
        self.pump(topic).await?;
        self.socket.flush().await
    }

    async fn pump_all(&mut self) -> Sent {
        let topics: Vec<String> = self.subscriptions.keys().cloned().collect();
        for topic in topics {
            self.status(&topic).await?;
            self.pump(&topic).await?;
        }
        self.socket.flush().await
    }

    /// Passes on a change of the topic's upstream status; drops a topic that ended.
    async fn status(&mut self, topic: &str) -> Sent {
        let Some(subscription) = self.subscriptions.get_mut(topic) else {
            return Ok(());
        };
        if let Some(error) = subscription.topic.feed.closed() {
            self.subscriptions.remove(topic);
            self.socket
                .feed(Message::Text(protocol::error(Some(topic), &error)))
                .await?;
            return self
                .socket
                .feed(Message::Text(protocol::unsubscribed(topic)))
                .await;
        }
        let status = subscription.topic.feed.status();
        if status.version == subscription.status_seen {
            return Ok(());
        }
        subscription.status_seen = status.version;
        if status.up && !subscription.told_down {
            return Ok(());
        }
        subscription.told_down = !status.up;
        self.socket
            .feed(Message::Text(protocol::topic_status(topic, &status)))
            .await
    }

    /// Sends what the ring holds for `topic` past the subscription's sequence number (and
    /// `synced` once it has caught up), without flushing.
    async fn pump(&mut self, topic: &str) -> Sent {
        loop {
            let Some(subscription) = self.subscriptions.get_mut(topic) else {
                return Ok(());
            };
            let next_seq = match subscription.mode {
                Mode::Live { next_seq } => next_seq,
                Mode::CatchingUp => return Ok(()),
                Mode::Pending => match subscription.topic.feed.attach(None) {
                    Attach::At { next_seq, cursor } => {
                        subscription.position = Some(cursor);
                        next_seq
                    }
                    _ => return Ok(()),
                },
            };
            let mut frames = Vec::new();
            let done = match subscription.topic.feed.read(next_seq, READ_BATCH) {
                Read::Lagged {
                    next_seq: end,
                    head,
                } => {
                    tracing::debug!(topic, from = next_seq, end, "websocket reader fell behind");
                    let next_seq = end;
                    subscription.mode = Mode::Live { next_seq };
                    subscription.position = head;
                    subscription.skip = None;
                    frames.push(protocol::resync(topic, ResyncReason::FellBehind, head));
                    false
                }
                Read::Entries {
                    entries,
                    next_seq,
                    at_end,
                    head,
                } => {
                    subscription.mode = Mode::Live { next_seq };
                    for entry in entries {
                        match entry {
                            Entry::Event { cursor, frame } => {
                                if subscription.skip.is_none_or(|skip| skip.precedes(cursor)) {
                                    subscription.skip = None;
                                    subscription.position = Some(cursor);
                                    frames.push(frame);
                                }
                            }
                            Entry::Reset { cursor } => {
                                subscription.skip = None;
                                subscription.position = Some(cursor);
                                frames.push(protocol::resync(
                                    topic,
                                    ResyncReason::UpstreamReset,
                                    Some(cursor),
                                ));
                            }
                        }
                    }
                    if at_end && subscription.synced_pending {
                        subscription.synced_pending = false;
                        subscription.position = subscription.position.max(head);
                        frames.push(protocol::synced(topic, subscription.position));
                    }
                    at_end
                }
            };
            for frame in frames {
                self.socket.feed(Message::Text(frame)).await?;
            }
            if done {
                return Ok(());
            }
        }
    }
}

/// Starts a private replay of the subscription's topic after `after`.
fn start_catch_up(
    hub: &Hub,
    out: &mpsc::Sender<(String, CatchUpMessage)>,
    subscription: &mut Subscription,
    after: Cursor,
) {
    tracing::debug!(topic = subscription.topic.feed.topic(), %after, round = subscription.rounds + 1, "websocket catch-up from the service");
    let permits = hub.catch_ups.clone();
    let source = subscription.topic.source.clone();
    let feed = subscription.topic.feed.clone();
    let generation = subscription.generation;
    let out = out.clone();
    let task = tokio::spawn(async move {
        let Ok(_permit) = permits.acquire_owned().await else {
            return;
        };
        catch_up(source, feed, after, generation, out).await;
    });
    subscription.mode = Mode::CatchingUp;
    subscription.rounds += 1;
    subscription._catch_up = Some(AbortOnDropHandle::new(task));
}
