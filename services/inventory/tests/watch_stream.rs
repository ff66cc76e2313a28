//! The Watch stream task on its own: a reader that stops reading while changes keep
//! coming is told `resync` (FELL_BEHIND) and gets a fresh snapshot rather than a gap;
//! replay, heartbeat and drain behave as the proto says.

mod support;

use std::sync::Arc;
use std::time::Duration;

use aetherv_hyperv::HostId;
use aetherv_inventory::domain::fleet::{Attempt, FleetSettings};
use aetherv_inventory::domain::store::{Store, StoreSettings};
use aetherv_inventory::grpc::watch::feed;
use aetherv_proto::inventory::v1 as pb;
use aetherv_proto::inventory::v1::watch_event::Event;
use aetherv_runtime::{GrpcServer, ServerConfig};
use support::agent_data::{HostData, vm_id};
use time::OffsetDateTime;
use tokio::sync::mpsc;

fn host(name: &str) -> HostId {
    match HostId::parse(name) {
        Ok(id) => id,
        Err(error) => panic!("{error}"),
    }
}

fn store() -> Arc<Store> {
    Arc::new(Store::new(
        StoreSettings {
            fleet: FleetSettings::default(),
            history: 10_000,
            watch_buffer: 4,
        },
        100,
    ))
}

fn refresh(store: &Store, notes: &str) {
    let Some(ticket) = store.begin_refresh(&host("hv01")) else {
        panic!("configured")
    };
    let data = HostData::new("hv01")
        .vms(1, 3)
        .change_vm(vm_id(1, 1), |vm| {
            vm.notes = notes.to_string();
            vm.uptime_seconds = 0;
        });
    store.apply(
        &ticket,
        Ok(&data.0),
        Attempt {
            at: OffsetDateTime::now_utc(),
            duration: Duration::from_millis(10),
        },
    );
}

fn kind(event: &pb::WatchEvent) -> String {
    match &event.event {
        Some(Event::Resync(r)) => format!("resync:{}", r.reason),
        Some(Event::Synced(_)) => "synced".into(),
        Some(Event::Heartbeat(_)) => "heartbeat".into(),
        Some(Event::HostUpserted(_)) => "host".into(),
        Some(Event::VmUpserted(vm)) => format!("vm:{}", vm.notes),
        Some(Event::ClusterUpserted(_)) => "cluster".into(),
        other => format!("{other:?}"),
    }
}

async fn next(
    receiver: &mut mpsc::Receiver<Result<pb::WatchEvent, tonic::Status>>,
) -> pb::WatchEvent {
    match tokio::time::timeout(Duration::from_secs(30), receiver.recv()).await {
        Ok(Some(Ok(event))) => event,
        other => panic!("no event: {other:?}"),
    }
}

#[tokio::test]
async fn a_reader_that_falls_behind_is_resynced_with_a_fresh_snapshot() {
    let store = store();
    store.set_configured_hosts(&[host("hv01")]);
    refresh(&store, "v0");
    let from = store.revision();
    // The health handle owns the drain signal's sender: keep it for the test's length.
    let health = GrpcServer::new("test", &ServerConfig::for_testing()).health();
    let drain = health.drain_signal();
    // A one-event channel the test does not read yet: the task blocks on it while the
    // broadcast backlog (4 batches) overflows.
    let (sender, mut receiver) = mpsc::channel(1);
    let task = tokio::spawn(feed(
        store.clone(),
        store.subscribe(from),
        sender,
        Duration::from_secs(3600),
        drain,
    ));
    for step in 1..=12 {
        refresh(&store, &format!("v{step}"));
        tokio::task::yield_now().await;
    }
    let mut seen = Vec::new();
    loop {
        let event = next(&mut receiver).await;
        let text = kind(&event);
        seen.push(text.clone());
        let resynced = seen.iter().any(|k| k.starts_with("resync"));
        if text == "vm:v12" && !resynced {
            break;
        }
        if text == "synced" && resynced {
            // After the resync the snapshot holds the latest notes.
            break;
        }
    }
    let resync = format!("resync:{}", pb::ResyncReason::FellBehind as i32);
    assert_eq!(seen.first().map(String::as_str), Some("synced"), "{seen:?}");
    assert!(seen.contains(&resync), "{seen:?}");
    let after: Vec<&String> = seen.iter().skip_while(|k| **k != resync).collect();
    assert!(
        after.contains(&&"vm:v12".to_string()),
        "the snapshot is current: {seen:?}"
    );
    assert_eq!(after.last().map(|k| k.as_str()), Some("synced"));
    task.abort();
    drop(health);
}

#[tokio::test(start_paused = true)]
async fn replay_then_heartbeats_then_the_stream_ends_on_drain() {
    let store = store();
    store.set_configured_hosts(&[host("hv01")]);
    let from = store.revision();
    refresh(&store, "a");
    let server = GrpcServer::new("test", &ServerConfig::for_testing());
    let health = server.health();
    let (sender, mut receiver) = mpsc::channel(64);
    let task = tokio::spawn(feed(
        store.clone(),
        store.subscribe(from),
        sender,
        Duration::from_secs(15),
        health.drain_signal(),
    ));
    let mut kinds = Vec::new();
    loop {
        let event = next(&mut receiver).await;
        kinds.push(kind(&event));
        if kinds.last().is_some_and(|k| k == "synced") {
            assert_eq!(event.revision, store.revision());
            break;
        }
    }
    assert!(
        kinds.iter().filter(|k| k.starts_with("vm:")).count() == 3,
        "{kinds:?}"
    );
    let beat = next(&mut receiver).await;
    assert_eq!(kind(&beat), "heartbeat");
    assert_eq!(
        beat.revision,
        store.revision(),
        "a heartbeat carries the last revision sent"
    );
    drop(server);
    drop(health);
    // The server and its health handle (the drain sender) are gone: that is a drain, and
    // the stream ends.
    assert!(matches!(
        tokio::time::timeout(Duration::from_secs(60), receiver.recv()).await,
        Ok(None)
    ));
    let _ = task.await;
}
