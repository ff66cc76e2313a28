//! Readiness: SERVING once the configuration is valid, whatever the hosts do; NOT_SERVING
//! with the reasons (health and Diagnostics) and FAILED_PRECONDITION on every call when it
//! is not.

mod support;

use aetherv_hvsim::Responsiveness;
use aetherv_proto::common::v1 as common;
use aetherv_proto::common::v1::diagnostics_client::DiagnosticsClient;
use aetherv_proto::remotetasks::v1 as pb;
use aetherv_remote_tasks::{Config, HostEntry, Startup};
use aetherv_runtime::{ApiError, SecretString};
use serde_json::json;
use support::*;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

async fn health(service: &Service, name: &str) -> ServingStatus {
    let mut client = HealthClient::new(channel(service.address).await);
    let response = client
        .check(HealthCheckRequest {
            service: name.to_string(),
        })
        .await;
    match response {
        Ok(response) => {
            ServingStatus::try_from(response.into_inner().status).unwrap_or(ServingStatus::Unknown)
        }
        Err(status) => panic!("{status:?}"),
    }
}

async fn diagnostics(service: &Service) -> common::ServiceStatus {
    let mut client = DiagnosticsClient::new(channel(service.address).await);
    match client.get_status(common::GetStatusRequest {}).await {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("{status:?}"),
    }
}

#[tokio::test]
async fn serving_with_a_valid_configuration_even_when_every_host_is_down() {
    let fleet = fleet(2).await;
    for host in fleet.hosts() {
        host.set_responsiveness(Responsiveness::Refuse);
    }
    let service = Service::start(config_for(&fleet)).await;
    assert_eq!(health(&service, "").await, ServingStatus::Serving);
    assert_eq!(
        health(&service, "aetherv.remotetasks.v1.RemoteTasks").await,
        ServingStatus::Serving
    );
    let status = diagnostics(&service).await;
    assert!(status.serving && status.reasons.is_empty(), "{status:?}");
    assert_eq!(status.service, "aetherv-remote-tasks");
    let mut client = service.client.clone();
    let events = run_ok(
        &mut client,
        request(
            fleet.hosts()[0].name(),
            "agent.info",
            json!({}),
            pb::Category::Inventory,
        ),
    )
    .await;
    assert_eq!(failure(&events).code, common::ErrorCode::Unavailable as i32);
    assert_eq!(
        health(&service, "").await,
        ServingStatus::Serving,
        "a host being down is not our health"
    );
    service.stop().await;
}

#[tokio::test]
async fn an_invalid_configuration_serves_not_serving_and_refuses_with_the_reasons() {
    let mut config = Config::for_testing(vec![HostEntry::named("hv01.lab.example")], "svc", "");
    config.winrm.password = SecretString::default();
    config.limits.io.queue_capacity = 0;
    let service = Service::start(config).await;
    assert_eq!(health(&service, "").await, ServingStatus::NotServing);
    assert_eq!(
        health(&service, "aetherv.remotetasks.v1.RemoteTasks").await,
        ServingStatus::NotServing
    );
    let status = diagnostics(&service).await;
    assert!(!status.serving);
    assert_eq!(status.reasons.len(), 2, "{:?}", status.reasons);
    assert!(
        status.reasons[0].starts_with("remote_tasks.winrm.password: is required"),
        "{:?}",
        status.reasons
    );
    assert!(
        status.reasons[1].starts_with("remote_tasks.limits.io.queue_capacity"),
        "{:?}",
        status.reasons
    );

    let mut client = service.client.clone();
    let refusal = refused(
        &mut client,
        request(
            "hv01.lab.example",
            "agent.info",
            json!({}),
            pb::Category::Inventory,
        ),
    )
    .await;
    assert_code(&refusal, Code::FailedPrecondition);
    assert!(
        refusal.message().contains("remote_tasks.winrm.password"),
        "{refusal:?}"
    );
    let error = ApiError::from_status(&refusal);
    assert_eq!(
        error
            .metadata
            .get("reason_2")
            .map(|r| r.starts_with("remote_tasks.limits.io")),
        Some(true)
    );
    let hosts = client.list_hosts(pb::ListHostsRequest {}).await;
    assert_eq!(
        hosts.err().map(|s| s.code()),
        Some(Code::FailedPrecondition)
    );
    let metrics = client.metrics(pb::MetricsRequest {}).await;
    assert_eq!(
        metrics.err().map(|s| s.code()),
        Some(Code::FailedPrecondition)
    );
    service.stop().await;
}

#[tokio::test]
async fn a_configuration_the_loader_refused_is_reported_the_same_way() {
    let startup = Startup::Invalid {
        config: Config::for_testing(Vec::new(), "svc", "pw"),
        reasons: vec![
            "remote_tasks.limits.bogus: unknown key (from file /etc/aetherv.toml)".to_string(),
        ],
    };
    let service = Service::start(startup).await;
    let status = diagnostics(&service).await;
    assert!(!status.serving);
    assert_eq!(
        status.reasons,
        ["remote_tasks.limits.bogus: unknown key (from file /etc/aetherv.toml)"]
    );
    service.stop().await;
}
