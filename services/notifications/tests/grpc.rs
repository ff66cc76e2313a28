//! The service over real gRPC, in-process on port 0: every RPC, its refusals with the
//! field named, and Subscribe's replay, live events, resync (initial, too old, unknown,
//! fell behind), heartbeats, the subscriber limit and the drain.

mod support;

use std::time::Duration;

use aetherv_notifications::Config;
use aetherv_proto::common::v1 as common;
use aetherv_proto::notifications::v1 as pb;
use aetherv_proto::notifications::v1::delete_notification_request::Target;
use aetherv_proto::notifications::v1::notification_event::Event as Kind;
use aetherv_runtime::{DrainOutcome, detail_of};
use support::{Service, kind, next, publish, published, subscribe, until_synced};
use tonic::Code;

fn violations(status: &tonic::Status) -> Vec<String> {
    match detail_of(status) {
        Some(detail) => detail.violations.into_iter().map(|v| v.field).collect(),
        None => panic!("no ErrorDetail on {status:?}"),
    }
}

#[tokio::test]
async fn publish_list_read_and_delete_do_what_the_contract_says() {
    let service = Service::start(Config::for_testing()).await;
    let mut client = service.client.clone();

    let request = pb::PublishRequest {
        message: "inventory.collect timed out after 20s".to_string(),
        related: Some(common::EntityRef {
            kind: common::EntityKind::Host as i32,
            id: "hv01".to_string(),
            ..common::EntityRef::default()
        }),
        metadata: [("host".to_string(), "hv01".to_string())].into(),
        dedup_key: "host-unreachable:hv01".to_string(),
        ..publish(pb::Level::Error, "Host hv01 unreachable")
    };
    let first = published(&mut client, request.clone()).await;
    assert!(!first.updated);
    let Some(stored) = first.notification else {
        panic!("no notification in the answer")
    };
    assert!(
        stored.id.starts_with("ntf-") && stored.id.len() == 40,
        "{}",
        stored.id
    );
    assert_eq!(
        (
            stored.level,
            stored.category,
            stored.occurrences,
            stored.read
        ),
        (pb::Level::Error as i32, pb::Category::Host as i32, 1, false)
    );
    assert_eq!(stored.dedup_key, "host-unreachable:hv01");
    assert_eq!(stored.related.map(|r| r.id), Some("hv01".to_string()));
    assert_eq!(stored.created_at, stored.updated_at);

    published(
        &mut client,
        publish(pb::Level::Info, "Inventory synchronised"),
    )
    .await;
    let again = published(
        &mut client,
        pb::PublishRequest {
            message: "connection refused".to_string(),
            ..request.clone()
        },
    )
    .await;
    assert!(again.updated);
    let Some(updated) = again.notification else {
        panic!("no notification in the answer")
    };
    assert_eq!(
        (updated.id.as_str(), updated.occurrences),
        (stored.id.as_str(), 2)
    );

    let list = match client.list(pb::ListNotificationsRequest::default()).await {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("list failed: {status:?}"),
    };
    let titles: Vec<&str> = list
        .notifications
        .iter()
        .map(|n| n.title.as_str())
        .collect();
    assert_eq!(titles, ["Host hv01 unreachable", "Inventory synchronised"]);
    assert_eq!((list.total_count, list.unread_count), (2, 2));

    let read = match client
        .mark_read(pb::MarkReadRequest {
            id: stored.id.clone(),
        })
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("mark read failed: {status:?}"),
    };
    assert_eq!(read.unread_count, 1);
    assert!(read.notification.is_some_and(|n| n.read));
    let unread = match client
        .list(pb::ListNotificationsRequest {
            limit: 10,
            unread_only: true,
        })
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("list failed: {status:?}"),
    };
    assert_eq!(unread.notifications.len(), 1);
    assert_eq!(unread.notifications[0].title, "Inventory synchronised");
    assert_eq!((unread.total_count, unread.unread_count), (2, 1));

    let all = client.mark_all_read(pb::MarkAllReadRequest {}).await;
    assert!(all.is_ok_and(|r| r.get_ref().marked == 1 && r.get_ref().unread_count == 0));

    let by_key = client
        .delete(pb::DeleteNotificationRequest {
            target: Some(Target::DedupKey("host-unreachable:hv01".to_string())),
        })
        .await;
    assert!(by_key.is_ok());
    let gone = client
        .mark_read(pb::MarkReadRequest {
            id: stored.id.clone(),
        })
        .await;
    assert!(gone.is_err_and(|status| status.code() == Code::NotFound));
    let other = list.notifications[1].id.clone();
    let by_id = client
        .delete(pb::DeleteNotificationRequest {
            target: Some(Target::Id(other.clone())),
        })
        .await;
    assert!(by_id.is_ok_and(|r| r.get_ref().unread_count == 0));
    let twice = client
        .delete(pb::DeleteNotificationRequest {
            target: Some(Target::Id(other)),
        })
        .await;
    assert!(twice.is_err_and(|status| status.code() == Code::NotFound));
    let empty = client.list(pb::ListNotificationsRequest::default()).await;
    assert!(empty.is_ok_and(|r| r.get_ref().total_count == 0));
    service.stop().await;
}

