//! The service over real gRPC with the whole suite behind it: invalid specs refused
//! naming the field with nothing run on a host; pre-check refusals listing what is valid;
//! Watch streams every event in order and resumes from an event id; one notification per
//! job updated in place; secrets redacted in everything returned; List filters and pages;
//! the edge's refusals.

use std::time::Duration;

use crate::support::suite::{FleetShape, Suite};
use aetherv_proto::common::v1 as common;
use aetherv_proto::jobs::v1 as pb;
use aetherv_proto::jobs::v1::job_event::Event as Kind;
use aetherv_proto::notifications::v1 as ntf;
use aetherv_runtime::{MASK, detail_of};
use serde_json::json;
use tonic::{Code, Streaming};

const GIB: u64 = 1 << 30;

/// Operations the hosts ran for anything but inventory's own refreshes.
fn job_operations(suite: &Suite) -> usize {
    suite
        .fleet
        .hosts()
        .iter()
        .flat_map(|h| h.operations())
        .filter(|r| r.operation.as_deref() != Some("inventory.collect"))
        .count()
}

fn detail(status: &tonic::Status) -> common::ErrorDetail {
    match detail_of(status) {
        Some(detail) => detail,
        None => panic!("no ErrorDetail on {status:?}"),
    }
}

async fn next(stream: &mut Streaming<pb::JobEvent>) -> pb::JobEvent {
    match tokio::time::timeout(Duration::from_secs(60), stream.message()).await {
        Ok(Ok(Some(event))) => event,
        other => panic!("no next event: {other:?}"),
    }
}

