//! `inventory.watch` on a simulated host: out-of-band changes made through the control API
//! (HTTP) and changes made by other agent operations reach a running watch as event lines
//! while it runs; the watch ends with its result after `seconds`; Ctrl+C answers
//! CANCELLED and leaves no subscription behind. Every line is checked against the schemas
//! and parsed by the product's parser (`common::check`).

mod common;

use common::http;

use std::time::Duration;

use aetherv_hvsim::{NewVm, SimFleet, SimHost};
use aetherv_hyperv::{AgentEvent, EventChange, EventLine, Generation, Operation, VmId, VmState};
use serde_json::json;

/// Waits (real time, bounded) until `host` has `n` watchers.
async fn until_watchers(host: &SimHost, n: usize) {
    for _ in 0..500 {
        if host.watchers() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("host never had {n} watchers (has {})", host.watchers());
}

fn changes(events: &[AgentEvent]) -> Vec<EventLine> {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Change(line) => Some(line.clone()),
            _ => None,
        })
        .collect()
}

fn new_vm(name: &str) -> NewVm {
    NewVm {
        name: name.into(),
        cpu_count: 2,
        memory_startup_bytes: 2 << 30,
        generation: Generation::Two,
        state: VmState::Off,
        notes: String::new(),
        guest_os_name: None,
    }
}

#[tokio::test]
async fn out_of_band_changes_reach_a_running_watch_and_it_ends_after_its_seconds() {
    let fleet: SimFleet = common::fleet(1, 3, 0).await;
    let host = fleet.hosts()[0].clone();
    let addr = fleet
        .start_control_api("127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let base = format!("http://{addr}/hosts/{}", host.name());
    let existing = host.vms()[0].id;
    let doomed = host.vms()[1].id;

    let watching = host.clone();
    let started = std::time::Instant::now();
    let watch = tokio::spawn(async move {
        common::call(&watching, "inventory.watch", json!({"seconds": 3})).await
    });
    until_watchers(&host, 1).await;

    // Out of band, through the control API: a setting, a new VM, a removal.
    let (patch, _) = http(
        "PATCH",
        &format!("{base}/vms/{existing}"),
        Some(json!({"cpu_count": 3})),
    )
    .await;
    assert_eq!(patch, 200);
    let added = host
        .add_vm(&new_vm("watched-new"))
        .unwrap_or_else(|e| panic!("{e}"));
    let (delete, _) = http("DELETE", &format!("{base}/vms/{doomed}"), None).await;
    assert!((200..300).contains(&delete), "delete answered {delete}");

    let answer = tokio::time::timeout(Duration::from_secs(20), watch)
        .await
        .unwrap_or_else(|_| panic!("the watch did not end"))
        .unwrap_or_else(|e| panic!("{e}"));
    let took = started.elapsed();
    assert_eq!(answer.exit, 0);
    let seen = changes(&answer.events);
    assert_eq!(
        seen,
        vec![
            EventLine::vm(EventChange::Modified, existing),
            EventLine::vm(EventChange::Created, added.id),
            EventLine::vm(EventChange::Deleted, doomed),
        ]
    );
    assert_eq!(answer.data()["events"], json!(3));
    // It watched for its seconds, no less (and answered, not hung).
    assert!(took >= Duration::from_secs(3), "ended after {took:?}");
    let watched = answer.data()["watched_seconds"]
        .as_u64()
        .unwrap_or_default();
    assert!(watched >= 3, "watched_seconds {watched}");
    until_watchers(&host, 0).await;
}

#[tokio::test]
async fn changes_made_by_agent_operations_reach_a_running_watch() {
    let fleet = common::fleet(1, 0, 0).await;
    let host = fleet.hosts()[0].clone();
    let vm: VmId = host
        .add_vm(&new_vm("to-start"))
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    let watching = host.clone();
    let watch = tokio::spawn(async move {
        common::call(&watching, "inventory.watch", json!({"seconds": 2})).await
    });
    until_watchers(&host, 1).await;
    let started = common::call(&host, "vm.power", json!({"vm_id": vm, "action": "start"})).await;
    assert_eq!(started.data()["state"], "Running");
    let answer = watch.await.unwrap_or_else(|e| panic!("{e}"));
    let seen = changes(&answer.events);
    // Off -> Starting, then Starting -> Running: both are modifications of that VM.
    assert!(
        seen.len() >= 2
            && seen
                .iter()
                .all(|l| *l == EventLine::vm(EventChange::Modified, vm)),
        "{seen:?}"
    );
}

#[tokio::test]
async fn ctrl_c_cancels_a_watch_and_unsubscribes() {
    let fleet = common::fleet(1, 1, 0).await;
    let host = fleet.hosts()[0].clone();
    let line = common::request_line("inventory.watch", json!({"seconds": 3600}));
    let ran = common::agent_line(&host, &line, Some(Duration::from_millis(300))).await;
    let answer = common::check(Operation::InventoryWatch, &ran).unwrap_or_else(|v| panic!("{v}"));
    assert_eq!(answer.code(), "CANCELLED");
    assert_eq!(answer.exit, 1);
    assert_eq!(host.watchers(), 0);
}

#[tokio::test]
async fn event_lines_belong_to_the_watch_only() {
    let fleet = common::fleet(1, 2, 0).await;
    let host = fleet.hosts()[0].clone();
    // A collect while nobody watches writes no event line even when the model settles.
    let collect = common::call(&host, "inventory.collect", json!({})).await;
    assert!(changes(&collect.events).is_empty());
    // Out-of-range seconds are refused with the field named.
    let refused = common::call(&host, "inventory.watch", json!({"seconds": 0})).await;
    assert_eq!(refused.code(), "INVALID_REQUEST");
}
