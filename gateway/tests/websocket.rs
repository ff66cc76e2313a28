//! `/ws` end to end, with tokio-tungstenite as the client, against the simulated fleet,
//! remote-tasks and inventory: an out-of-band change on a host reaches a subscriber; a
//! client that reconnects with its last cursor gets exactly what it missed (from the
//! gateway's ring, and from inventory's history when the ring no longer has it); a slow
//! client gets `resync`; cursors too old or ahead of inventory get `resync` too.

mod support;

use std::time::Duration;

use aetherv_hvsim::VmChange;
use serde_json::{Value, json};
use support::http::get;
use support::openapi::check_component;
use support::stack::Stack;
use support::ws::WsClient;

const WAIT: Duration = Duration::from_secs(30);

/// A cursor as an ordered key: `"r"` is everything of `r`, `"r.n"` the first n.
fn key(cursor: &str) -> (u64, u32) {
    match cursor.split_once('.') {
        None => (cursor.parse().unwrap_or(0), u32::MAX),
        Some((r, n)) => (r.parse().unwrap_or(0), n.parse().unwrap_or(0)),
    }
}

fn cursor_of(frame: &Value) -> String {
    frame["cursor"].as_str().unwrap_or_default().to_string()
}

/// Identity of an event for comparing streams.
fn identity(frame: &Value) -> (String, String, String) {
    let id = frame["data"]["id"]
        .as_str()
        .or_else(|| frame["data"]["name"].as_str())
        .unwrap_or_default();
    (
        cursor_of(frame),
        frame["kind"].as_str().unwrap_or_default().to_string(),
        id.to_string(),
    )
}

async fn revision(stack: &Stack) -> u64 {
    let body = get(&stack.url("/api/v1/inventory")).await.json();
    match body["revision"].as_u64() {
        Some(revision) => revision,
        None => panic!("no revision in {body}"),
    }
}

/// Connects, reads hello, subscribes to inventory after `after`; returns the client and
/// the frames up to and including `synced`.
async fn subscribe(stack: &Stack, after: Value) -> (WsClient, Vec<Value>) {
    let mut client = WsClient::connect(&stack.gateway.ws_url()).await;
    assert_eq!(client.next(WAIT).await["type"], "hello");
    client
        .send(json!({"type": "subscribe", "topics": [{"topic": "inventory", "after": after}]}))
        .await;
    let subscribed = client.next(WAIT).await;
    assert_eq!(subscribed["type"], "subscribed", "{subscribed}");
    let mut frames = Vec::new();
    loop {
        let frame = client.next(WAIT).await;
        let done = frame["type"] == "synced" || frame["type"] == "resync";
        frames.push(frame);
        if done {
            return (client, frames);
        }
    }
}

/// Reads events until one satisfies `stop`; returns them all (that one included).
async fn events_until(client: &mut WsClient, stop: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let frame = client.next_of_type("event", WAIT).await;
        let done = stop(&frame);
        events.push(frame);
        if done {
            return events;
        }
    }
}

fn change_notes(
    stack: &Stack,
    host_index: usize,
    vm_index: usize,
    notes: &str,
) -> (String, String) {
    let host = &stack.fleet.hosts()[host_index];
    let vm = &host.vms()[vm_index];
    let change = VmChange {
        notes: Some(notes.to_string()),
        ..VmChange::default()
    };
    if let Err(error) = host.change_vm(vm.id, &change) {
        panic!("out-of-band change failed: {error}");
    }
    (host.name().to_lowercase(), vm.id.to_string())
}

fn is_vm_with_notes(id: &str, notes: &str) -> impl Fn(&Value) -> bool {
    let (id, notes) = (id.to_string(), notes.to_string());
    move |frame| {
        frame["kind"] == "vm_upserted"
            && frame["data"]["id"] == id.as_str()
            && frame["data"]["notes"] == notes.as_str()
    }
}

