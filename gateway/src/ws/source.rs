//! Where a topic's events come from: a service's replaying stream. [`Source`] is what a
//! topic needs from its service — open the stream after a number, and learn the current
//! number — and [`InventorySource`] implements it over `Inventory.Watch`. The jobs topics
//! (`Jobs.Watch`, numbers = event ids, unique; [`super::jobs`]) and notifications
//! (`Notifications.Subscribe`; [`super::notifications`]) are two more implementations.

use aetherv_proto::inventory::v1 as pb;
use aetherv_proto::inventory::v1::watch_event::Event;
use aetherv_runtime::CallContext;
use axum::extract::ws::Utf8Bytes;
use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use serde::Serialize;
use serde_json::json;
use tonic::Status;

use super::cursor::Cursor;
use crate::error::Dependency;
use crate::model::{ClusterJson, HostJson, VmJson};
use crate::upstream::Upstream;

/// Why the service restarts its stream with a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamResync {
    /// The caller's number was older than the service's history (or 0).
    TooOld,
    /// The caller's number is ahead of the service (it restarted).
    Unknown,
    /// Any other reason (the stream fell behind, the first watch).
    Other,
}

/// One event of a service stream, in the gateway's terms.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceEvent {
    /// A change: its number, its kind (`vm_upserted`, ...) and its `data` as JSON text.
    Change {
        /// Revision or event id.
        number: u64,
        /// The event kind.
        kind: &'static str,
        /// The `data` member of the frame, serialized.
        data: String,
    },
    /// Drop everything: a snapshot follows (its changes carry the snapshot's number).
    Resync(UpstreamResync),
    /// One record of a snapshot (never forwarded: clients reload through REST).
    Snapshot {
        /// The record's number.
        number: u64,
    },
    /// Replay or snapshot complete; live events follow.
    Synced {
        /// The service's number at this point (0 when it does not say).
        number: u64,
    },
    /// Nothing happened for a while.
    Heartbeat {
        /// The service's current number (0 when it does not say).
        number: u64,
    },
}

/// A stream of [`SourceEvent`]s.
pub type SourceStream = BoxStream<'static, Result<SourceEvent, Status>>;

/// A service that feeds a topic.
pub trait Source: Send + Sync + 'static {
    /// The topic name.
    fn topic(&self) -> &str;
    /// The service, for error details.
    fn dependency(&self) -> Dependency;
    /// Whether every event has its own number (event ids) rather than sharing one
    /// (inventory revisions).
    fn unique_numbers(&self) -> bool;
    /// The name of the number in frames (`revision`, `event_id`).
    fn number_name(&self) -> &'static str;
    /// Opens the stream of events after `after` (0: none held; the service snapshots).
    fn watch(&self, after: u64) -> BoxFuture<'static, Result<SourceStream, Status>>;
    /// The service's current number, where a fresh stream starts without a snapshot.
    fn current(&self) -> BoxFuture<'static, Result<u64, Status>>;
    /// Whether NOT_FOUND from the service ends the topic for good (a watched job that left
    /// the history) rather than being retried.
    fn ends_when_not_found(&self) -> bool {
        false
    }
}

/// The `{"type":"event",...}` frame of one change.
pub fn event_frame(
    topic: &str,
    number_name: &str,
    cursor: Cursor,
    number: u64,
    kind: &str,
    data: &str,
) -> Utf8Bytes {
    let topic = serde_json::to_string(topic).unwrap_or_else(|_| "\"\"".to_string());
    Utf8Bytes::from(format!(
        "{{\"type\":\"event\",\"topic\":{topic},\"cursor\":\"{cursor}\",\"{number_name}\":{number},\"kind\":\"{kind}\",\"data\":{data}}}"
    ))
}

/// The inventory topic: `Inventory.Watch`.
#[derive(Debug, Clone)]
pub struct InventorySource {
    upstream: Upstream,
    context: CallContext,
}

/// The context of the gateway's own calls: `service:aetherv-gateway`.
pub fn gateway_context() -> CallContext {
    CallContext::background("aetherv-gateway").unwrap_or_else(|_| CallContext {
        caller: None,
        trace: aetherv_runtime::TraceContext::new_root(),
    })
}