#[tokio::test]
async fn bad_requests_are_refused_naming_the_field() {
    let service = Service::start(Config::for_testing()).await;
    let mut client = service.client.clone();

    let status = match client.publish(pb::PublishRequest::default()).await {
        Ok(_) => panic!("an empty publish was accepted"),
        Err(status) => status,
    };
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violations(&status), ["level", "category", "title"]);
    assert!(
        status.message().contains("title: required"),
        "{}",
        status.message()
    );

    let too_long = pb::PublishRequest {
        level: 42,
        metadata: [("bad key".to_string(), "v".to_string())].into(),
        dedup_key: "x".repeat(257),
        ..publish(pb::Level::Info, &"t".repeat(201))
    };
    let status = match client.publish(too_long).await {
        Ok(_) => panic!("an invalid publish was accepted"),
        Err(status) => status,
    };
    assert_eq!(
        violations(&status),
        ["level", "title", "metadata", "dedup_key"]
    );

    let limit = client
        .list(pb::ListNotificationsRequest {
            limit: 1001,
            unread_only: false,
        })
        .await;
    assert!(limit.is_err_and(|s| s.code() == Code::InvalidArgument && violations(&s) == ["limit"]));
    let id = client
        .mark_read(pb::MarkReadRequest {
            id: "hv01".to_string(),
        })
        .await;
    assert!(id.is_err_and(|s| s.code() == Code::InvalidArgument && violations(&s) == ["id"]));
    let target = client
        .delete(pb::DeleteNotificationRequest { target: None })
        .await;
    assert!(target.is_err_and(|s| violations(&s) == ["target"]));

    let keyed = pb::PublishRequest {
        dedup_key: "agent-deployment".to_string(),
        ..publish(pb::Level::Info, "Deploying agents")
    };
    published(&mut client, keyed.clone()).await;
    let other_category = client
        .publish(pb::PublishRequest {
            category: pb::Category::System as i32,
            ..keyed
        })
        .await;
    assert!(
        other_category
            .is_err_and(|s| s.code() == Code::FailedPrecondition && violations(&s) == ["category"])
    );
    service.stop().await;
}

