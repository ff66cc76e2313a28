//! Concurrency limits and queue bounds, observed where they matter: on the simulated
//! hosts, whose operation logs say how many commands ran at once.

mod support;

use std::time::Duration;

use aetherv_hvsim::{OperationRecord, SimHost};
use aetherv_proto::remotetasks::v1 as pb;
use aetherv_runtime::ApiError;
use futures::future::join_all;
use serde_json::json;
use support::*;
use tonic::Code;

/// Long enough that operations admitted together overlap on the host even on a loaded
/// machine (the assertions are about how many overlap, never about how long they took).
const LATENCY: Duration = Duration::from_secs(1);

/// Runs every request at once (each on a clone of the client) and waits for all results.
async fn run_all(service: &Service, requests: Vec<pb::RunRequest>) -> Vec<Vec<pb::RunEvent>> {
    let runs = requests.into_iter().map(|request| {
        let mut client = service.client.clone();
        async move { run_ok(&mut client, request).await }
    });
    join_all(runs).await
}

fn peak(host: &SimHost) -> usize {
    host.operations()
        .iter()
        .map(|r| r.concurrent)
        .max()
        .unwrap_or(0)
}

/// The most commands running at once across all these records (by their host clocks).
fn overlap(records: &[OperationRecord]) -> usize {
    let mut edges: Vec<(i128, i32)> = Vec::new();
    for record in records {
        let start = record.started_at.get().unix_timestamp_nanos();
        let end = match record.finished_at {
            Some(end) => end.get().unix_timestamp_nanos(),
            None => panic!("a record has not finished: {record:?}"),
        };
        edges.push((start, 1));
        edges.push((end, -1));
    }
    // Ends before starts at the same instant.
    edges.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, step) in edges {
        now += step;
        most = most.max(now);
    }
    most as usize
}

fn all_ok(results: &[Vec<pb::RunEvent>]) {
    for events in results {
        assert!(result(events).ok, "{:?}", result(events));
    }
}

#[tokio::test]
async fn the_per_host_limit_holds_across_categories() {
    let fleet = fleet(2).await;
    let mut config = config_for(&fleet);
    config.limits.per_host_in_flight = 2;
    config.limits.inventory.per_host_in_flight = 2;
    config.limits.control.per_host_in_flight = 2;
    let service = Service::start(config).await;
    let busy = &fleet.hosts()[0];
    busy.set_latency(LATENCY);
    let mut requests = Vec::new();
    for _ in 0..3 {
        requests.push(request(
            busy.name(),
            "agent.info",
            json!({}),
            pb::Category::Inventory,
        ));
        requests.push(request(
            busy.name(),
            "noop",
            json!({"n": 1}),
            pb::Category::Control,
        ));
    }
    let results = run_all(&service, requests).await;
    all_ok(&results);
    assert_eq!(busy.operations().len(), 6);
    assert_eq!(
        peak(busy),
        2,
        "two at once, never more: {:#?}",
        busy.operations()
    );
    service.stop().await;
}

#[tokio::test]
async fn io_runs_one_at_a_time_per_host_but_in_parallel_across_hosts() {
    let fleet = fleet(2).await;
    let service = Service::start(config_for(&fleet)).await;
    let (a, b) = (&fleet.hosts()[0], &fleet.hosts()[1]);
    a.set_latency(LATENCY);
    b.set_latency(LATENCY);
    let mut requests = Vec::new();
    for host in [a, b, a, b, a, b] {
        requests.push(request(host.name(), "noop", json!({}), pb::Category::Io));
    }
    // Inventory work on a busy io host is not held back.
    requests.push(request(
        a.name(),
        "agent.info",
        json!({}),
        pb::Category::Inventory,
    ));
    let results = run_all(&service, requests).await;
    all_ok(&results);
    let io_only = |host: &SimHost| -> Vec<OperationRecord> {
        host.operations()
            .into_iter()
            .filter(|r| r.operation.as_deref() == Some("noop"))
            .collect()
    };
    assert_eq!(overlap(&io_only(a)), 1, "{:#?}", a.operations());
    assert_eq!(overlap(&io_only(b)), 1, "{:#?}", b.operations());
    let both: Vec<OperationRecord> = io_only(a).into_iter().chain(io_only(b)).collect();
    assert_eq!(overlap(&both), 2, "one per host, both hosts at once");
    assert_eq!(peak(a), 2, "agent.info ran beside an io task");
    service.stop().await;
}

