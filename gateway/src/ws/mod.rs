//! The `/ws` hub. Each topic has one upstream gRPC stream per gateway (not one per browser)
//! that fills a bounded shared ring ([`feed`]); each connection reads the rings of its
//! topics at its own pace ([`connection`]). Clients resume from a cursor: the ring replays
//! it when it still can, otherwise a private replay from the service's own history catches
//! the client up first ([`upstream::catch_up`]). A client that falls behind gets `resync`.
//!
//! Topics today: `inventory` ([`source::InventorySource`]). `jobs`, `jobs:<id>` and
//! `notifications` are reserved: the next release adds a [`source::Source`] for each (and a
//! filter of the `jobs` feed for `jobs:<id>`), and [`Hub::resolve`] starts answering them.

pub mod connection;
pub mod cursor;
pub mod feed;
pub mod protocol;
pub mod source;
pub mod upstream;

use std::sync::Arc;

use aetherv_runtime::ErrorCode;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::response::{IntoResponse, Response};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::WebSocketConfig;
use crate::error::{Dependency, HttpError};
use crate::upstream::Upstreams;

use self::feed::Feed;
use self::source::{InventorySource, Source};

/// A topic's ring and the service that fills it.
#[derive(Clone)]
pub struct TopicFeed {
    /// The shared ring.
    pub feed: Arc<Feed>,
    /// The service.
    pub source: Arc<dyn Source>,
}

/// Bytes a connection buffers before writing to its socket (and waiting when it is full).
const WRITE_BUFFER: usize = 32 * 1024;

/// Topic names reserved for the next release, and the service each needs.
const RESERVED: [(&str, Dependency); 2] = [
    ("jobs", Dependency::Jobs),
    ("notifications", Dependency::Notifications),
];

/// The hub: topics, limits, and the handles connections share.
pub struct Hub {
    config: WebSocketConfig,
    dev_mode: bool,
    topics: Vec<TopicFeed>,
    tick: watch::Sender<u64>,
    connections: Arc<Semaphore>,
    catch_ups: Arc<Semaphore>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Hub {
    /// Creates the topics of the configured services and starts their upstream streams
    /// (owned by `tasks`, stopped by `shutdown`).
    pub fn start(
        config: &WebSocketConfig,
        dev_mode: bool,
        upstreams: &Upstreams,
        shutdown: CancellationToken,
        tasks: TaskTracker,
    ) -> Arc<Hub> {
        let (tick, _) = watch::channel(0_u64);
        let mut topics = Vec::new();
        if let Some(inventory) = upstreams.get(Dependency::Inventory) {
            let source: Arc<dyn Source> = Arc::new(InventorySource::new(inventory.clone()));
            let feed = Arc::new(Feed::new(
                source.topic(),
                config.replay_buffer,
                tick.clone(),
            ));
            tasks.spawn(upstream::follow(
                feed.clone(),
                source.clone(),
                shutdown.clone(),
            ));
            topics.push(TopicFeed { feed, source });
        }
        Arc::new(Hub {
            config: config.clone(),
            dev_mode,
            topics,
            tick,
            connections: Arc::new(Semaphore::new(config.max_connections)),
            catch_ups: Arc::new(Semaphore::new(config.catch_up_concurrency)),
            shutdown,
            tasks,
        })
    }

    /// The topics available now.
    pub fn topic_names(&self) -> Vec<&'static str> {
        self.topics.iter().map(|t| t.source.topic()).collect()
    }

    /// The feed of a topic, or why it cannot be subscribed: unknown (400), reserved for the
    /// next release or its service not configured (503).
    pub fn resolve(&self, name: &str) -> Result<TopicFeed, HttpError> {
        if let Some(topic) = self.topics.iter().find(|t| t.source.topic() == name) {
            return Ok(topic.clone());
        }
        if name == "inventory" {
            return Err(HttpError::unavailable(
                Dependency::Inventory,
                "not configured",
            ));
        }
        let base = name.split_once(':').map_or(name, |(base, _)| base);
        if let Some((_, dependency)) = RESERVED
            .iter()
            .find(|(reserved, _)| *reserved == base && (name == base || base == "jobs"))
        {
            return Err(HttpError::new(
                ErrorCode::Unavailable,
                format!("topic {name:?}: not available in this release (it needs the {dependency} service)"),
            )
            .with_detail("dependency", dependency.as_str()));
        }
        let shown: String = name.chars().take(64).collect();
        Err(HttpError::new(
            ErrorCode::InvalidArgument,
            format!(
                "topic {shown:?}: unknown (topics: inventory, jobs, jobs:<job id>, notifications)"
            ),
        )
        .with_allowed(&["inventory", "jobs", "jobs:<job id>", "notifications"]))
    }

    /// The `/ws` route: checks the connection limit, then upgrades.
    pub fn upgrade(
        self: &Arc<Hub>,
        upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
        connection_id: String,
    ) -> Response {
        let upgrade = match upgrade {
            Ok(upgrade) => upgrade,
            Err(rejection) => {
                return HttpError::new(
                    ErrorCode::InvalidArgument,
                    format!("not a websocket upgrade request: {rejection}"),
                )
                .into_response();
            }
        };
        let Ok(permit) = self.connections.clone().try_acquire_owned() else {
            return HttpError::new(
                ErrorCode::ResourceExhausted,
                format!(
                    "too many websocket connections (limit {})",
                    self.config.max_connections
                ),
            )
            .into_response();
        };
        let hub = self.clone();
        let tasks = self.tasks.clone();
        upgrade
            // The connection refuses messages over the limit with 1009; the protocol
            // library's own (larger) limit only stops absurd frames before they are read.
            .max_message_size(self.config.max_message_bytes.saturating_mul(2))
            .max_frame_size(self.config.max_message_bytes.saturating_mul(2))
            // A small write buffer: a client that stops reading blocks its connection's
            // writes soon (and then falls behind in the ring) instead of piling frames up
            // in the gateway's memory.
            .write_buffer_size(WRITE_BUFFER)
            .on_upgrade(move |socket| {
                tasks.track_future(connection::run(socket, hub, permit, connection_id))
            })
    }
}