async fn watch(suite: &Suite, job_id: &str, from: u64) -> Streaming<pb::JobEvent> {
    match suite
        .client
        .clone()
        .watch(pb::WatchJobsRequest {
            job_id: job_id.to_owned(),
            from_event_id: from,
            include_output: true,
        })
        .await
    {
        Ok(stream) => stream.into_inner(),
        Err(status) => panic!("Watch: {status:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_specs_and_failed_pre_checks_create_nothing() {
    let suite = Suite::start(
        FleetShape {
            hosts: 1,
            ..FleetShape::default()
        },
        |_| {},
    )
    .await;
    let host = suite.host(0);
    let before = job_operations(&suite);
    let Err(status) = suite
        .try_submit(
            pb::JobType::ManagedDeployment,
            json!({
                "host": host.name(),
                "vm": { "name": "bad", "storage_class": "fast-ssd", "memory_startup_bytes": GIB + 1 },
                "nics": [{ "switch_name": "External-Switch", "vlan_id": 4095 }]
            }),
        )
        .await
    else {
        panic!("an invalid spec was accepted")
    };
    assert_eq!(status.code(), Code::InvalidArgument);
    let error = detail(&status);
    assert_eq!(error.code, common::ErrorCode::InvalidArgument as i32);
    let found: Vec<(&str, &str, i32)> = error
        .violations
        .iter()
        .map(|v| (v.field.as_str(), v.rule.as_str(), v.pointer_kind))
        .collect();
    let pointer = common::PointerKind::JsonPointer as i32;
    assert!(
        found.contains(&("/vm/memory_startup_bytes", "multipleOf", pointer)),
        "{found:?}"
    );
    assert!(
        found.contains(&("/nics/0/vlan_id", "maximum", pointer)),
        "{found:?}"
    );
    assert!(
        status.message().contains("/vm/memory_startup_bytes"),
        "{}",
        status.message()
    );

    for (request, field) in [
        (
            pb::SubmitRequest {
                r#type: 0,
                spec_json: "{}".into(),
                request_id: String::new(),
            },
            "type",
        ),
        (
            pb::SubmitRequest {
                r#type: 99,
                spec_json: "{}".into(),
                request_id: String::new(),
            },
            "type",
        ),
        (
            pb::SubmitRequest {
                r#type: pb::JobType::Noop as i32,
                spec_json: String::new(),
                request_id: String::new(),
            },
            "spec_json",
        ),
        (
            pb::SubmitRequest {
                r#type: pb::JobType::Noop as i32,
                spec_json: "{}".into(),
                request_id: "has space".into(),
            },
            "request_id",
        ),
    ] {
        let Err(status) = suite.client.clone().submit(request).await else {
            panic!("accepted")
        };
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(detail(&status).violations[0].field, field);
    }
    let Err(status) = suite
        .client
        .clone()
        .submit(pb::SubmitRequest {
            r#type: pb::JobType::Noop as i32,
            spec_json: "{\"host\":".into(),
            request_id: String::new(),
        })
        .await
    else {
        panic!("broken json accepted")
    };
    assert_eq!(detail(&status).violations[0].rule, "json");

    // Pre-checks: valid spec, wrong facts.
    let Err(status) = suite
        .try_submit(
            pb::JobType::CreateVm,
            json!({ "host": host.name(), "vm": { "name": "x", "storage_class": "gold", "image": "centos-7" } }),
        )
        .await
    else {
        panic!("an unknown storage class was accepted")
    };
    assert_eq!(status.code(), Code::FailedPrecondition);
    let error = detail(&status);
    let class = error
        .violations
        .iter()
        .find(|v| v.field == "/vm/storage_class");
    assert_eq!(
        class.map(|v| v.allowed.clone()),
        Some(vec!["bulk-storage".to_owned(), "fast-ssd".to_owned()])
    );
    let image = error.violations.iter().find(|v| v.field == "/vm/image");
    assert!(
        image.is_some_and(|v| v.allowed.contains(&"ubuntu-24.04".to_owned())),
        "{error:?}"
    );
    let Err(status) = suite
        .try_submit(pb::JobType::Noop, json!({ "host": "hv-nowhere.example" }))
        .await
    else {
        panic!("an unknown host was accepted")
    };
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(
        detail(&status).violations[0].allowed,
        [host.name().to_owned()]
    );

    let listed = match suite
        .client
        .clone()
        .list(pb::ListJobsRequest::default())
        .await
    {
        Ok(list) => list.into_inner(),
        Err(status) => panic!("List: {status:?}"),
    };
    assert!(listed.jobs.is_empty(), "no job was created");
    let after: Vec<String> = suite
        .fleet
        .hosts()
        .iter()
        .flat_map(|h| h.operations())
        .filter(|r| r.operation.as_deref() != Some("inventory.collect"))
        .filter_map(|r| r.operation)
        .collect();
    assert!(
        after.iter().all(|op| op == "host.resources"),
        "only the catalogue was read: {after:?}"
    );
    assert!(after.len() <= before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_streams_every_event_in_order_and_resumes_from_an_event_id() {
    let suite = Suite::start(
        FleetShape {
            hosts: 1,
            ..FleetShape::default()
        },
        |_| {},
    )
    .await;
    let host = suite.host(0);
    let mut all = watch(&suite, "", 0).await;
    let first = next(&mut all).await;
    assert!(
        matches!(first.event, Some(Kind::Resync(ref r)) if r.reason == pb::ResyncReason::Initial as i32)
    );
    assert!(
        matches!(next(&mut all).await.event, Some(Kind::Synced(_))),
        "no jobs yet: synced at once"
    );

    let job = suite
        .submit(pb::JobType::CreateVm, json!({ "host": host.name(), "vm": { "name": "watched", "storage_class": "fast-ssd" } }))
        .await;
    let mut ids = Vec::new();
    let mut kinds = Vec::new();
    let mut agent_lines = 0;
    loop {
        let event = next(&mut all).await;
        if matches!(event.event, Some(Kind::Heartbeat(_))) {
            continue;
        }
        assert_eq!(event.job_id, job.id);
        ids.push(event.event_id);
        match &event.event {
            Some(Kind::Created(_)) => kinds.push("created"),
            Some(Kind::StateChanged(s)) => {
                kinds.push("state");
                if s.state == pb::JobState::Succeeded as i32 {
                    break;
                }
            }
            Some(Kind::StepChanged(_)) => kinds.push("step"),
            Some(Kind::Output(lines)) => {
                agent_lines += lines
                    .lines
                    .iter()
                    .filter(|l| l.text.starts_with("New-VM"))
                    .count();
                kinds.push("output");
            }
            Some(Kind::Progress(_)) => kinds.push("progress"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(kinds.first(), Some(&"created"));
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "a watcher of all jobs sees no gap: {ids:?}"
    );
    assert_eq!(agent_lines, 1, "the agent's log line streamed as output");

    // Resume after the third event: the rest, in order, then synced.
    let mut resumed = watch(&suite, &job.id, ids[2]).await;
    let mut replayed = Vec::new();
    loop {
        let event = next(&mut resumed).await;
        match event.event {
            Some(Kind::Synced(synced)) => {
                assert_eq!(synced.event_id, *ids.last().unwrap_or(&0));
                break;
            }
            Some(Kind::Heartbeat(_)) => {}
            _ => replayed.push(event.event_id),
        }
    }
    assert_eq!(replayed, ids[3..]);
    // From an id this process never gave: resync with a snapshot of the job.
    let mut unknown = watch(&suite, &job.id, 1).await;
    let event = next(&mut unknown).await;
    assert!(
        matches!(event.event, Some(Kind::Resync(ref r)) if r.reason == pb::ResyncReason::UnknownEventId as i32)
    );
    let Some(Kind::Snapshot(snapshot)) = next(&mut unknown).await.event else {
        panic!("no snapshot")
    };
    assert_eq!(
        (snapshot.id, snapshot.state),
        (job.id.clone(), pb::JobState::Succeeded as i32)
    );
    assert!(
        !snapshot.output.is_empty(),
        "include_output fills the snapshot's output"
    );
    let Err(status) = suite
        .client
        .clone()
        .watch(pb::WatchJobsRequest {
            job_id: "job-00000000-0000-4000-8000-000000000000".into(),
            ..Default::default()
        })
        .await
    else {
        panic!("watching an unknown job")
    };
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_notification_per_job_updated_in_place_and_secrets_never_returned() {
    let suite = Suite::start(
        FleetShape {
            hosts: 1,
            ..FleetShape::default()
        },
        |_| {},
    )
    .await;
    let host = suite.host(0);
    let secret = "Tr0ub4dor&3-very-secret";
    let job = suite
        .run(
            pb::JobType::Noop,
            json!({ "host": host.name(), "echo": { "purpose": "check" }, "secret": secret }),
        )
        .await;
    // The agent got it and echoed it; the service shows none of it.
    let full = suite.get(&job.id, true).await;
    let everything = format!("{full:?}");
    assert!(!everything.contains(secret), "{everything}");
    let spec: serde_json::Value = serde_json::from_str(&full.spec_json).unwrap_or_default();
    assert_eq!(spec["secret"], json!(MASK));
    let result: serde_json::Value =
        serde_json::from_str(&full.steps[0].result_json).unwrap_or_default();
    assert_eq!(result["echo"]["secret"], json!(MASK), "{result}");
    assert_eq!(result["echo"]["echo"]["purpose"], json!("check"));
    let mut events = watch(&suite, &job.id, 0).await;
    loop {
        let event = next(&mut events).await;
        assert!(!format!("{event:?}").contains(secret));
        if matches!(event.event, Some(Kind::Synced(_))) {
            break;
        }
    }

    // A job that fails gets an error notification, its own.
    if let Err(error) = host.fail_next(aetherv_hvsim::FailNext {
        count: 1,
        operation: Some(aetherv_hyperv::Operation::Noop),
        code: aetherv_hyperv::AgentErrorCode::Internal,
        message: "agent broke (injected)".into(),
    }) {
        panic!("{error}");
    }
    let failing = suite
        .submit(pb::JobType::Noop, json!({ "host": host.name() }))
        .await;
    assert_eq!(
        suite.finished(&failing.id).await.state,
        pb::JobState::Failed as i32
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let notification = loop {
        let listed = match suite
            .notifications_client
            .clone()
            .list(ntf::ListNotificationsRequest::default())
            .await
        {
            Ok(list) => list.into_inner(),
            Err(status) => panic!("notifications List: {status:?}"),
        };
        let mine: Vec<&ntf::Notification> = listed
            .notifications
            .iter()
            .filter(|n| n.dedup_key == format!("job:{}", job.id))
            .collect();
        assert!(mine.len() <= 1, "one notification per job");
        if let Some(n) = mine.first()
            && n.level == ntf::Level::Success as i32
        {
            assert!(
                listed
                    .notifications
                    .iter()
                    .all(|n| !format!("{n:?}").contains(secret))
            );
            break (*n).clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no success notification: {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        notification.occurrences, 2,
        "queued, then finished: the same notification"
    );
    assert_eq!(notification.category, ntf::Category::Job as i32);
    assert_eq!(notification.metadata.get("job_id"), Some(&job.id));
    assert!(
        notification.title.ends_with("succeeded"),
        "{}",
        notification.title
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let listed = match suite
            .notifications_client
            .clone()
            .list(ntf::ListNotificationsRequest::default())
            .await
        {
            Ok(list) => list.into_inner(),
            Err(status) => panic!("notifications List: {status:?}"),
        };
        let failed = listed.notifications.iter().find(|n| {
            n.dedup_key == format!("job:{}", failing.id) && n.level == ntf::Level::Error as i32
        });
        if let Some(failed) = failed {
            assert!(
                failed.message.contains("agent broke (injected)"),
                "{}",
                failed.message
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no error notification: {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_and_pages_and_the_edge_refuses_bad_ids() {
    let suite = Suite::start(
        FleetShape {
            hosts: 2,
            ..FleetShape::default()
        },
        |_| {},
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let job = suite
            .run(
                pb::JobType::Noop,
                json!({ "host": suite.host(i % 2).name() }),
            )
            .await;
        ids.push(job.id);
    }
    let page = |size: u32, token: String, host: String| pb::ListJobsRequest {
        host,
        types: vec![pb::JobType::Noop as i32],
        states: vec![pb::JobState::Succeeded as i32],
        page: Some(common::PageRequest {
            page_size: size,
            page_token: token,
        }),
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let listed = match suite
            .client
            .clone()
            .list(page(2, token.clone(), String::new()))
            .await
        {
            Ok(list) => list.into_inner(),
            Err(status) => panic!("List: {status:?}"),
        };
        assert_eq!(listed.page.as_ref().map(|p| p.total_size), Some(5));
        seen.extend(listed.jobs.iter().map(|j| j.id.clone()));
        assert!(
            listed.jobs.iter().all(|j| j.output.is_empty()),
            "lists carry no output"
        );
        token = listed.page.map(|p| p.next_page_token).unwrap_or_default();
        if token.is_empty() {
            break;
        }
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);
    let on_first = match suite
        .client
        .clone()
        .list(page(100, String::new(), suite.host(0).name().to_owned()))
        .await
    {
        Ok(list) => list.into_inner(),
        Err(status) => panic!("List: {status:?}"),
    };
    assert_eq!(on_first.jobs.len(), 3);
    let first_page = match suite
        .client
        .clone()
        .list(page(2, String::new(), String::new()))
        .await
    {
        Ok(list) => list.into_inner(),
        Err(status) => panic!("List: {status:?}"),
    };
    let token = first_page
        .page
        .map(|p| p.next_page_token)
        .unwrap_or_default();
    let Err(status) = suite
        .client
        .clone()
        .list(page(2, token, suite.host(1).name().to_owned()))
        .await
    else {
        panic!("a token used with other filters was accepted")
    };
    assert_eq!(detail(&status).violations[0].field, "page.page_token");
    let Err(status) = suite
        .client
        .clone()
        .list(page(1001, String::new(), String::new()))
        .await
    else {
        panic!("page size 1001 accepted")
    };
    assert_eq!(detail(&status).violations[0].field, "page.page_size");
    let Err(status) = suite
        .client
        .clone()
        .get(pb::GetJobRequest {
            job_id: "nope".into(),
            include_output: false,
        })
        .await
    else {
        panic!("a malformed id was accepted")
    };
    assert_eq!(
        (status.code(), detail(&status).violations[0].field.as_str()),
        (Code::InvalidArgument, "job_id")
    );
    let Err(status) = suite
        .client
        .clone()
        .retry(pb::RetryJobRequest {
            job_id: "job-00000000-0000-4000-8000-000000000000".into(),
        })
        .await
    else {
        panic!("an unknown job was retried")
    };
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_falls_behind_gets_a_resync_and_a_fresh_snapshot() {
    const JOBS: usize = 120;
    let suite = Suite::start(
        FleetShape {
            hosts: 1,
            ..FleetShape::default()
        },
        |config| {
            config.watch_buffer = 16;
        },
    )
    .await;
    let host = suite.host(0);
    // A slow reader: a 1 KiB HTTP/2 stream window, so the service's side of the stream
    // fills after a few events and its broadcast backlog overflows while this test does
    // not read.
    let endpoint =
        match tonic::transport::Endpoint::from_shared(format!("http://{}", suite.jobs.address)) {
            Ok(endpoint) => endpoint.initial_stream_window_size(1024),
            Err(error) => panic!("endpoint: {error}"),
        };
    let channel = match endpoint.connect().await {
        Ok(channel) => channel,
        Err(error) => panic!("connect: {error}"),
    };
    let mut slow = match pb::jobs_client::JobsClient::new(channel)
        .watch(pb::WatchJobsRequest {
            job_id: String::new(),
            from_event_id: 0,
            include_output: true,
        })
        .await
    {
        Ok(stream) => stream.into_inner(),
        Err(status) => panic!("Watch: {status:?}"),
    };
    // Read the initial resync/synced, then stop reading while jobs produce many events.
    while !matches!(next(&mut slow).await.event, Some(Kind::Synced(_))) {}
    let mut jobs = Vec::new();
    for _ in 0..JOBS {
        jobs.push(
            suite
                .submit(pb::JobType::Noop, json!({ "host": host.name() }))
                .await,
        );
    }
    for job in &jobs {
        suite.finished(&job.id).await;
    }
    let mut resynced = None;
    let mut snapshots = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no resync and snapshot within 60 s (resync: {resynced:?}, snapshots: {snapshots})"
        );
        let event = next(&mut slow).await;
        match event.event {
            Some(Kind::Resync(resync)) => resynced = Some(resync.reason),
            Some(Kind::Snapshot(_)) if resynced.is_some() => snapshots += 1,
            Some(Kind::Synced(_)) if resynced.is_some() => break,
            _ => {}
        }
    }
    assert_eq!(resynced, Some(pb::ResyncReason::FellBehind as i32));
    assert_eq!(snapshots, JOBS, "the snapshot holds every retained job");
}
