//! Run against simulated hosts over real WinRM: results, streamed events, refusals at the
//! edge, ListHosts and Metrics.

mod support;

use aetherv_hyperv::{Operation, validate_result};
use aetherv_proto::common::v1 as common;
use aetherv_proto::remotetasks::v1 as pb;
use aetherv_runtime::{ApiError, ErrorCode};
use pb::run_event::Event;
use serde_json::{Value, json};
use support::*;
use tonic::Code;

#[tokio::test]
async fn inventory_collect_streams_a_schema_valid_result() {
    let fleet = fleet(2).await;
    let service = Service::start(config_for(&fleet)).await;
    let host = &fleet.hosts()[1];
    let mut client = service.client.clone();
    let events = run_ok(
        &mut client,
        request(
            host.name(),
            "inventory.collect",
            json!({}),
            pb::Category::Inventory,
        ),
    )
    .await;

    assert!(
        matches!(events[0].event, Some(Event::Accepted(_))),
        "{events:#?}"
    );
    assert!(
        matches!(events[1].event, Some(Event::Started(_))),
        "{events:#?}"
    );
    let task_id = &events[0].task_id;
    assert!(task_id.starts_with("task-"), "{task_id}");
    for (index, event) in events.iter().enumerate() {
        assert_eq!(&event.task_id, task_id);
        assert_eq!(
            event.sequence,
            index as u64 + 1,
            "sequence numbers are 1, 2, 3, ..."
        );
        assert!(event.time.is_some());
    }
    let result = result(&events);
    assert!(result.ok, "{result:?}");
    assert_eq!(result.exit_code, Some(0));
    assert!(result.error.is_none());
    let data: Value = serde_json::from_str(&result.data_json).unwrap_or_else(|e| panic!("{e}"));
    if let Err(error) = validate_result(Operation::InventoryCollect, &data) {
        panic!("the result does not match its schema: {error}");
    }
    let vms = data["vms"].as_array().map(Vec::len);
    assert_eq!(vms, Some(host.vms().len()));
    // The agent's log lines came through, and the task id was the correlation id.
    let logs: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.event {
            Some(Event::Log(line)) => Some(line.message.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        logs.contains(&"Executing inventory.collect operation"),
        "{logs:?}"
    );
    assert!(
        logs.contains(&format!("Correlation ID: {task_id}").as_str()),
        "{logs:?}"
    );
    service.stop().await;
}

#[tokio::test]
async fn log_and_progress_lines_arrive_in_order_before_the_result() {
    let fleet = fleet(1).await;
    let service = Service::start(config_for(&fleet)).await;
    let host = &fleet.hosts()[0];
    let vm = host.vms()[0].id;
    let image = match host.resources().images.first() {
        Some(image) => image.name.clone(),
        None => panic!("the simulated host has no golden image"),
    };
    let mut client = service.client.clone();
    let events = run_ok(
        &mut client,
        correlated(
            request(
                host.name(),
                "disk.create",
                json!({"vm_id": vm, "image": image, "type": "Dynamic", "controller_type": "SCSI"}),
                pb::Category::Io,
            ),
            "job-copy-1",
        ),
    )
    .await;
    let result = result(&events);
    assert!(result.ok, "{result:?}");
    let percents: Vec<u32> = events
        .iter()
        .filter_map(|e| match &e.event {
            Some(Event::Progress(progress)) => Some(progress.percent),
            _ => None,
        })
        .collect();
    assert!(
        percents.len() >= 10,
        "an image copy reports progress: {percents:?}"
    );
    assert!(
        percents.windows(2).all(|w| w[0] <= w[1]),
        "progress goes forward: {percents:?}"
    );
    assert_eq!(percents.last(), Some(&100));
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match &e.event {
            Some(Event::Accepted(_)) => "accepted",
            Some(Event::Started(_)) => "started",
            Some(Event::Log(_)) => "log",
            Some(Event::Progress(_)) => "progress",
            Some(Event::HostEvent(_)) => "host_event",
            Some(Event::Result(_)) => "result",
            None => "none",
        })
        .collect();
    // The agent writes: log lines, the copy's progress, then the attach log line.
    let first_progress = kinds.iter().position(|k| *k == "progress");
    let last_progress = kinds.iter().rposition(|k| *k == "progress");
    assert!(
        kinds[2..first_progress.unwrap_or(2)]
            .iter()
            .all(|k| *k == "log"),
        "{kinds:?}"
    );
    assert!(
        kinds[last_progress.unwrap_or(0) + 1..kinds.len() - 1].contains(&"log"),
        "{kinds:?}"
    );
    for (index, event) in events.iter().enumerate() {
        assert_eq!(event.sequence, index as u64 + 1);
    }
    // And the disk is really there on the host.
    let attached = host.vm(vm).map(|vm| vm.disks.len());
    assert!(attached.is_some_and(|n| n >= 1));
    let record = finished_record(host, "job-copy-1").await;
    assert_eq!(record.operation.as_deref(), Some("disk.create"));
    service.stop().await;
}