impl InventorySource {
    /// Over the inventory service; calls are made as `service:aetherv-gateway`.
    pub fn new(upstream: Upstream) -> InventorySource {
        InventorySource {
            upstream,
            context: gateway_context(),
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    // Serializing these borrowed structs cannot fail (no maps with non-string keys).
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}

/// Converts one inventory `WatchEvent`; `None` for an event without a body.
pub fn convert(event: pb::WatchEvent) -> Option<SourceEvent> {
    let number = event.revision;
    let change = |kind: &'static str, data: String| SourceEvent::Change { number, kind, data };
    Some(match event.event? {
        Event::ClusterUpserted(cluster) => {
            change("cluster_upserted", to_json(&ClusterJson::new(&cluster)))
        }
        Event::ClusterDeleted(deleted) => {
            change("cluster_deleted", json!({"name": deleted.name}).to_string())
        }
        Event::HostUpserted(host) => change("host_upserted", to_json(&HostJson::new(&host))),
        Event::HostDeleted(deleted) => {
            change("host_deleted", json!({"name": deleted.host}).to_string())
        }
        Event::VmUpserted(vm) => change("vm_upserted", to_json(&VmJson::new(&vm))),
        Event::VmDeleted(deleted) => change(
            "vm_deleted",
            json!({"id": deleted.id, "host": deleted.host}).to_string(),
        ),
        Event::Resync(resync) => {
            SourceEvent::Resync(match pb::ResyncReason::try_from(resync.reason) {
                Ok(pb::ResyncReason::TooOld | pb::ResyncReason::Initial) => UpstreamResync::TooOld,
                Ok(pb::ResyncReason::UnknownRevision) => UpstreamResync::Unknown,
                _ => UpstreamResync::Other,
            })
        }
        Event::Synced(_) => SourceEvent::Synced { number },
        Event::Heartbeat(_) => SourceEvent::Heartbeat { number },
    })
}

impl Source for InventorySource {
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
        let mut client = self.upstream.inventory(&self.context);
        Box::pin(async move {
            let response = client
                .watch(pb::WatchRequest {
                    from_revision: after,
                })
                .await?;
            let stream = response
                .into_inner()
                .filter_map(|item| async move {
                    match item {
                        Ok(event) => convert(event).map(Ok),
                        Err(status) => Some(Err(status)),
                    }
                })
                .boxed();
            Ok(stream)
        })
    }

    fn current(&self) -> BoxFuture<'static, Result<u64, Status>> {
        let mut client = self.upstream.inventory(&self.context);
        let request = self.upstream.request(pb::GetSummaryRequest {});
        Box::pin(async move { Ok(client.get_summary(request).await?.into_inner().revision) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_become_frames_with_the_record_as_data() {
        let vm = pb::Vm {
            id: "3f2a9c1e-0b4d-4e8f-9a51-6c2d7e8f9a01".to_string(),
            name: "web-01".to_string(),
            host: "hv01".to_string(),
            state: pb::VmState::Running as i32,
            ..pb::Vm::default()
        };
        let event = pb::WatchEvent {
            revision: 7,
            event: Some(Event::VmUpserted(vm)),
        };
        let Some(SourceEvent::Change { number, kind, data }) = convert(event) else {
            panic!("an upsert is a change");
        };
        let frame = event_frame(
            "inventory",
            "revision",
            Cursor::Within(7, 1),
            number,
            kind,
            &data,
        );
        let parsed: serde_json::Value = match serde_json::from_str(frame.as_str()) {
            Ok(value) => value,
            Err(error) => panic!("frame is not json: {error}"),
        };
        assert_eq!(parsed["type"], "event");
        assert_eq!(parsed["cursor"], "7.1");
        assert_eq!(parsed["revision"], 7);
        assert_eq!(parsed["kind"], "vm_upserted");
        assert_eq!(parsed["data"]["state"], "running");
        assert_eq!(
            parsed["data"]["power_actions"],
            json!(["shutdown", "stop", "reset", "save", "pause"])
        );
    }
}
