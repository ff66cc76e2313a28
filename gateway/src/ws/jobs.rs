//! The jobs topics. [`JobsSource`] is a [`Source`] over `Jobs.Watch`: of all jobs (topic
//! `jobs`) or of one (`jobs:<id>`); event ids are global and unique per event, so cursors
//! are plain numbers and a cursor of either topic serves the other. [`JobTopics`] opens the
//! one stream of a `jobs:<id>` topic when its first client subscribes, shares it with every
//! client of that job, and closes it `job_topic_linger` after the last one left (a client
//! that reconnects within that time resumes from the gateway's buffer).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aetherv_proto::jobs::v1 as pb;
use aetherv_proto::jobs::v1::job_event::Event;
use aetherv_runtime::{CallContext, ErrorCode};
use futures::StreamExt;
use futures::future::BoxFuture;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::Status;

use super::TopicFeed;
use super::cursor::Cursor;
use super::feed::Feed;
use super::source::{Source, SourceEvent, SourceStream, UpstreamResync, gateway_context};
use super::upstream;
use crate::api::jobs::check_job_id;
use crate::error::{Dependency, HttpError};
use crate::model::jobs::event_json;
use crate::upstream::Upstream;

/// `Jobs.Watch` of all jobs, or of one.
#[derive(Debug, Clone)]
pub struct JobsSource {
    upstream: Upstream,
    context: CallContext,
    topic: String,
    job_id: String,
}

impl JobsSource {
    /// All jobs: topic `jobs`.
    pub fn all(upstream: Upstream) -> JobsSource {
        JobsSource {
            upstream,
            context: gateway_context(),
            topic: "jobs".to_string(),
            job_id: String::new(),
        }
    }

    /// One job: topic `jobs:<id>`.
    pub fn one(upstream: Upstream, job_id: &str) -> JobsSource {
        JobsSource {
            upstream,
            context: gateway_context(),
            topic: format!("jobs:{job_id}"),
            job_id: job_id.to_string(),
        }
    }
}

/// Converts one `JobEvent`; `None` for an event without a body.
pub fn convert(event: pb::JobEvent) -> Option<SourceEvent> {
    let number = event.event_id;
    Some(match event.event.as_ref()? {
        Event::Resync(resync) => {
            SourceEvent::Resync(match pb::ResyncReason::try_from(resync.reason) {
                Ok(pb::ResyncReason::Initial | pb::ResyncReason::TooOld) => UpstreamResync::TooOld,
                Ok(pb::ResyncReason::UnknownEventId) => UpstreamResync::Unknown,
                _ => UpstreamResync::Other,
            })
        }
        Event::Snapshot(_) => SourceEvent::Snapshot { number },
        Event::Synced(synced) => SourceEvent::Synced {
            number: synced.event_id,
        },
        Event::Heartbeat(beat) => SourceEvent::Heartbeat {
            number: beat.event_id,
        },
        _ => {
            let (kind, data) = event_json(&event)?;
            SourceEvent::Change {
                number,
                kind,
                data: data.to_string(),
            }
        }
    })
}

impl Source for JobsSource {
    fn topic(&self) -> &str {
        &self.topic
    }

    fn dependency(&self) -> Dependency {
        Dependency::Jobs
    }

    fn unique_numbers(&self) -> bool {
        true
    }

    fn number_name(&self) -> &'static str {
        "event_id"
    }

    fn watch(&self, after: u64) -> BoxFuture<'static, Result<SourceStream, Status>> {
        let mut client = self.upstream.jobs(&self.context);
        let request = pb::WatchJobsRequest {
            job_id: self.job_id.clone(),
            from_event_id: after,
            include_output: false,
        };
        Box::pin(async move {
            let stream = client.watch(request).await?.into_inner();
            Ok(stream
                .filter_map(|item| async move {
                    match item {
                        Ok(event) => convert(event).map(Ok),
                        Err(status) => Some(Err(status)),
                    }
                })
                .boxed())
        })
    }

    /// The service's latest event id: the `resync` that opens a watch from 0 says it (the
    /// snapshot after it is not read).
    fn current(&self) -> BoxFuture<'static, Result<u64, Status>> {
        let mut client = self.upstream.jobs(&self.context);
        let request = pb::WatchJobsRequest {
            job_id: self.job_id.clone(),
            from_event_id: 0,
            include_output: false,
        };
        let timeout = self.upstream.request_timeout();
        Box::pin(async move {
            let first = tokio::time::timeout(timeout, async move {
                let mut stream = client.watch(request).await?.into_inner();
                stream.message().await
            })
            .await
            .map_err(|_| Status::deadline_exceeded("jobs did not open a watch in time"))??;
            match first.and_then(|event| event.event) {
                Some(Event::Resync(resync)) => Ok(resync.current_event_id),
                _ => Err(Status::internal("jobs watch did not start with resync")),
            }
        })
    }

    fn ends_when_not_found(&self) -> bool {
        !self.job_id.is_empty()
    }
}

/// Ends a `jobs:<id>` stream when the last handle goes.
#[derive(Debug)]
pub struct Lease(CancellationToken);

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

struct Followed {
    topic: TopicFeed,
    lease: Arc<Lease>,
    unused_since: Option<Instant>,
}

