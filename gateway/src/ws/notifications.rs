//! The `notifications` topic: a [`Source`] over `Notifications.Subscribe`. Event ids are
//! unique per event, so cursors are plain numbers.

use aetherv_proto::notifications::v1 as pb;
use aetherv_proto::notifications::v1::notification_event::Event;
use aetherv_runtime::CallContext;
use futures::StreamExt;
use futures::future::BoxFuture;
use tonic::Status;

use super::source::{Source, SourceEvent, SourceStream, UpstreamResync, gateway_context};
use crate::error::Dependency;
use crate::model::notifications::event_json;
use crate::upstream::Upstream;

/// `Notifications.Subscribe`.
#[derive(Debug, Clone)]
pub struct NotificationsSource {
    upstream: Upstream,
    context: CallContext,
}

impl NotificationsSource {
    /// Over the notifications service; calls are made as `service:aetherv-gateway`.
    pub fn new(upstream: Upstream) -> NotificationsSource {
        NotificationsSource {
            upstream,
            context: gateway_context(),
        }
    }
}

/// Converts one `NotificationEvent`; `None` for an event without a body.
pub fn convert(event: pb::NotificationEvent) -> Option<SourceEvent> {
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

impl Source for NotificationsSource {
    fn topic(&self) -> &str {
        "notifications"
    }

    fn dependency(&self) -> Dependency {
        Dependency::Notifications
    }

    fn unique_numbers(&self) -> bool {
        true
    }

    fn number_name(&self) -> &'static str {
        "event_id"
    }

    fn watch(&self, after: u64) -> BoxFuture<'static, Result<SourceStream, Status>> {
        let mut client = self.upstream.notifications(&self.context);
        Box::pin(async move {
            let stream = client
                .subscribe(pb::SubscribeRequest {
                    from_event_id: after,
                })
                .await?
                .into_inner();
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

    /// The service's latest event id, from the `resync` that opens a subscription from 0.
    fn current(&self) -> BoxFuture<'static, Result<u64, Status>> {
        let mut client = self.upstream.notifications(&self.context);
        let timeout = self.upstream.request_timeout();
        Box::pin(async move {
            let first = tokio::time::timeout(timeout, async move {
                let mut stream = client
                    .subscribe(pb::SubscribeRequest { from_event_id: 0 })
                    .await?
                    .into_inner();
                stream.message().await
            })
            .await
            .map_err(|_| {
                Status::deadline_exceeded("notifications did not open a subscription in time")
            })??;
            match first.and_then(|event| event.event) {
                Some(Event::Resync(resync)) => Ok(resync.current_event_id),
                _ => Err(Status::internal(
                    "notifications subscription did not start with resync",
                )),
            }
        })
    }
}
