//! `config.example.toml` is loaded by the real loader and shows the defaults; invalid
//! values are refused naming the key; health is NOT_SERVING (with the reasons) until
//! remote-tasks and inventory answer, and SERVING once they do.

use std::path::PathBuf;
use std::time::Duration;

use crate::support::suite;
use aetherv_jobs::Config;
use aetherv_proto::common::v1::GetStatusRequest;
use aetherv_proto::common::v1::diagnostics_client::DiagnosticsClient;
use aetherv_runtime::config::{Issues, Loader, ServiceConfig};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

#[test]
fn the_example_loads_and_shows_the_defaults() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let config: Config = match Loader::new().file(&path).load() {
        Ok(config) => config,
        Err(error) => panic!("{}", error.reasons().join("\n")),
    };
    assert_eq!(config, Config::default());
}

#[test]
fn invalid_values_are_refused_naming_the_key() {
    let mut config = Config {
        max_active_jobs: 0,
        ..Config::default()
    };
    config.history.max_age = Duration::from_secs(1);
    config.inventory.endpoint = "127.0.0.1:50053".into();
    let mut issues = Issues::new(Config::SECTION);
    config.validate(&mut issues);
    let keys: Vec<&str> = issues.list().iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "jobs.max_active_jobs",
            "jobs.history.max_age",
            "jobs.inventory.endpoint"
        ]
    );
    let from_env: Result<Config, _> = Loader::new()
        .env([("AETHERV_JOBS__IO_TIMEOUT", "forever")])
        .load();
    let Err(error) = from_env else {
        panic!("a bad duration was accepted")
    };
    let reasons = error.reasons().join("\n");
    assert!(
        reasons.contains("jobs.io_timeout") && reasons.contains("AETHERV_JOBS__IO_TIMEOUT"),
        "{reasons}"
    );
}

async fn serving(address: std::net::SocketAddr) -> (i32, Vec<String>) {
    let channel = suite::channel(address);
    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await;
    let status = match health {
        Ok(response) => response.into_inner().status,
        Err(status) => panic!("health: {status:?}"),
    };
    let reasons = match DiagnosticsClient::new(channel)
        .get_status(GetStatusRequest {})
        .await
    {
        Ok(response) => response.into_inner().reasons,
        Err(status) => panic!("diagnostics: {status:?}"),
    };
    (status, reasons)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_serving_until_remote_tasks_and_inventory_answer() {
    let fleet = match aetherv_hvsim::SimFleet::builder()
        .hosts(1)
        .vms_per_host(1)
        .clusters(0)
        .user(suite::USERNAME, suite::PASSWORD)
        .start()
        .await
    {
        Ok(fleet) => fleet,
        Err(error) => panic!("{error}"),
    };
    // Reserve the dependencies' ports; nothing answers on them yet.
    let remote_listener = suite::bind().await;
    let inventory_listener = suite::bind().await;
    let (remote_at, inventory_at) = match (
        remote_listener.local_addr(),
        inventory_listener.local_addr(),
    ) {
        (Ok(r), Ok(i)) => (r, i),
        other => panic!("{other:?}"),
    };
    drop(remote_listener);
    drop(inventory_listener);
    let mut config = Config::for_testing(
        &format!("http://{remote_at}"),
        &format!("http://{inventory_at}"),
    );
    config.remote_tasks.request_timeout = Duration::from_secs(1);
    config.inventory.request_timeout = Duration::from_secs(1);
    let jobs = suite::jobs(config, suite::bind().await).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let reasons = loop {
        let (status, reasons) = serving(jobs.address).await;
        assert_eq!(status, ServingStatus::NotServing as i32);
        if reasons.iter().any(|r| r.contains("remote-tasks"))
            && reasons.iter().any(|r| r.contains("inventory"))
        {
            break reasons;
        }
        assert!(tokio::time::Instant::now() < deadline, "{reasons:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        reasons.iter().any(|r| r.contains(&remote_at.to_string())),
        "{reasons:?}"
    );

    // Bring both up on the reserved ports.
    let remote = match tokio::net::TcpListener::bind(remote_at).await {
        Ok(listener) => listener,
        Err(error) => panic!("rebind {remote_at}: {error}"),
    };
    let hosts = fleet
        .hosts()
        .iter()
        .filter_map(|h| {
            Some(aetherv_remote_tasks::HostEntry::at(
                h.name(),
                &h.http_endpoint()?,
            ))
        })
        .collect();
    let remote_config =
        aetherv_remote_tasks::Config::for_testing(hosts, suite::USERNAME, suite::PASSWORD);
    let remote_task = tokio::spawn(aetherv_remote_tasks::serve(
        remote_config,
        remote,
        std::future::pending(),
    ));
    let inventory = match tokio::net::TcpListener::bind(inventory_at).await {
        Ok(listener) => listener,
        Err(error) => panic!("rebind {inventory_at}: {error}"),
    };
    let inventory_config = aetherv_inventory::Config::for_testing(&format!("http://{remote_at}"));
    let inventory_task = tokio::spawn(aetherv_inventory::serve(
        inventory_config,
        inventory,
        std::future::pending(),
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, reasons) = serving(jobs.address).await;
        if status == ServingStatus::Serving as i32 {
            assert!(reasons.is_empty(), "{reasons:?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still not serving: {reasons:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    remote_task.abort();
    inventory_task.abort();
    jobs.stop().await;
}
