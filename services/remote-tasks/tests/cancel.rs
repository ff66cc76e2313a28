//! Timeouts, Cancel, a caller that goes away, and hosts that cannot be reached — each
//! checked on the simulated host: a stopped task's command is terminated there.

mod support;

use std::time::Duration;

use aetherv_hvsim::{Outcome, Responsiveness};
use aetherv_hyperv::Operation;
use aetherv_proto::common::v1 as common;
use aetherv_proto::remotetasks::v1 as pb;
use serde_json::json;
use support::*;
use tonic::Code;

const LONG: Duration = Duration::from_secs(60);

fn duration(value: Option<&prost_types::Duration>) -> Duration {
    let value = value.copied().unwrap_or_default();
    Duration::new(value.seconds.max(0) as u64, value.nanos.max(0) as u32)
}

async fn cancel(
    client: &mut support_client::Client,
    task_id: &str,
) -> Result<pb::CancelOutcome, tonic::Status> {
    let response = client
        .cancel(pb::CancelRequest {
            task_id: task_id.to_string(),
        })
        .await?;
    Ok(pb::CancelOutcome::try_from(response.into_inner().outcome)
        .unwrap_or(pb::CancelOutcome::Unspecified))
}

mod support_client {
    pub type Client = aetherv_proto::remotetasks::v1::remote_tasks_client::RemoteTasksClient<
        tonic::transport::Channel,
    >;
}

#[tokio::test]
async fn a_timed_out_task_is_deadline_exceeded_and_terminated_on_the_host() {
    let fleet = fleet(1).await;
    let service = Service::start(config_for(&fleet)).await;
    let host = &fleet.hosts()[0];
    host.set_latency(LONG);
    let mut client = service.client.clone();
    let request = correlated(
        with_timeout(
            request(host.name(), "noop", json!({}), pb::Category::Control),
            Duration::from_secs(1),
        ),
        "job-timeout-1",
    );
    let events = run_ok(&mut client, request).await;
    let error = failure(&events);
    assert_eq!(
        error.code,
        common::ErrorCode::DeadlineExceeded as i32,
        "{error:?}"
    );
    assert_eq!(error.agent_code, "TIMEOUT");
    assert!(
        error.message.contains(host.name()) && error.message.contains("noop"),
        "{error:?}"
    );
    assert_eq!(result(&events).exit_code, None);
    let record = finished_record(host, "job-timeout-1").await;
    assert_eq!(record.outcome, Outcome::Terminated, "{record:?}");
    assert_eq!(host.running_operations(), 0);
    service.stop().await;
}

#[tokio::test]
async fn the_timeout_covers_the_run_and_not_the_queueing() {
    let fleet = fleet(1).await;
    let mut config = config_for(&fleet);
    config.limits.global_in_flight = 1;
    let service = Service::start(config).await;
    let host = &fleet.hosts()[0];
    host.set_operation_latency(Operation::Noop, Duration::from_secs(5));
    let mut first = service.client.clone();
    let mut second = service.client.clone();
    let slow = request(host.name(), "noop", json!({}), pb::Category::Control);
    let mut slow_stream = match first.run(slow).await {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("{status:?}"),
    };
    until_started(&mut slow_stream).await;
    // Queued behind the slow task for longer than its own timeout, then quick to run.
    let quick = with_timeout(
        request(
            host.name(),
            "agent.info",
            json!({}),
            pb::Category::Inventory,
        ),
        Duration::from_secs(3),
    );
    let events = run_ok(&mut second, quick).await;
    let started = events.iter().find_map(|e| match &e.event {
        Some(pb::run_event::Event::Started(started)) => Some(duration(started.queued_for.as_ref())),
        _ => None,
    });
    assert!(
        started.is_some_and(|queued| queued > Duration::from_secs(3)),
        "queued for {started:?}"
    );
    assert!(result(&events).ok, "{:?}", result(&events));
    assert!(result(&rest(&mut slow_stream).await).ok);
    service.stop().await;
}

#[tokio::test]
async fn cancel_dequeues_a_queued_task_and_stops_a_running_one() {
    let fleet = fleet(1).await;
    let mut config = config_for(&fleet);
    config.limits.global_in_flight = 1;
    let service = Service::start(config).await;
    let host = &fleet.hosts()[0];
    host.set_latency(LONG);
    let mut client = service.client.clone();
    let mut running = match client
        .run(correlated(
            request(host.name(), "noop", json!({}), pb::Category::Control),
            "job-running",
        ))
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("{status:?}"),
    };
    let running_id = until_started(&mut running).await[0].task_id.clone();
    running_on(host, "job-running").await;
    let mut queued = match client
        .run(correlated(
            request(host.name(), "noop", json!({}), pb::Category::Control),
            "job-queued",
        ))
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("{status:?}"),
    };
    let queued_id = accepted(&mut queued).await;

    assert_eq!(
        cancel(&mut client, &queued_id).await.ok(),
        Some(pb::CancelOutcome::Dequeued)
    );
    let events = rest(&mut queued).await;
    let error = failure(&events);
    assert_eq!(error.code, common::ErrorCode::Cancelled as i32);
    assert_eq!(error.agent_code, "CANCELLED");
    assert_eq!(
        duration(result(&events).run_duration.as_ref()),
        Duration::ZERO
    );

    assert_eq!(
        cancel(&mut client, &running_id).await.ok(),
        Some(pb::CancelOutcome::Stopped)
    );
    let record = finished_record(host, "job-running").await;
    assert_eq!(record.outcome, Outcome::Terminated, "{record:?}");
    let events = rest(&mut running).await;
    assert_eq!(failure(&events).code, common::ErrorCode::Cancelled as i32);

    // The queued task never reached the host.
    assert!(
        host.operations()
            .iter()
            .all(|r| r.correlation_id.as_deref() != Some("job-queued"))
    );
    assert_eq!(
        cancel(&mut client, &running_id).await.ok(),
        Some(pb::CancelOutcome::AlreadyFinished)
    );
    let unknown = cancel(&mut client, "task-0b4d2c1e-0b4d-4e8f-9a51-6c2d7e8f9a01").await;
    assert_eq!(unknown.err().map(|s| s.code()), Some(Code::NotFound));
    let malformed = cancel(&mut client, "job-1").await;
    assert_eq!(
        malformed.err().map(|s| s.code()),
        Some(Code::InvalidArgument)
    );
    service.stop().await;
}