/// The `jobs:<id>` topics being followed.
pub struct JobTopics {
    upstream: Upstream,
    followed: Mutex<HashMap<String, Followed>>,
    max: usize,
    linger: Duration,
    replay_buffer: usize,
    tick: watch::Sender<u64>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl JobTopics {
    /// Follows job topics through `upstream`, and closes unused ones until `shutdown`.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        upstream: Upstream,
        max: usize,
        linger: Duration,
        replay_buffer: usize,
        tick: watch::Sender<u64>,
        shutdown: CancellationToken,
        tasks: TaskTracker,
    ) -> Arc<JobTopics> {
        let topics = Arc::new(JobTopics {
            upstream,
            followed: Mutex::new(HashMap::new()),
            max,
            linger,
            replay_buffer,
            tick,
            shutdown: shutdown.clone(),
            tasks: tasks.clone(),
        });
        let sweeper = topics.clone();
        tasks.spawn(async move {
            let every =
                (sweeper.linger / 4).clamp(Duration::from_millis(250), Duration::from_secs(15));
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(every) => sweeper.sweep(Instant::now()),
                }
            }
            sweeper.lock().clear();
        });
        topics
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Followed>> {
        self.followed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Closes the streams nobody used for `linger`, and the ended ones.
    fn sweep(&self, now: Instant) {
        let mut followed = self.lock();
        followed.retain(|_, entry| {
            if entry.topic.feed.closed().is_some() && Arc::strong_count(&entry.lease) == 1 {
                return false;
            }
            if Arc::strong_count(&entry.lease) > 1 {
                entry.unused_since = None;
                return true;
            }
            let since = *entry.unused_since.get_or_insert(now);
            now.duration_since(since) < self.linger
        });
    }

    /// How many job topics are followed now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no job topic is followed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn existing(&self, topic: &str) -> Option<TopicFeed> {
        let mut followed = self.lock();
        let entry = followed.get(topic)?;
        if entry.topic.feed.closed().is_some() {
            followed.remove(topic);
            return None;
        }
        Some(entry.topic.clone())
    }

    /// The feed of `jobs:<job_id>`, opening its stream when nobody follows it yet (its
    /// history then starts after the first client's cursor, `after`). Unknown job:
    /// NOT_FOUND; too many followed: RESOURCE_EXHAUSTED.
    pub async fn resolve(
        &self,
        job_id: &str,
        after: Option<Cursor>,
    ) -> Result<TopicFeed, HttpError> {
        let job_id = check_job_id("topic", job_id)?;
        let topic = format!("jobs:{job_id}");
        if let Some(feed) = self.existing(&topic) {
            return Ok(feed);
        }
        // Is there such a job? (A service that does not answer is not a no: the topic
        // then reports itself down until the service is back.)
        let mut client = self.upstream.jobs(&gateway_context());
        let request = self.upstream.request(pb::GetJobRequest {
            job_id: job_id.clone(),
            include_output: false,
        });
        if let Ok(Err(status)) =
            tokio::time::timeout(self.upstream.request_timeout(), client.get(request)).await
            && matches!(
                status.code(),
                tonic::Code::NotFound | tonic::Code::InvalidArgument
            )
        {
            return Err(
                HttpError::new(ErrorCode::NotFound, format!("job {job_id:?}: not found"))
                    .with_detail("job_id", job_id),
            );
        }
        let mut followed = self.lock();
        if let Some(entry) = followed.get(&topic)
            && entry.topic.feed.closed().is_none()
        {
            return Ok(entry.topic.clone());
        }
        if followed.len() >= self.max {
            return Err(HttpError::new(
                ErrorCode::ResourceExhausted,
                format!(
                    "topic {topic:?}: {} jobs are followed one by one already (websocket.max_job_topics); subscribe to \"jobs\" and filter",
                    self.max
                ),
            ));
        }
        let source: Arc<dyn Source> = Arc::new(JobsSource::one(self.upstream.clone(), &job_id));
        let feed = Arc::new(Feed::new(&topic, self.replay_buffer, self.tick.clone()));
        let stop = self.shutdown.child_token();
        let lease = Arc::new(Lease(stop.clone()));
        self.tasks.spawn(upstream::follow(
            feed.clone(),
            source.clone(),
            stop,
            after.map(Cursor::number),
        ));
        let entry = TopicFeed {
            feed,
            source,
            lease: Some(lease.clone()),
        };
        followed.insert(
            topic,
            Followed {
                topic: entry.clone(),
                lease,
                unused_since: None,
            },
        );
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_snapshots_and_markers_convert() {
        let created = pb::JobEvent {
            event_id: 11,
            job_id: "job-1".to_string(),
            time: None,
            event: Some(Event::Created(pb::Job {
                id: "job-1".to_string(),
                ..pb::Job::default()
            })),
        };
        let Some(SourceEvent::Change { number, kind, data }) = convert(created) else {
            panic!("a creation is a change");
        };
        assert_eq!((number, kind), (11, "job_created"));
        assert!(data.contains("\"job_id\":\"job-1\""));
        let snapshot = pb::JobEvent {
            event_id: 9,
            event: Some(Event::Snapshot(pb::Job::default())),
            ..pb::JobEvent::default()
        };
        assert_eq!(convert(snapshot), Some(SourceEvent::Snapshot { number: 9 }));
        let synced = pb::JobEvent {
            event: Some(Event::Synced(pb::Synced { event_id: 12 })),
            ..pb::JobEvent::default()
        };
        assert_eq!(convert(synced), Some(SourceEvent::Synced { number: 12 }));
    }
}
