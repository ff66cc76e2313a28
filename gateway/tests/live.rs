//! `/ws` topics `jobs`, `jobs:<id>` and `notifications` end to end (tokio-tungstenite as the
//! client; the simulated fleet, remote-tasks, inventory, notifications and jobs behind the
//! gateway): a client sees a job's events in order, drops its connection mid-job,
//! reconnects with its last cursor and gets the rest — compared with the jobs service's own
//! `Watch`, without a gap or a duplicate; many clients of one job share one upstream stream
//! (the jobs service allows only a few); the `jobs` topic and the notifications topic see a
//! job and its finished notification; `topic_status` says when the gateway's own stream
//! of a topic is down and when it is back.

mod support;

use std::time::Duration;

use aetherv_hyperv::Operation;
use aetherv_proto::jobs::v1 as pb;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use support::http::{get, send};
use support::openapi::check_component;
use support::stack::Stack;
use support::ws::WsClient;

const WAIT: Duration = Duration::from_secs(60);
const GIB: u64 = 1 << 30;

async fn connect(stack: &Stack) -> WsClient {
    let mut client = WsClient::connect(&stack.gateway.ws_url()).await;
    assert_eq!(client.next(WAIT).await["type"], "hello");
    client
}

/// Subscribes to `topic` after `after` and reads up to `subscribed`.
async fn subscribe(client: &mut WsClient, topic: &str, after: Value) {
    client
        .send(json!({"type": "subscribe", "topics": [{"topic": topic, "after": after}]}))
        .await;
    let frame = client.next(WAIT).await;
    assert_eq!(
        (frame["type"].clone(), frame["topic"].clone()),
        (json!("subscribed"), json!(topic)),
        "{frame}"
    );
}