#[tokio::test]
async fn the_global_limit_holds_across_hosts() {
    let fleet = fleet(4).await;
    let mut config = config_for(&fleet);
    config.limits.global_in_flight = 3;
    let service = Service::start(config).await;
    let mut requests = Vec::new();
    for host in fleet.hosts() {
        host.set_latency(LATENCY);
        for _ in 0..2 {
            requests.push(request(
                host.name(),
                "agent.info",
                json!({}),
                pb::Category::Inventory,
            ));
        }
    }
    let results = run_all(&service, requests).await;
    all_ok(&results);
    let records: Vec<OperationRecord> =
        fleet.hosts().iter().flat_map(SimHost::operations).collect();
    assert_eq!(records.len(), 8);
    assert_eq!(overlap(&records), 3, "{records:#?}");
    service.stop().await;
}

#[tokio::test]
async fn a_full_category_queue_answers_resource_exhausted_at_once() {
    let fleet = fleet(1).await;
    let mut config = config_for(&fleet);
    config.limits.global_in_flight = 1;
    config.limits.per_host_in_flight = 1;
    config.limits.control.per_host_in_flight = 1;
    config.limits.control.queue_capacity = 2;
    let service = Service::start(config).await;
    let host = &fleet.hosts()[0];
    host.set_latency(Duration::from_secs(60));
    let noop = || request(host.name(), "noop", json!({}), pb::Category::Control);
    let mut client = service.client.clone();
    let mut running = match client.run(noop()).await {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("{status:?}"),
    };
    until_started(&mut running).await;
    let mut waiting = Vec::new();
    for expected_position in 0..2 {
        let mut stream = match client.run(noop()).await {
            Ok(response) => response.into_inner(),
            Err(status) => panic!("{status:?}"),
        };
        match stream.message().await {
            Ok(Some(pb::RunEvent {
                event: Some(pb::run_event::Event::Accepted(accepted)),
                ..
            })) => {
                assert_eq!(accepted.queue_position, expected_position);
            }
            other => panic!("expected accepted, got {other:?}"),
        }
        waiting.push(stream);
    }
    let status = refused(&mut client, noop()).await;
    assert_code(&status, Code::ResourceExhausted);
    let error = ApiError::from_status(&status);
    assert_eq!(
        error.metadata.get("category").map(String::as_str),
        Some("control")
    );
    assert_eq!(
        error.metadata.get("queue_capacity").map(String::as_str),
        Some("2")
    );
    // Other categories have their own queue.
    let mut other = match client
        .run(request(
            host.name(),
            "agent.info",
            json!({}),
            pb::Category::Inventory,
        ))
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("inventory was refused with control's queue full: {status:?}"),
    };
    accepted(&mut other).await;
    let metrics = match client.metrics(pb::MetricsRequest {}).await {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("{status:?}"),
    };
    assert_eq!(metrics.categories[1].queue_depth, 2);
    assert_eq!(metrics.categories[1].in_flight, 1);
    assert_eq!(metrics.categories[1].rejected, 1);
    assert_eq!(metrics.hosts[0].queue_depth, 3);
    assert_eq!(metrics.hosts[0].in_flight, 1);
    assert_eq!(metrics.in_flight, 1);
    drop((running, waiting, other));
    service.stop().await;
}

#[tokio::test]
async fn a_full_host_queue_answers_resource_exhausted_without_blocking_other_hosts() {
    let fleet = fleet(2).await;
    let mut config = config_for(&fleet);
    config.limits.per_host_in_flight = 1;
    config.limits.control.per_host_in_flight = 1;
    config.limits.per_host_queue_capacity = 2;
    let service = Service::start(config).await;
    let (busy, other) = (&fleet.hosts()[0], &fleet.hosts()[1]);
    busy.set_latency(Duration::from_secs(60));
    let mut client = service.client.clone();
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut stream = match client
            .run(request(
                busy.name(),
                "noop",
                json!({}),
                pb::Category::Control,
            ))
            .await
        {
            Ok(response) => response.into_inner(),
            Err(status) => panic!("{status:?}"),
        };
        accepted(&mut stream).await;
        streams.push(stream);
    }
    let status = refused(
        &mut client,
        request(
            busy.name(),
            "agent.info",
            json!({}),
            pb::Category::Inventory,
        ),
    )
    .await;
    assert_code(&status, Code::ResourceExhausted);
    let error = ApiError::from_status(&status);
    assert_eq!(
        error.metadata.get("host").map(String::as_str),
        Some(busy.name())
    );
    let events = run_ok(
        &mut client,
        request(
            other.name(),
            "agent.info",
            json!({}),
            pb::Category::Inventory,
        ),
    )
    .await;
    assert!(result(&events).ok);
    drop(streams);
    service.stop().await;
}
