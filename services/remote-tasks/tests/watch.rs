//! `inventory.watch` through remote-tasks against a simulated host: the host's changes
//! arrive on the Run stream as `host_event`s while the watch runs, then the result; a
//! watch runs in CATEGORY_WATCH only, and takes none of the slots other work needs.

mod support;

use std::time::Duration;

use aetherv_hvsim::VmChange;
use aetherv_proto::remotetasks::v1 as pb;
use serde_json::json;
use support::*;
use tonic::Code;

#[tokio::test]
async fn changes_on_the_host_arrive_as_host_events_then_the_result() {
    let fleet = fleet(1).await;
    let host = fleet.hosts()[0].clone();
    let vm = host.vms()[0].id;
    let service = Service::start(config_for(&fleet)).await;
    let mut client = service.client().await;
    let request = request(
        host.name(),
        "inventory.watch",
        json!({"seconds": 2}),
        pb::Category::Watch,
    );
    let mut stream = client
        .run(request)
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    until_started(&mut stream).await;
    eventually("the watch subscribed", || {
        (host.watchers() == 1).then_some(())
    })
    .await;
    host.change_vm(
        vm,
        &VmChange {
            cpu_count: Some(3),
            ..VmChange::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let events = tokio::time::timeout(Duration::from_secs(20), rest(&mut stream))
        .await
        .unwrap_or_else(|_| panic!("the watch did not end"));
    let host_events: Vec<&pb::HostEvent> = events
        .iter()
        .filter_map(|e| match &e.event {
            Some(pb::run_event::Event::HostEvent(h)) => Some(h),
            _ => None,
        })
        .collect();
    assert_eq!(
        host_events,
        vec![&pb::HostEvent {
            kind: "vm".into(),
            change: "modified".into(),
            vm_id: vm.to_string(),
        }]
    );
    let result = result(&events);
    assert!(result.ok, "{result:?}");
    let data: serde_json::Value =
        serde_json::from_str(&result.data_json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(data["events"], 1);
    service.stop().await;
}

#[tokio::test]
async fn a_watch_runs_only_in_the_watch_category_and_leaves_the_others_their_slots() {
    let fleet = fleet(1).await;
    let host = fleet.hosts()[0].clone();
    let mut config = config_for(&fleet);
    // One operation at a time, globally and on the host: a watch must not take it.
    config.limits.global_in_flight = 1;
    config.limits.per_host_in_flight = 1;
    let service = Service::start(config).await;
    let mut client = service.client().await;
    for (operation, category) in [
        ("inventory.watch", pb::Category::Inventory),
        ("inventory.collect", pb::Category::Watch),
    ] {
        let status = refused(
            &mut client,
            request(host.name(), operation, json!({}), category),
        )
        .await;
        assert_code(&status, Code::InvalidArgument);
        assert!(status.message().contains("category"), "{status:?}");
    }
    let mut watch = client
        .run(request(
            host.name(),
            "inventory.watch",
            json!({"seconds": 3600}),
            pb::Category::Watch,
        ))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    until_started(&mut watch).await;
    // The watch is running; a collect of the same host still gets the only slot.
    let collected = tokio::time::timeout(
        Duration::from_secs(20),
        run_ok(
            &mut client,
            request(
                host.name(),
                "inventory.collect",
                json!({}),
                pb::Category::Inventory,
            ),
        ),
    )
    .await
    .unwrap_or_else(|_| panic!("the collect waited behind the watch"));
    assert!(result(&collected).ok);
    let metrics = client
        .metrics(pb::MetricsRequest {})
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(
        metrics.in_flight, 0,
        "a watch counted as in flight globally"
    );
    let watch_metrics = metrics
        .categories
        .iter()
        .find(|c| c.category == pb::Category::Watch as i32)
        .unwrap_or_else(|| panic!("no watch category in {metrics:?}"));
    assert_eq!(watch_metrics.in_flight, 1);
    // Dropping the stream cancels the watch: the command is stopped on the host.
    drop(watch);
    eventually("the watch ended on the host", || {
        (host.watchers() == 0).then_some(())
    })
    .await;
    service.stop().await;
}