/// Submits a managed deployment through REST; the accepted body.
async fn deploy(stack: &Stack, host: &str, name: &str) -> Value {
    let reply = send(
        Method::POST,
        &stack.url("/api/v1/deployments"),
        &[("content-type", "application/json")],
        json!({
            "host": host,
            "vm": {"name": name, "storage_class": "fast-ssd"},
            "disks": [{"size_bytes": GIB}, {"size_bytes": 2 * GIB}],
            "nics": [{"network": "Production"}]
        })
        .to_string()
        .as_bytes(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    reply.json()
}

fn event_id(frame: &Value) -> u64 {
    frame["event_id"].as_u64().unwrap_or(0)
}

/// Checks an event frame's shape: the cursor is its event id, `data` says the job, and the
/// records it carries match the OpenAPI components.
fn check_job_event(frame: &Value, job_id: &str) {
    assert_eq!(frame["cursor"], event_id(frame).to_string(), "{frame}");
    assert_eq!(frame["data"]["job_id"], job_id, "{frame}");
    match frame["kind"].as_str() {
        Some("job_step_changed") => check_component("JobStep", &frame["data"]["step"]),
        Some("job_output") => {
            for line in frame["data"]["lines"].as_array().into_iter().flatten() {
                check_component("OutputLine", line);
            }
        }
        Some("job_created") => {
            let mut job = frame["data"].clone();
            if let Value::Object(object) = &mut job {
                object.remove("job_id");
                object.remove("time");
            }
            check_component("Job", &job);
        }
        Some("job_state_changed" | "job_progress") => {}
        other => panic!("unknown job event kind {other:?}: {frame}"),
    }
}

/// The job's events after `after` as the jobs service itself replays them.
async fn service_events(stack: &Stack, job_id: &str, after: u64) -> Vec<u64> {
    let mut client = stack.jobs().await;
    let mut stream = match client
        .watch(pb::WatchJobsRequest {
            job_id: job_id.to_string(),
            from_event_id: after,
            include_output: false,
        })
        .await
    {
        Ok(stream) => stream.into_inner(),
        Err(status) => panic!("watch: {status}"),
    };
    let mut ids = Vec::new();
    loop {
        match tokio::time::timeout(WAIT, stream.message()).await {
            Ok(Ok(Some(event))) => match event.event {
                Some(pb::job_event::Event::Synced(_)) => return ids,
                Some(pb::job_event::Event::Resync(_)) => {
                    panic!("the service cannot replay from {after}")
                }
                Some(_) => ids.push(event.event_id),
                None => {}
            },
            other => panic!("the service's replay ended: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jobs_events_arrive_in_order_and_a_reconnect_gets_the_rest_without_gap_or_duplicate() {
    // The jobs service serves only a few Watch streams: twelve clients of one job work only
    // because the gateway shares one stream among them.
    let stack = Stack::builder()
        .hosts(1)
        .clusters(0)
        .vms_per_host(2)
        .jobs(|config| config.max_watchers = 6)
        .start()
        .await;
    let host = match stack.fleet.hosts().first() {
        Some(host) => host.clone(),
        None => panic!("no host"),
    };
    for operation in [
        Operation::VmCreate,
        Operation::DiskCreate,
        Operation::NicCreate,
    ] {
        host.set_operation_latency(operation, Duration::from_millis(700));
    }
    let accepted = deploy(&stack, &host.name().to_lowercase(), "live-01").await;
    let Some(job_id) = accepted["job_id"].as_str().map(String::from) else {
        panic!("no job id: {accepted}");
    };
    let topic = format!("jobs:{job_id}");
    let start = accepted["job"]["cursor"].clone();
    let Some(start_id) = start.as_str().and_then(|c| c.parse::<u64>().ok()) else {
        panic!("no cursor in {accepted}");
    };

    // Twelve clients follow the job from its creation.
    let mut crowd = Vec::new();
    for _ in 0..12 {
        let mut client = connect(&stack).await;
        subscribe(&mut client, &topic, start.clone()).await;
        crowd.push(client);
    }

    // One of them reads a few events, then drops its connection while the job runs.
    let mut first = crowd.remove(0);
    let mut seen: Vec<Value> = Vec::new();
    while seen.iter().filter(|f| f["type"] == "event").count() < 4 {
        let frame = first.next(WAIT).await;
        assert_ne!(
            frame["type"], "topic_status",
            "the shared stream is up: {frame}"
        );
        if frame["type"] == "event" {
            check_job_event(&frame, &job_id);
            seen.push(frame);
        }
    }
    let Some(last) = seen.last().map(|f| f["cursor"].clone()) else {
        panic!("no event");
    };
    drop(first);
    let progress = get(&stack.url(&format!("/api/v1/jobs/{job_id}?output=false")))
        .await
        .json();
    assert!(
        matches!(
            progress["state"].as_str(),
            Some("pending" | "waiting" | "running")
        ),
        "the connection dropped mid-job: {progress}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // It reconnects with its last cursor and gets the rest.
    let mut again = connect(&stack).await;
    subscribe(&mut again, &topic, last).await;
    let mut synced = false;
    loop {
        let frame = again.next(WAIT).await;
        match frame["type"].as_str() {
            Some("event") => {
                check_job_event(&frame, &job_id);
                let done =
                    frame["kind"] == "job_state_changed" && frame["data"]["state"] == "succeeded";
                seen.push(frame);
                if done {
                    break;
                }
            }
            Some("synced") => synced = true,
            _ => panic!("unexpected frame while resuming: {frame}"),
        }
    }
    assert!(synced, "the replay ends with synced");
    let ids: Vec<u64> = seen.iter().map(event_id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicate: {ids:?}"
    );
    let expected = service_events(&stack, &job_id, start_id).await;
    assert_eq!(ids, expected, "exactly the service's events, without a gap");
    // The job's story, in order: running, its steps, succeeded.
    let states: Vec<&str> = seen
        .iter()
        .filter(|f| f["kind"] == "job_state_changed")
        .filter_map(|f| f["data"]["state"].as_str())
        .collect();
    assert_eq!(states.last(), Some(&"succeeded"));
    let steps: Vec<u64> = seen
        .iter()
        .filter(|f| f["kind"] == "job_step_changed" && f["data"]["step"]["state"] == "succeeded")
        .filter_map(|f| f["data"]["step"]["index"].as_u64())
        .collect();
    assert_eq!(steps, [0, 1, 2, 3, 4], "every step succeeded, in order");

    // Every other client got the whole story from the one shared stream.
    for client in &mut crowd {
        let mut theirs = Vec::new();
        loop {
            let frame = client.next(WAIT).await;
            if frame["type"] == "event" {
                theirs.push(event_id(&frame));
                if frame["kind"] == "job_state_changed" && frame["data"]["state"] == "succeeded" {
                    break;
                }
            } else {
                assert!(
                    matches!(frame["type"].as_str(), Some("synced")),
                    "unexpected: {frame}"
                );
            }
        }
        assert_eq!(theirs, expected);
    }

    // A job nobody knows is refused.
    let mut client = connect(&stack).await;
    client
        .send(json!({"type": "subscribe", "topics": ["jobs:job-00000000-0000-4000-8000-000000000000"]}))
        .await;
    let refused = client.next(WAIT).await;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["error"]["code"], "NOT_FOUND");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jobs_and_notifications_topics_follow_a_job_to_its_notification() {
    let mut stack = Stack::builder()
        .hosts(1)
        .clusters(0)
        .vms_per_host(3)
        .start()
        .await;
    let host = match stack.fleet.hosts().first() {
        Some(host) => host.clone(),
        None => panic!("no host"),
    };
    // Subscribe after the cursors REST gives: nothing between the read and the events.
    let jobs = get(&stack.url("/api/v1/jobs")).await.json();
    let notifications = get(&stack.url("/api/v1/notifications")).await.json();
    let mut client = connect(&stack).await;
    subscribe(&mut client, "jobs", jobs["cursor"].clone()).await;
    assert_eq!(client.next(WAIT).await["type"], "synced");
    subscribe(
        &mut client,
        "notifications",
        notifications["cursor"].clone(),
    )
    .await;
    assert_eq!(client.next(WAIT).await["type"], "synced");

    let accepted = deploy(&stack, &host.name().to_lowercase(), "live-02").await;
    let Some(job_id) = accepted["job_id"].as_str().map(String::from) else {
        panic!("no job id");
    };
    let mut kinds = Vec::new();
    let mut finished_notification = None;
    while finished_notification.is_none() {
        let frame = client.next(WAIT).await;
        assert_eq!(frame["type"], "event", "{frame}");
        if frame["topic"] == "jobs" {
            check_job_event(&frame, &job_id);
            kinds.push(frame["kind"].as_str().unwrap_or_default().to_string());
        } else {
            assert_eq!(frame["topic"], "notifications");
            let notification = &frame["data"]["notification"];
            if notification.is_object() {
                check_component("Notification", notification);
            }
            assert!(frame["data"]["unread_count"].is_u64(), "{frame}");
            if notification["related"]["id"] == job_id.as_str()
                && notification["level"] == "success"
            {
                finished_notification = Some(frame);
            }
        }
    }
    assert_eq!(kinds.first().map(String::as_str), Some("job_created"));
    assert!(kinds.contains(&"job_step_changed".to_string()));
    let Some(done) = finished_notification else {
        panic!("no notification");
    };
    assert_eq!(done["data"]["notification"]["category"], "deployment");
    assert!(
        done["data"]["notification"]["title"]
            .as_str()
            .is_some_and(|t| t.ends_with("succeeded"))
    );

    // The notifications service restarts: the topic says it is down, then up, and the
    // client reloads (its history is gone); new notifications flow again.
    stack.restart_notifications().await;
    let mut statuses = Vec::new();
    let mut resynced = false;
    while statuses.last().map(String::as_str) != Some("up") || !resynced {
        let frame = client.next(WAIT).await;
        match frame["type"].as_str() {
            Some("topic_status") => {
                assert_eq!(frame["topic"], "notifications");
                if frame["status"] == "down" {
                    assert!(frame["reason"].is_string(), "{frame}");
                }
                statuses.push(frame["status"].as_str().unwrap_or_default().to_string());
            }
            Some("resync") => {
                assert_eq!(frame["topic"], "notifications");
                resynced = true;
            }
            Some("event") => {}
            _ => panic!("unexpected: {frame}"),
        }
    }
    assert_eq!(statuses.first().map(String::as_str), Some("down"));
    let accepted = deploy(&stack, &host.name().to_lowercase(), "live-03").await;
    let Some(second) = accepted["job_id"].as_str().map(String::from) else {
        panic!("no job id");
    };
    loop {
        let frame = client.next(WAIT).await;
        if frame["topic"] == "notifications"
            && frame["type"] == "event"
            && frame["data"]["notification"]["related"]["id"] == second.as_str()
        {
            break;
        }
    }
    stack.stop().await;
}
