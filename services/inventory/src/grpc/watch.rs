//! The Watch stream: a task per watcher writes into a bounded channel — the replay or the
//! resync snapshot, `synced`, then live batches from the store's broadcast, heartbeats
//! when idle — and ends when the reader goes away or the server drains. A watcher whose
//! broadcast backlog overflows (a slow reader) gets `resync` and a fresh snapshot.

use std::sync::Arc;
use std::time::Duration;

use aetherv_proto::inventory::v1 as pb;
use aetherv_proto::inventory::v1::watch_event::Event;
use aetherv_runtime::DrainSignal;
use time::OffsetDateTime;
use tokio::sync::{broadcast, mpsc};
use tonic::Status;

use super::convert;
use crate::domain::history::ResyncReason;
use crate::domain::store::{Beginning, Store, Subscription};

/// Events buffered per stream between the task and the transport.
pub const STREAM_BUFFER: usize = 256;

type Sender = mpsc::Sender<Result<pb::WatchEvent, Status>>;

/// The reader is gone.
struct Gone;

async fn send(sender: &Sender, event: pb::WatchEvent) -> Result<(), Gone> {
    sender.send(Ok(event)).await.map_err(|_| Gone)
}

fn resync_reason(reason: ResyncReason) -> pb::ResyncReason {
    match reason {
        ResyncReason::Initial => pb::ResyncReason::Initial,
        ResyncReason::TooOld => pb::ResyncReason::TooOld,
        ResyncReason::UnknownRevision => pb::ResyncReason::UnknownRevision,
        ResyncReason::FellBehind => pb::ResyncReason::FellBehind,
    }
}

/// Sends the beginning of a subscription and `synced`; returns the last revision sent.
async fn begin(sender: &Sender, subscription: &Subscription) -> Result<u64, Gone> {
    let now = OffsetDateTime::now_utc();
    match &subscription.beginning {
        Beginning::Replay(batches) => {
            for batch in batches {
                for change in &batch.changes {
                    send(sender, convert::change(change, batch.revision, now)).await?;
                }
            }
        }
        Beginning::Resync {
            reason,
            oldest_revision,
            snapshot,
        } => {
            let revision = snapshot.revision;
            let event = |event| pb::WatchEvent {
                revision,
                event: Some(event),
            };
            send(
                sender,
                event(Event::Resync(pb::Resync {
                    reason: resync_reason(*reason) as i32,
                    oldest_revision: *oldest_revision,
                })),
            )
            .await?;
            for cluster in &snapshot.clusters {
                send(
                    sender,
                    event(Event::ClusterUpserted(convert::cluster(cluster))),
                )
                .await?;
            }
            for host in &snapshot.hosts {
                send(sender, event(Event::HostUpserted(convert::host(host)))).await?;
            }
            for vm in &snapshot.vms {
                send(sender, event(Event::VmUpserted(convert::vm(vm, now)))).await?;
            }
        }
    }
    send(
        sender,
        pb::WatchEvent {
            revision: subscription.revision,
            event: Some(Event::Synced(pb::Synced {})),
        },
    )
    .await?;
    Ok(subscription.revision)
}

/// Feeds one watcher until it goes away or the server drains.
pub async fn feed(
    store: Arc<Store>,
    mut subscription: Subscription,
    sender: Sender,
    heartbeat: Duration,
    mut drain: DrainSignal,
) {
    let Ok(mut revision) = begin(&sender, &subscription).await else {
        return;
    };
    loop {
        let received = tokio::select! {
            received = subscription.live.recv() => received,
            () = tokio::time::sleep(heartbeat) => {
                let beat = pb::WatchEvent { revision, event: Some(Event::Heartbeat(pb::Heartbeat {})) };
                if send(&sender, beat).await.is_err() {
                    return;
                }
                continue;
            }
            () = drain.wait() => return,
            () = sender.closed() => return,
        };
        match received {
            Ok(batch) => {
                if batch.revision <= revision {
                    continue;
                }
                let now = OffsetDateTime::now_utc();
                for change in &batch.changes {
                    if send(&sender, convert::change(change, batch.revision, now))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                revision = batch.revision;
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::info!(missed, "watch stream fell behind; resyncing it");
                subscription = store.resubscribe();
                match begin(&sender, &subscription).await {
                    Ok(now_at) => revision = now_at,
                    Err(Gone) => return,
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