#[tokio::test]
async fn bad_requests_are_refused_at_the_edge_naming_the_field() {
    let fleet = fleet(1).await;
    let service = Service::start(config_for(&fleet)).await;
    let host = fleet.hosts()[0].name().to_string();
    let mut client = service.client.clone();

    let status = refused(
        &mut client,
        request(
            &host,
            "vm.power",
            json!({"vm_id": "not-a-guid", "action": "start", "extra": 1}),
            pb::Category::Control,
        ),
    )
    .await;
    assert_code(&status, Code::InvalidArgument);
    let error = ApiError::from_status(&status);
    assert_eq!(error.code, ErrorCode::InvalidArgument);
    let pointers: Vec<(&str, i32)> = error
        .violations
        .iter()
        .map(|v| (v.field.as_str(), v.pointer_kind))
        .collect();
    let json = common::PointerKind::JsonPointer as i32;
    assert!(pointers.contains(&("/vm_id", json)), "{pointers:?}");
    assert!(pointers.contains(&("/extra", json)), "{pointers:?}");
    assert!(
        error
            .violations
            .iter()
            .any(|v| v.field == "/extra" && v.rule == "additionalProperties")
    );

    let status = refused(
        &mut client,
        request(
            &host,
            "vm.power",
            json!({"action": "start"}),
            pb::Category::Control,
        ),
    )
    .await;
    let error = ApiError::from_status(&status);
    assert!(
        error
            .violations
            .iter()
            .any(|v| v.field == "/vm_id" && v.rule == "required"),
        "{error:?}"
    );

    let status = refused(
        &mut client,
        request(
            "hv-nowhere.example",
            "agent.info",
            json!({}),
            pb::Category::Inventory,
        ),
    )
    .await;
    assert_code(&status, Code::NotFound);
    assert!(
        status.message().contains("hv-nowhere.example"),
        "{status:?}"
    );

    let status = refused(
        &mut client,
        request(&host, "agent.info", json!({}), pb::Category::Unspecified),
    )
    .await;
    assert_code(&status, Code::InvalidArgument);
    assert_eq!(
        ApiError::from_status(&status).violations[0].field,
        "category"
    );

    let too_long = with_timeout(
        request(&host, "agent.info", json!({}), pb::Category::Inventory),
        std::time::Duration::from_secs(6 * 60),
    );
    let status = refused(&mut client, too_long).await;
    assert_code(&status, Code::InvalidArgument);
    assert_eq!(
        ApiError::from_status(&status).violations[0].field,
        "timeout"
    );

    // Nothing refused reached the host.
    assert!(
        fleet.hosts()[0].operations().is_empty(),
        "{:?}",
        fleet.hosts()[0].operations()
    );
    service.stop().await;
}

