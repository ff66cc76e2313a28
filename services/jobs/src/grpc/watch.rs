//! The Watch stream: a task per watcher writes into a bounded channel — the replay, or
//! `resync` and a snapshot, then `synced`, then live events from the store's broadcast
//! (of the one job, or all), and heartbeats when idle. A watcher whose broadcast backlog
//! overflows gets `resync` and a fresh snapshot instead of silently missing events; a
//! watch of one job ends with NOT_FOUND when that job leaves the history.

use std::sync::Arc;
use std::time::Duration;

use aetherv_proto::jobs::v1 as pb;
use aetherv_proto::jobs::v1::job_event::Event as Kind;
use aetherv_runtime::{ApiError, DrainSignal};
use tokio::sync::{OwnedSemaphorePermit, broadcast, mpsc};
use tonic::Status;

use super::convert;
use crate::domain::events::{Live, ResyncReason};
use crate::domain::model::JobId;
use crate::domain::store::{Beginning, Store, Subscription, not_found};

/// Events buffered per stream between the task and the transport.
pub const STREAM_BUFFER: usize = 256;

type Sender = mpsc::Sender<Result<pb::JobEvent, Status>>;

/// The reader is gone.
struct Gone;

async fn send(sender: &Sender, event: pb::JobEvent) -> Result<(), Gone> {
    sender.send(Ok(event)).await.map_err(|_| Gone)
}

/// What one watcher watches.
pub struct Watch {
    /// One job, or all.
    pub job: Option<JobId>,
    /// Output lines in snapshots.
    pub include_output: bool,
}

/// Sends the beginning and `synced`; returns the last event id sent.
async fn begin(sender: &Sender, subscription: &Subscription) -> Result<u64, Gone> {
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
            send(sender, convert::marker(Kind::Resync(resync))).await?;
            for job in snapshot {
                send(sender, convert::snapshot(job)).await?;
            }
        }
    }
    let synced = pb::Synced {
        event_id: subscription.event_id,
    };
    send(sender, convert::marker(Kind::Synced(synced))).await?;
    Ok(subscription.event_id)
}

/// Feeds one watcher until it goes away, the server drains, or its one job is evicted.
pub async fn feed(
    store: Arc<Store>,
    watch: Watch,
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
                let beat = pb::Heartbeat { event_id: store.last_event_id() };
                if send(&sender, convert::marker(Kind::Heartbeat(beat))).await.is_err() {
                    return;
                }
                continue;
            }
            () = drain.wait() => return,
            () = sender.closed() => return,
        };
        match received {
            Ok(Live::Event(event)) => {
                if event.id <= last {
                    continue;
                }
                last = event.id;
                if watch.job.as_ref().is_some_and(|id| id != &event.job_id) {
                    continue;
                }
                if send(&sender, convert::event(&event)).await.is_err() {
                    return;
                }
            }
            Ok(Live::Evicted(id)) => {
                if let Some(watched) = &watch.job
                    && watched == &id
                {
                    let _ = sender.send(Err(not_found(&id).to_status())).await;
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::info!(missed, "watch stream fell behind; resyncing it");
                subscription = match store.subscribe(
                    0,
                    watch.job.as_ref(),
                    watch.include_output,
                    Some(ResyncReason::FellBehind),
                ) {
                    Ok(subscription) => subscription,
                    Err(error) => {
                        let _ = sender.send(Err(error.to_status())).await;
                        return;
                    }
                };
                match begin(&sender, &subscription).await {
                    Ok(now_at) => last = now_at,
                    Err(Gone) => return,
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// The refusal when too many watchers are open.
pub fn too_many(max: usize) -> ApiError {
    ApiError::new(
        aetherv_runtime::ErrorCode::ResourceExhausted,
        format!("{max} watch streams are open, the most this service serves; retry later"),
    )
    .with_metadata("retry_after_ms", "1000")
}