#[tokio::test]
async fn a_caller_that_goes_away_cancels_its_task_on_the_host() {
    let fleet = fleet(1).await;
    let service = Service::start(config_for(&fleet)).await;
    let host = &fleet.hosts()[0];
    host.set_latency(LONG);
    let mut client = service.client.clone();
    let mut stream = match client
        .run(correlated(
            request(host.name(), "noop", json!({}), pb::Category::Control),
            "job-abandoned",
        ))
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("{status:?}"),
    };
    until_started(&mut stream).await;
    running_on(host, "job-abandoned").await;
    drop(stream);
    let record = finished_record(host, "job-abandoned").await;
    assert_eq!(record.outcome, Outcome::Terminated, "{record:?}");
    let mut metrics = pb::MetricsResponse::default();
    for _ in 0..500 {
        metrics = match client.metrics(pb::MetricsRequest {}).await {
            Ok(response) => response.into_inner(),
            Err(status) => panic!("{status:?}"),
        };
        if metrics.categories[1].completed == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(metrics.categories[1].completed, 1, "{metrics:?}");
    assert_eq!(metrics.in_flight, 0);
    assert_eq!(metrics.failures[0].agent_code, "CANCELLED");
    service.stop().await;
}

#[tokio::test]
async fn a_grpc_deadline_bounds_the_run_and_stops_the_command() {
    let fleet = fleet(1).await;
    let service = Service::start(config_for(&fleet)).await;
    let host = &fleet.hosts()[0];
    host.set_latency(LONG);
    let mut client = service.client.clone();
    let mut request = tonic::Request::new(correlated(
        request(host.name(), "noop", json!({}), pb::Category::Control),
        "job-deadline",
    ));
    request.set_timeout(Duration::from_secs(3));
    // The deadline reaches the server (grpc-timeout) and bounds the run there: the stream
    // ends with a DEADLINE_EXCEEDED result once the command has been stopped.
    let mut stream = match client.run(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("{status:?}"),
    };
    let events = rest(&mut stream).await;
    let error = failure(&events);
    assert_eq!(
        error.code,
        common::ErrorCode::DeadlineExceeded as i32,
        "{error:?}"
    );
    let record = finished_record(host, "job-deadline").await;
    assert_eq!(record.outcome, Outcome::Terminated, "{record:?}");
    service.stop().await;
}

#[tokio::test]
async fn a_refusing_host_is_unavailable_at_once_and_an_unresponsive_one_times_out() {
    let fleet = fleet(2).await;
    let mut config = config_for(&fleet);
    // Long transport timeouts: a refused connection must not wait for any of them.
    config.winrm.connect_timeout = Duration::from_secs(60);
    config.winrm.operation_timeout = Duration::from_secs(60);
    let service = Service::start(config).await;
    let (refusing, silent) = (&fleet.hosts()[0], &fleet.hosts()[1]);
    refusing.set_responsiveness(Responsiveness::Refuse);
    silent.set_responsiveness(Responsiveness::Unresponsive);
    let mut client = service.client.clone();

    let events = run_ok(
        &mut client,
        request(
            refusing.name(),
            "agent.info",
            json!({}),
            pb::Category::Inventory,
        ),
    )
    .await;
    let error = failure(&events);
    assert_eq!(
        error.code,
        common::ErrorCode::Unavailable as i32,
        "{error:?}"
    );
    assert_eq!(error.agent_code, "TRANSPORT");
    assert!(error.message.contains(refusing.name()), "{error:?}");
    assert!(duration(result(&events).run_duration.as_ref()) < Duration::from_secs(60));

    let request = with_timeout(
        request(
            silent.name(),
            "agent.info",
            json!({}),
            pb::Category::Inventory,
        ),
        Duration::from_secs(2),
    );
    let events = run_ok(&mut client, request).await;
    let error = failure(&events);
    assert_eq!(
        error.code,
        common::ErrorCode::DeadlineExceeded as i32,
        "{error:?}"
    );
    assert_eq!(error.agent_code, "TIMEOUT");
    service.stop().await;
}

#[tokio::test]
async fn shutdown_stops_the_commands_still_running_on_hosts() {
    let fleet = fleet(1).await;
    let service = Service::start(config_for(&fleet)).await;
    let host = &fleet.hosts()[0];
    host.set_latency(LONG);
    let mut client = service.client.clone();
    let mut stream = match client
        .run(correlated(
            request(host.name(), "noop", json!({}), pb::Category::Control),
            "job-at-shutdown",
        ))
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("{status:?}"),
    };
    until_started(&mut stream).await;
    running_on(host, "job-at-shutdown").await;
    // The drain deadline (2 s for tests) passes with the task still running; serve returns
    // only once it has been stopped on the host.
    service.stop().await;
    let record = finished_record(host, "job-at-shutdown").await;
    assert_eq!(record.outcome, Outcome::Terminated, "{record:?}");
    assert_eq!(host.running_operations(), 0);
    drop(stream);
}
