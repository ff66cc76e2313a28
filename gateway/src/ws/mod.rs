//! The `/ws` hub. Each topic has one upstream gRPC stream per gateway (not one per browser)
//! that fills a bounded shared ring ([`feed`]); each connection reads the rings of its
//! topics at its own pace ([`connection`]). Clients resume from a cursor: the ring replays
//! it when it still can, otherwise a private replay from the service's own history catches
//! the client up first ([`upstream::catch_up`]). A client that falls behind gets `resync`.
//!
//! Topics: `inventory` ([`source::InventorySource`]), `jobs` and `jobs:<id>`
//! ([`jobs::JobsSource`]; a `jobs:<id>` stream is opened on demand by [`jobs::JobTopics`]
//! and shared by the clients of that job) and `notifications`
//! ([`notifications::NotificationsSource`]), each present when its service is configured.

pub mod connection;
pub mod cursor;
pub mod feed;
pub mod jobs;
pub mod notifications;
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

use self::cursor::Cursor;
use self::feed::Feed;
use self::jobs::{JobTopics, JobsSource, Lease};
use self::notifications::NotificationsSource;
use self::source::{InventorySource, Source};

/// A topic's ring and the service that fills it.
#[derive(Clone)]
pub struct TopicFeed {
    /// The shared ring.
    pub feed: Arc<Feed>,
    /// The service.
    pub source: Arc<dyn Source>,
    /// Keeps a `jobs:<id>` stream open while held.
    pub lease: Option<Arc<Lease>>,
}

/// Bytes a connection buffers before writing to its socket (and waiting when it is full).
const WRITE_BUFFER: usize = 32 * 1024;

/// Every topic name, and the service each needs.
const TOPICS: [(&str, Dependency); 4] = [
    ("inventory", Dependency::Inventory),
    ("jobs", Dependency::Jobs),
    ("jobs:<job id>", Dependency::Jobs),
    ("notifications", Dependency::Notifications),
];

/// The hub: topics, limits, and the handles connections share.
pub struct Hub {
    config: WebSocketConfig,
    dev_mode: bool,
    topics: Vec<TopicFeed>,
    job_topics: Option<Arc<JobTopics>>,
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
        let mut sources: Vec<Arc<dyn Source>> = Vec::new();
        if let Some(inventory) = upstreams.get(Dependency::Inventory) {
            sources.push(Arc::new(InventorySource::new(inventory.clone())));
        }
        if let Some(jobs) = upstreams.get(Dependency::Jobs) {
            sources.push(Arc::new(JobsSource::all(jobs.clone())));
        }
        if let Some(notifications) = upstreams.get(Dependency::Notifications) {
            sources.push(Arc::new(NotificationsSource::new(notifications.clone())));
        }
        let topics = sources
            .into_iter()
            .map(|source| {
                let feed = Arc::new(Feed::new(
                    source.topic(),
                    config.replay_buffer,
                    tick.clone(),
                ));
                tasks.spawn(upstream::follow(
                    feed.clone(),
                    source.clone(),
                    shutdown.clone(),
                    None,
                ));
                TopicFeed {
                    feed,
                    source,
                    lease: None,
                }
            })
            .collect();
        let job_topics = upstreams.get(Dependency::Jobs).map(|jobs| {
            JobTopics::start(
                jobs.clone(),
                config.max_job_topics,
                config.job_topic_linger,
                config.replay_buffer,
                tick.clone(),
                shutdown.clone(),
                tasks.clone(),
            )
        });
        Arc::new(Hub {
            config: config.clone(),
            dev_mode,
            topics,
            job_topics,
            tick,
            connections: Arc::new(Semaphore::new(config.max_connections)),
            catch_ups: Arc::new(Semaphore::new(config.catch_up_concurrency)),
            shutdown,
            tasks,
        })
    }

    /// The topics available (`jobs:<job id>` stands for every job).
    pub fn topic_names(&self) -> Vec<&'static str> {
        TOPICS
            .iter()
            .filter(|(name, _)| {
                let base = name.split_once(':').map_or(*name, |(base, _)| base);
                self.topics.iter().any(|t| t.source.topic() == base)
            })
            .map(|(name, _)| *name)
            .collect()
    }

    /// The position of a fixed topic's ring (`inventory`, `jobs`, `notifications`) now:
    /// where a client that read REST data at this moment subscribes without a gap.
    pub fn head(&self, topic: &str) -> Option<Cursor> {
        let feed = &self.topics.iter().find(|t| t.source.topic() == topic)?.feed;
        if feed.is_established() {
            feed.head()
        } else {
            None
        }
    }

    /// How many `jobs:<id>` topics are followed now.
    pub fn job_topics(&self) -> usize {
        self.job_topics.as_ref().map_or(0, |topics| topics.len())
    }

    /// The feed of a topic, or why it cannot be subscribed: unknown (400), its service not
    /// configured (503), an unknown job (404), too many jobs followed (429).
    pub async fn resolve(&self, name: &str, after: Option<Cursor>) -> Result<TopicFeed, HttpError> {
        if let Some(topic) = self.topics.iter().find(|t| t.source.topic() == name) {
            return Ok(topic.clone());
        }
        if let Some(job_id) = name.strip_prefix("jobs:")
            && let Some(job_topics) = &self.job_topics
        {
            return job_topics.resolve(job_id, after).await;
        }
        let base = name.split_once(':').map_or(name, |(base, _)| base);
        if let Some((_, dependency)) = TOPICS.iter().find(|(known, _)| {
            known.split_once(':').map_or(*known, |(b, _)| b) == base
                && (*known == name || base == "jobs")
        }) {
            return Err(HttpError::unavailable(*dependency, "not configured")
                .with_detail("topic", name.chars().take(128).collect::<String>()));
        }
        let shown: String = name.chars().take(64).collect();
        let names: Vec<&str> = TOPICS.iter().map(|(name, _)| *name).collect();
        Err(HttpError::new(
            ErrorCode::InvalidArgument,
            format!("topic {shown:?}: unknown (topics: {})", names.join(", ")),
        )
        .with_allowed(&names))
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