#[tokio::test]
async fn list_hosts_and_metrics_describe_the_fleet_and_the_work() {
    let fleet = fleet(3).await;
    let service = Service::start(config_for(&fleet)).await;
    let mut client = service.client.clone();
    let hosts = match client.list_hosts(pb::ListHostsRequest {}).await {
        Ok(response) => response.into_inner().hosts,
        Err(status) => panic!("{status:?}"),
    };
    let mut names: Vec<String> = fleet.hosts().iter().map(|h| h.name().to_string()).collect();
    names.sort();
    assert_eq!(
        hosts.iter().map(|h| h.host.clone()).collect::<Vec<_>>(),
        names
    );
    for host in &hosts {
        assert_eq!(host.auth, pb::AuthKind::Ntlm as i32);
        assert!(host.endpoint.starts_with("http://127.0."), "{host:?}");
        assert!(!host.insecure);
    }

    let first = fleet.hosts()[0].name().to_string();
    run_ok(
        &mut client,
        request(&first, "agent.info", json!({}), pb::Category::Inventory),
    )
    .await;
    fleet.hosts()[0]
        .fail_next(aetherv_hvsim::FailNext {
            count: 1,
            operation: None,
            code: aetherv_hyperv::AgentErrorCode::VmNotFound,
            message: "no such vm".to_string(),
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let vm = fleet.hosts()[0].vms()[0].id;
    let events = run_ok(
        &mut client,
        request(
            &first,
            "vm.power",
            json!({"vm_id": vm, "action": "start"}),
            pb::Category::Control,
        ),
    )
    .await;
    let error = failure(&events);
    assert_eq!(error.code, common::ErrorCode::NotFound as i32);
    assert_eq!(error.agent_code, "VM_NOT_FOUND");
    assert!(
        error.message.contains(&first) && error.message.contains("vm.power"),
        "{error:?}"
    );
    assert!(!error.details_json.is_empty());
    assert_eq!(result(&events).exit_code, Some(1));

    let metrics = match client.metrics(pb::MetricsRequest {}).await {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("{status:?}"),
    };
    assert_eq!(metrics.in_flight, 0);
    let categories: Vec<i32> = metrics.categories.iter().map(|c| c.category).collect();
    assert_eq!(categories, [1, 2, 3, 4, 5]);
    let inventory = &metrics.categories[0];
    assert_eq!((inventory.completed, inventory.failed), (1, 0));
    assert_eq!(inventory.latency.as_ref().map(|l| l.samples), Some(1));
    let control = &metrics.categories[1];
    assert_eq!((control.completed, control.failed), (1, 1));
    assert_eq!(metrics.hosts.len(), 3);
    assert_eq!(
        metrics
            .hosts
            .iter()
            .map(|h| h.host.clone())
            .collect::<Vec<_>>(),
        names
    );
    let operations: Vec<(i32, &str)> = metrics
        .operations
        .iter()
        .map(|o| (o.category, o.operation.as_str()))
        .collect();
    assert_eq!(operations, [(1, "agent.info"), (2, "vm.power")]);
    assert_eq!(metrics.failures.len(), 1);
    assert_eq!(metrics.failures[0].agent_code, "VM_NOT_FOUND");
    assert_eq!(metrics.failures[0].count, 1);
    let limits = metrics.limits.unwrap_or_default();
    assert_eq!(
        (limits.global_in_flight, limits.per_host_in_flight),
        (64, 4)
    );
    assert_eq!(
        limits.categories[2].per_host_in_flight, 1,
        "io: one per host"
    );
    assert_eq!(limits.categories.len(), 5);
    // The watch category is outside the global limit: its own limits are in force.
    assert_eq!(
        (
            limits.categories[4].in_flight,
            limits.categories[4].per_host_in_flight
        ),
        (10_000, 1),
        "watch: one per host, not capped by the global limit"
    );
    service.stop().await;
}
