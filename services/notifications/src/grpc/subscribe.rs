//! The Subscribe stream: a task per subscriber writes into a bounded channel — the replay,
//! or `resync` and the snapshot, then `synced`, then live events from the store's
//! broadcast, and heartbeats when idle — and ends when the reader goes away or the server
//! drains. A subscriber whose broadcast backlog overflows (a reader slower than the
//! changes) gets `resync` and a fresh snapshot instead of silently missing events.

use std::sync::Arc;
use std::time::Duration;

use aetherv_proto::notifications::v1 as pb;
use aetherv_proto::notifications::v1::notification_event::Event as Kind;
use aetherv_runtime::DrainSignal;
use tokio::sync::{OwnedSemaphorePermit, broadcast, mpsc};
use tonic::Status;

use super::convert;
use crate::domain::{Beginning, Store, Subscription};

/// Events buffered per stream between the task and the transport.
pub const STREAM_BUFFER: usize = 256;

type Sender = mpsc::Sender<Result<pb::NotificationEvent, Status>>;

/// The reader is gone.
struct Gone;

async fn send(sender: &Sender, event: pb::NotificationEvent) -> Result<(), Gone> {
    sender.send(Ok(event)).await.map_err(|_| Gone)
}

/// Sends the beginning of a subscription and `synced`; returns the last event id sent.
async fn begin(sender: &Sender, subscription: &Subscription) -> Result<u64, Gone> {
    let unread = subscription.unread_count;
    match &subscription.beginning {
        Beginning::Replay(events) => {
            for event in events {
                send(sender, convert::event(event)).await?;
            }
        }
        Beginning::Resync {
            reason,
            oldest_event_id,
            snapshot,
        } => {
            let resync = pb::Resync {
                reason: convert::resync_reason(*reason) as i32,
                oldest_event_id: *oldest_event_id,
                current_event_id: subscription.event_id,
            };
            send(sender, convert::marker(Kind::Resync(resync), unread)).await?;
            for notification in snapshot {
                let kind = Kind::Snapshot(convert::notification(notification));
                send(sender, convert::marker(kind, unread)).await?;
            }
        }
    }
    let synced = pb::Synced {
        event_id: subscription.event_id,
    };
    send(sender, convert::marker(Kind::Synced(synced), unread)).await?;
    Ok(subscription.event_id)
}

/// Feeds one subscriber until it goes away or the server drains. `_permit` is its place
/// among the open streams.
pub async fn feed(
    store: Arc<Store>,
    mut subscription: Subscription,
    sender: Sender,
    heartbeat: Duration,
    mut drain: DrainSignal,
    _permit: OwnedSemaphorePermit,
) {
    let Ok(mut last) = begin(&sender, &subscription).await else {
        return;
    };
    loop {
        let received = tokio::select! {
            received = subscription.live.recv() => received,
            () = tokio::time::sleep(heartbeat) => {
                let (event_id, unread) = store.position();
                let beat = convert::marker(Kind::Heartbeat(pb::Heartbeat { event_id }), unread);
                if send(&sender, beat).await.is_err() {
                    return;
                }
                continue;
            }
            () = drain.wait() => return,
            () = sender.closed() => return,
        };
        match received {
            Ok(event) => {
                if event.id <= last {
                    continue;
                }
                if send(&sender, convert::event(&event)).await.is_err() {
                    return;
                }
                last = event.id;
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::info!(missed, "subscribe stream fell behind; resyncing it");
                subscription = store.resubscribe();
                match begin(&sender, &subscription).await {
                    Ok(now_at) => last = now_at,
                    Err(Gone) => return,
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