fn assert_increasing(frames: &[Value], after: &str) {
    let mut last = key(after);
    for frame in frames {
        let cursor = key(&cursor_of(frame));
        assert!(
            cursor > last,
            "cursor {cursor:?} not after {last:?}: duplicates or disorder"
        );
        last = cursor;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_band_change_on_a_host_reaches_a_subscriber() {
    // The scheduled refresh (every 2 s) carries the change; nobody asks for it.
    let stack = Stack::builder().start().await;
    let (mut client, frames) = subscribe(&stack, json!(revision(&stack).await.to_string())).await;
    let synced = frames.last().cloned().unwrap_or_default();
    assert_eq!(synced["type"], "synced", "{synced}");
    let (_, id) = change_notes(&stack, 1, 2, "changed out of band by the test");
    let events = events_until(
        &mut client,
        is_vm_with_notes(&id, "changed out of band by the test"),
    )
    .await;
    let event = events.last().cloned().unwrap_or_default();
    assert_eq!(event["topic"], "inventory");
    assert!(event["revision"].as_u64() > Some(0));
    check_component("Vm", &event["data"]);
    for event in &events {
        match event["kind"].as_str() {
            Some("host_upserted") => check_component("Host", &event["data"]),
            Some("cluster_upserted") => check_component("Cluster", &event["data"]),
            Some("vm_upserted") => check_component("Vm", &event["data"]),
            other => panic!("unexpected event kind {other:?}: {event}"),
        }
    }
    assert_increasing(&events, synced["cursor"].as_str().unwrap_or("0"));
    stack.stop().await;
}

/// What inventory's own `Watch` stream holds after `cursor`, up to its `synced`, as
/// (cursor, kind, id) — the oracle a replay is compared with.
async fn inventory_after(stack: &Stack, cursor: &str) -> Vec<(String, String, String)> {
    use aetherv_proto::inventory::v1::watch_event::Event;
    let (number, seen) = key(cursor);
    let from = if seen == u32::MAX { number } else { number - 1 };
    let mut client = stack.inventory().await;
    let request = aetherv_proto::inventory::v1::WatchRequest {
        from_revision: from,
    };
    let mut stream = match client.watch(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("watch: {status}"),
    };
    let mut events = Vec::new();
    let mut last: Option<(u64, u32)> = None;
    loop {
        let event = match tokio::time::timeout(WAIT, stream.message()).await {
            Ok(Ok(Some(event))) => event,
            other => panic!("inventory watch ended: {other:?}"),
        };
        let (kind, id) = match event.event {
            Some(Event::VmUpserted(vm)) => ("vm_upserted", vm.id),
            Some(Event::VmDeleted(vm)) => ("vm_deleted", vm.id),
            Some(Event::HostUpserted(host)) => ("host_upserted", host.host),
            Some(Event::HostDeleted(host)) => ("host_deleted", host.host),
            Some(Event::ClusterUpserted(cluster)) => ("cluster_upserted", cluster.name),
            Some(Event::ClusterDeleted(cluster)) => ("cluster_deleted", cluster.name),
            Some(Event::Synced(_)) => return events,
            Some(Event::Resync(_)) => panic!("inventory no longer holds {cursor}"),
            Some(Event::Heartbeat(_)) | None => continue,
        };
        let index = match last {
            Some((revision, index)) if revision == event.revision => index + 1,
            _ => 1,
        };
        last = Some((event.revision, index));
        let at = (event.revision, index);
        if at > (number, seen) {
            events.push((format!("{}.{index}", event.revision), kind.to_string(), id));
        }
    }
}

/// Shared by the two resume tests: a client drops out, changes happen on every host, and
/// the client comes back with its last cursor.
async fn resume_without_gap_or_duplicate(stack: Stack, vms_per_host: usize) {
    let start = revision(&stack).await.to_string();
    let (mut client, _) = subscribe(&stack, json!(start)).await;

    let (host, id) = change_notes(&stack, 0, 0, "first");
    stack.refresh(&host).await;
    let seen = events_until(&mut client, is_vm_with_notes(&id, "first")).await;
    let cursor = cursor_of(seen.last().unwrap_or(&Value::Null));
    drop(client);

    // While the client is away: changes on every host.
    let mut changed = Vec::new();
    for host_index in 0..3 {
        let mut host = String::new();
        for vm_index in 1..=vms_per_host {
            let (name, id) =
                change_notes(&stack, host_index, vm_index, &format!("away {vm_index}"));
            host = name;
            changed.push(id);
        }
        stack.refresh(&host).await;
    }

    let (_, replay) = subscribe(&stack, json!(cursor)).await;
    let Some((synced, replayed)) = replay.split_last() else {
        panic!("no replay");
    };
    assert_eq!(synced["type"], "synced", "{synced}");
    let expected = inventory_after(&stack, &cursor).await;
    let got: Vec<_> = replayed.iter().map(identity).collect();
    assert!(
        expected.len() >= 3,
        "the changes produced events: {expected:?}"
    );
    assert_eq!(
        got, expected,
        "the replay is exactly what the client missed, in order"
    );
    assert_increasing(replayed, &cursor);
    for id in changed {
        assert!(
            got.iter()
                .any(|(_, kind, vm)| kind == "vm_upserted" && *vm == id),
            "{id} missing"
        );
    }
    assert!(
        key(synced["cursor"].as_str().unwrap_or("0"))
            >= key(&cursor_of(replayed.last().unwrap_or(&Value::Null)))
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_client_gets_what_it_missed_from_the_gateways_buffer() {
    let stack = Stack::builder()
        .refresh_interval(Duration::from_secs(600))
        .start()
        .await;
    resume_without_gap_or_duplicate(stack, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_client_older_than_the_buffer_is_replayed_from_inventory() {
    // An eight-event ring (more than one refresh's burst, fewer than the events missed):
    // the missed events can only come from inventory's history.
    let stack = Stack::builder()
        .refresh_interval(Duration::from_secs(600))
        .gateway(|config| config.websocket.replay_buffer = 8)
        .start()
        .await;
    resume_without_gap_or_duplicate(stack, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_too_old_or_ahead_of_inventory_get_resync() {
    let stack = Stack::builder()
        .refresh_interval(Duration::from_secs(600))
        .start()
        .await;
    let now = revision(&stack).await;
    let (_, frames) = subscribe(&stack, json!("1")).await;
    let resync = frames.last().cloned().unwrap_or_default();
    assert_eq!(
        (resync["type"].clone(), resync["reason"].clone()),
        (json!("resync"), json!("too_old")),
        "{resync}"
    );
    assert!(
        resync["cursor"].as_str().is_some_and(|c| key(c).0 >= now),
        "{resync}"
    );
    let (mut client, frames) = subscribe(&stack, json!((now + 1_000_000).to_string())).await;
    let resync = frames.last().cloned().unwrap_or_default();
    assert_eq!(resync["reason"], "unknown_cursor", "{resync}");
    // After a resync the subscription continues live.
    let (host, id) = change_notes(&stack, 2, 3, "after resync");
    stack.refresh(&host).await;
    events_until(&mut client, is_vm_with_notes(&id, "after resync")).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_falls_behind_gets_resync_and_then_live_events() {
    let stack = Stack::builder()
        .vms_per_host(20)
        .refresh_interval(Duration::from_secs(600))
        // More than one refresh's burst (20 vms + host + cluster), far less than the flood.
        .gateway(|config| config.websocket.replay_buffer = 32)
        .start()
        .await;
    let mut slow = WsClient::connect_slow(stack.gateway.addr, 4096).await;
    assert_eq!(slow.next(WAIT).await["type"], "hello");
    slow.send(json!({"type": "subscribe", "topics": ["inventory"]}))
        .await;
    assert_eq!(slow.next(WAIT).await["type"], "subscribed");
    assert_eq!(slow.next(WAIT).await["type"], "synced");

    // The slow client reads nothing while every VM's notes change, round after round
    // (large notes make large frames), far more than the ring and the socket buffers hold.
    let filler = "x".repeat(4000);
    let hosts: Vec<String> = stack
        .fleet
        .hosts()
        .iter()
        .map(|h| h.name().to_lowercase())
        .collect();
    for round in 0..12 {
        for host_index in 0..hosts.len() {
            for vm_index in 0..20 {
                change_notes(&stack, host_index, vm_index, &format!("{round}-{filler}"));
            }
        }
        let refreshes = hosts.iter().map(|host| stack.refresh(host));
        futures::future::join_all(refreshes).await;
    }
    let flooded_to = revision(&stack).await;

    // Reading again: the frames the socket held, then `resync` (fell_behind) wherever the
    // client's unread events were evicted, until the client is level with inventory.
    let mut resyncs = 0;
    let mut count = 0;
    loop {
        let Some(frame) = slow.try_next(WAIT).await else {
            panic!("the slow client stopped receiving after {count} frames");
        };
        count += 1;
        match frame["type"].as_str() {
            Some("resync") => {
                assert_eq!(frame["reason"], "fell_behind", "{frame}");
                resyncs += 1;
            }
            Some("event") => {}
            other => panic!("unexpected frame {other:?}: {frame}"),
        }
        if key(&cursor_of(&frame)).0 >= flooded_to {
            break;
        }
    }
    assert!(
        resyncs > 0,
        "the slow client was told it fell behind ({count} frames)"
    );
    // Live again: the next change arrives.
    let (host, id) = change_notes(&stack, 0, 0, "after the resync");
    stack.refresh(&host).await;
    events_until(&mut slow, is_vm_with_notes(&id, "after the resync")).await;
    stack.stop().await;
}