#[tokio::test]
async fn subscribe_from_zero_gets_a_snapshot_then_live_events_with_unread_counts() {
    let service = Service::start(Config::for_testing()).await;
    let mut client = service.client.clone();
    published(&mut client, publish(pb::Level::Info, "a")).await;
    published(&mut client, publish(pb::Level::Warning, "b")).await;

    let mut stream = subscribe(&mut client, 0).await;
    let (events, synced) = until_synced(&mut stream).await;
    let Kind::Resync(resync) = kind(&events[0]) else {
        panic!("expected resync first, got {:?}", events[0])
    };
    assert_eq!(resync.reason, pb::ResyncReason::Initial as i32);
    assert_eq!(resync.current_event_id, synced);
    let snapshot: Vec<&str> = events[1..]
        .iter()
        .map(|event| match kind(event) {
            Kind::Snapshot(n) => n.title.as_str(),
            other => panic!("expected a snapshot event, got {other:?}"),
        })
        .collect();
    assert_eq!(snapshot, ["a", "b"]);
    assert!(
        events
            .iter()
            .all(|e| e.event_id == 0 && e.unread_count == 2)
    );

    let c = published(&mut client, publish(pb::Level::Error, "c")).await;
    let live = next(&mut stream).await;
    assert_eq!((live.event_id, live.unread_count), (synced + 1, 3));
    assert!(matches!(kind(&live), Kind::Created(n) if n.title == "c"));
    let id = c.notification.map(|n| n.id).unwrap_or_default();
    assert!(
        client
            .mark_read(pb::MarkReadRequest { id: id.clone() })
            .await
            .is_ok()
    );
    let read = next(&mut stream).await;
    assert_eq!((read.event_id, read.unread_count), (synced + 2, 2));
    assert!(matches!(kind(&read), Kind::Updated(n) if n.id == id && n.read));
    assert!(
        client
            .mark_all_read(pb::MarkAllReadRequest {})
            .await
            .is_ok()
    );
    let all = next(&mut stream).await;
    assert!(matches!(kind(&all), Kind::AllRead(a) if a.marked == 2) && all.unread_count == 0);
    let delete = pb::DeleteNotificationRequest {
        target: Some(Target::Id(id.clone())),
    };
    assert!(client.delete(delete).await.is_ok());
    let deleted = next(&mut stream).await;
    assert!(matches!(
        kind(&deleted),
        Kind::Deleted(d) if d.id == id && d.reason == pb::DeleteReason::Requested as i32
    ));
    service.stop().await;
}

#[tokio::test]
async fn subscribe_from_an_event_id_replays_what_came_after_it() {
    let service = Service::start(Config::for_testing()).await;
    let mut client = service.client.clone();
    let mut first = subscribe(&mut client, 0).await;
    let (_, start) = until_synced(&mut first).await;
    for title in ["a", "b", "c"] {
        published(&mut client, publish(pb::Level::Info, title)).await;
    }
    let seen = next(&mut first).await;
    assert_eq!(seen.event_id, start + 1);
    drop(first);

    // Back with the last id it saw: the two it missed, in order, then synced, then live.
    let mut resumed = subscribe(&mut client, seen.event_id).await;
    let (missed, synced) = until_synced(&mut resumed).await;
    let replayed: Vec<(u64, String)> = missed
        .iter()
        .map(|event| match kind(event) {
            Kind::Created(n) => (event.event_id, n.title.clone()),
            other => panic!("expected created events, got {other:?}"),
        })
        .collect();
    assert_eq!(
        replayed,
        [(start + 2, "b".to_string()), (start + 3, "c".to_string())]
    );
    assert_eq!(synced, start + 3);
    published(&mut client, publish(pb::Level::Info, "d")).await;
    let live = next(&mut resumed).await;
    assert_eq!(live.event_id, start + 4);

    // Up to date: nothing to replay.
    let mut current = subscribe(&mut client, start + 4).await;
    let (nothing, synced) = until_synced(&mut current).await;
    assert!(nothing.is_empty(), "{nothing:?}");
    assert_eq!(synced, start + 4);
    service.stop().await;
}

async fn resync_of(client: &mut support::Client, from: u64) -> (pb::Resync, usize) {
    let mut stream = subscribe(client, from).await;
    let (events, _) = until_synced(&mut stream).await;
    match events.first().map(kind) {
        Some(Kind::Resync(resync)) => (*resync, events.len() - 1),
        other => panic!("expected a resync, got {other:?}"),
    }
}

#[tokio::test]
async fn an_evicted_or_foreign_event_id_gets_a_resync_with_the_reason() {
    let config = Config {
        event_history: 100,
        ..Config::for_testing()
    };
    let service = Service::start(config).await;
    let mut client = service.client.clone();
    let mut probe = subscribe(&mut client, 0).await;
    let (_, start) = until_synced(&mut probe).await;
    for i in 0..120 {
        published(&mut client, publish(pb::Level::Info, &format!("n{i}"))).await;
    }
    let (too_old, snapshot) = resync_of(&mut client, start + 5).await;
    assert_eq!(too_old.reason, pb::ResyncReason::TooOld as i32);
    assert_eq!(too_old.oldest_event_id, start + 20);
    assert_eq!(too_old.current_event_id, start + 120);
    assert_eq!(snapshot, 120);
    let (oldest_kept, _) = until_synced(&mut subscribe(&mut client, start + 20).await).await;
    assert_eq!(oldest_kept.len(), 100);
    let (future, _) = resync_of(&mut client, start + 121).await;
    assert_eq!(future.reason, pb::ResyncReason::UnknownEventId as i32);
    let (earlier_process, _) = resync_of(&mut client, start - 1_000_000).await;
    assert_eq!(
        earlier_process.reason,
        pb::ResyncReason::UnknownEventId as i32
    );
    service.stop().await;
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_resynced_not_left_with_gaps() {
    let config = Config {
        subscriber_buffer: 16,
        ..Config::for_testing()
    };
    let service = Service::start(config).await;
    let mut client = service.client.clone();
    let mut stream = subscribe(&mut client, 0).await;
    let (_, start) = until_synced(&mut stream).await;
    // Not reading while 3,000 changes of 4,000 characters each happen: the stream's
    // buffers (the channel, HTTP/2's flow-control windows) fill and its backlog overflows
    // the 16 events it may lag.
    let body = "x".repeat(4000);
    for i in 0..3000 {
        let request = pb::PublishRequest {
            message: body.clone(),
            ..publish(pb::Level::Info, &format!("n{i}"))
        };
        published(&mut client, request).await;
    }
    let mut last = start;
    loop {
        let event = next(&mut stream).await;
        match kind(&event) {
            Kind::Created(_) | Kind::Deleted(_) => {
                assert_eq!(event.event_id, last + 1, "a gap without a resync");
                last = event.event_id;
            }
            Kind::Resync(resync) => {
                assert_eq!(resync.reason, pb::ResyncReason::FellBehind as i32);
                let (snapshot, synced) = until_synced(&mut stream).await;
                // Retention keeps 1,000: the snapshot is the current set.
                assert_eq!(snapshot.len(), 1000);
                assert_eq!(synced, resync.current_event_id);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    service.stop().await;
}

#[tokio::test]
async fn idle_streams_get_heartbeats_and_the_number_of_streams_is_bounded() {
    let config = Config {
        heartbeat_interval: Duration::from_millis(100),
        max_subscribers: 1,
        ..Config::for_testing()
    };
    let service = Service::start(config).await;
    let mut client = service.client.clone();
    published(&mut client, publish(pb::Level::Warning, "a")).await;
    let mut stream = subscribe(&mut client, 0).await;
    let (_, synced) = until_synced(&mut stream).await;
    let beat = next(&mut stream).await;
    assert!(matches!(kind(&beat), Kind::Heartbeat(h) if h.event_id == synced));
    assert_eq!((beat.event_id, beat.unread_count), (0, 1));

    let refused = client
        .subscribe(pb::SubscribeRequest { from_event_id: 0 })
        .await;
    assert!(refused.is_err_and(|s| s.code() == Code::ResourceExhausted));

    // Shutdown ends the open stream, so the drain completes.
    assert_eq!(service.stop().await, DrainOutcome::Complete);
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream did not end on shutdown");
}

#[tokio::test]
async fn count_retention_shows_as_deleted_events_and_in_the_counts() {
    let mut config = Config::for_testing();
    config.retention.max_count = 10;
    let service = Service::start(config).await;
    let mut client = service.client.clone();
    let mut stream = subscribe(&mut client, 0).await;
    until_synced(&mut stream).await;
    for i in 0..12 {
        published(&mut client, publish(pb::Level::Info, &format!("n{i}"))).await;
    }
    let mut retained_away = Vec::new();
    for _ in 0..14 {
        let event = next(&mut stream).await;
        if let Kind::Deleted(deleted) = kind(&event) {
            assert_eq!(deleted.reason, pb::DeleteReason::Retention as i32);
            retained_away.push(deleted.id.clone());
        }
    }
    assert_eq!(retained_away.len(), 2);
    let list = client.list(pb::ListNotificationsRequest::default()).await;
    let Ok(list) = list.map(tonic::Response::into_inner) else {
        panic!("list failed")
    };
    assert_eq!((list.total_count, list.unread_count), (10, 10));
    assert_eq!(
        list.notifications.last().map(|n| n.title.as_str()),
        Some("n2")
    );
    service.stop().await;
}
