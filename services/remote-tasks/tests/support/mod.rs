//! A simulated fleet (`aetherv-hvsim`, real WinRM on loopback) and the remote-tasks service
//! started in-process on port 0 against it, with a real gRPC client.

#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use aetherv_hvsim::{OperationRecord, Outcome, SimFleet, SimHost};
use aetherv_proto::remotetasks::v1 as pb;
use aetherv_proto::remotetasks::v1::remote_tasks_client::RemoteTasksClient;
use aetherv_remote_tasks::{Config, HostEntry, Startup};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// A started fleet: `hosts` hosts, 3 VMs each, simulated time 100× faster.
pub async fn fleet(hosts: u32) -> SimFleet {
    match SimFleet::builder()
        .hosts(hosts)
        .vms_per_host(3)
        .clusters(0)
        .seed(11)
        .time_scale(0.01)
        .start()
        .await
    {
        Ok(fleet) => fleet,
        Err(error) => panic!("the simulated fleet did not start: {error}"),
    }
}

/// The service configuration for every host of `fleet` over NTLM/HTTP.
pub fn config_for(fleet: &SimFleet) -> Config {
    let hosts = fleet
        .hosts()
        .iter()
        .map(|host| match host.http_endpoint() {
            Some(endpoint) => HostEntry::at(host.name(), &endpoint),
            None => panic!("host {} has no http endpoint", host.name()),
        })
        .collect();
    Config::for_testing(hosts, fleet.username(), fleet.password().expose())
}

/// The service, running.
pub struct Service {
    pub address: SocketAddr,
    pub client: RemoteTasksClient<Channel>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), aetherv_remote_tasks::Error>>,
}

impl Service {
    /// Starts the service with `config` on a loopback port.
    pub async fn start(config: impl Into<Startup>) -> Service {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(error) => panic!("bind: {error}"),
        };
        let address = match listener.local_addr() {
            Ok(address) => address,
            Err(error) => panic!("local address: {error}"),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let startup = config.into();
        let task = tokio::spawn(aetherv_remote_tasks::serve(startup, listener, async {
            let _ = stopped.await;
        }));
        let client = client(address).await;
        Service {
            address,
            client,
            stop: Some(stop),
            task,
        }
    }

    /// Another client on its own connection.
    pub async fn client(&self) -> RemoteTasksClient<Channel> {
        client(self.address).await
    }

    /// Shuts the service down and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => panic!("serve failed: {error}"),
            Err(error) => panic!("serve panicked: {error}"),
        }
    }
}

pub async fn channel(address: SocketAddr) -> Channel {
    let endpoint = match tonic::transport::Endpoint::from_shared(format!("http://{address}")) {
        Ok(endpoint) => endpoint,
        Err(error) => panic!("endpoint: {error}"),
    };
    match endpoint.connect().await {
        Ok(channel) => channel,
        Err(error) => panic!("connect to {address}: {error}"),
    }
}

async fn client(address: SocketAddr) -> RemoteTasksClient<Channel> {
    RemoteTasksClient::new(channel(address).await).max_decoding_message_size(64 * 1024 * 1024)
}

/// A Run request.
pub fn request(
    host: &str,
    operation: &str,
    params: Value,
    category: pb::Category,
) -> pb::RunRequest {
    pb::RunRequest {
        host: host.to_string(),
        operation: operation.to_string(),
        params_json: params.to_string(),
        category: category as i32,
        timeout: None,
        correlation_id: String::new(),
    }
}

/// The same request with a run timeout.
pub fn with_timeout(mut request: pb::RunRequest, timeout: Duration) -> pb::RunRequest {
    request.timeout = prost_types::Duration::try_from(timeout).ok();
    request
}

/// The same request with a correlation id.
pub fn correlated(mut request: pb::RunRequest, id: &str) -> pb::RunRequest {
    request.correlation_id = id.to_string();
    request
}

/// Runs to the end; every event.
pub async fn run(
    client: &mut RemoteTasksClient<Channel>,
    request: pb::RunRequest,
) -> Result<Vec<pb::RunEvent>, Status> {
    let mut stream = client.run(request).await?.into_inner();
    let mut events = Vec::new();
    while let Some(event) = stream.message().await? {
        events.push(event);
    }
    Ok(events)
}

/// Runs to the end; panics when refused.
pub async fn run_ok(
    client: &mut RemoteTasksClient<Channel>,
    request: pb::RunRequest,
) -> Vec<pb::RunEvent> {
    match run(client, request).await {
        Ok(events) => events,
        Err(status) => panic!("run refused: {status:?}"),
    }
}

/// The stream's result (its last event).
pub fn result(events: &[pb::RunEvent]) -> &pb::Result {
    match events.last().and_then(|event| event.event.as_ref()) {
        Some(pb::run_event::Event::Result(result)) => result,
        other => panic!("the stream did not end with a result: {other:?} in {events:#?}"),
    }
}

/// The failure of a result that must have failed.
pub fn failure(events: &[pb::RunEvent]) -> &pb::TaskError {
    let result = result(events);
    assert!(!result.ok, "expected a failure: {result:?}");
    match &result.error {
        Some(error) => error,
        None => panic!("a failed result without an error: {result:?}"),
    }
}

/// The status of a refused Run.
pub async fn refused(client: &mut RemoteTasksClient<Channel>, request: pb::RunRequest) -> Status {
    match run(client, request).await {
        Ok(events) => panic!("expected a refusal, got {events:#?}"),
        Err(status) => status,
    }
}

/// Reads events until `started` (or panics at the end of the stream).
pub async fn until_started(stream: &mut tonic::Streaming<pb::RunEvent>) -> Vec<pb::RunEvent> {
    let mut seen = Vec::new();
    loop {
        match stream.message().await {
            Ok(Some(event)) => {
                let started = matches!(event.event, Some(pb::run_event::Event::Started(_)));
                seen.push(event);
                if started {
                    return seen;
                }
            }
            Ok(None) => panic!("the stream ended before the task started: {seen:#?}"),
            Err(status) => panic!("the stream failed before the task started: {status:?}"),
        }
    }
}

/// Reads the first event (accepted) and returns the task id.
pub async fn accepted(stream: &mut tonic::Streaming<pb::RunEvent>) -> String {
    match stream.message().await {
        Ok(Some(event)) if matches!(event.event, Some(pb::run_event::Event::Accepted(_))) => {
            event.task_id
        }
        other => panic!("expected accepted first, got {other:?}"),
    }
}

/// Reads the rest of a stream.
pub async fn rest(stream: &mut tonic::Streaming<pb::RunEvent>) -> Vec<pb::RunEvent> {
    let mut events = Vec::new();
    loop {
        match stream.message().await {
            Ok(Some(event)) => events.push(event),
            Ok(None) => return events,
            Err(status) => panic!("the stream failed: {status:?}"),
        }
    }
}

/// Waits (polling, at most 20 s) until `check` gives a value.
pub async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    for _ in 0..1000 {
        if let Some(value) = check() {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting until {what}");
}

/// The host's record of the command with that correlation id, once it has ended.
pub async fn finished_record(host: &SimHost, correlation_id: &str) -> OperationRecord {
    eventually(
        &format!("the sim recorded the end of {correlation_id}"),
        || {
            host.operations().into_iter().find(|record| {
                record.correlation_id.as_deref() == Some(correlation_id)
                    && record.outcome != Outcome::Running
            })
        },
    )
    .await
}

/// Waits until the host runs the command with that correlation id.
pub async fn running_on(host: &SimHost, correlation_id: &str) {
    eventually(&format!("{correlation_id} runs on {}", host.name()), || {
        host.operations()
            .iter()
            .any(|record| {
                record.correlation_id.as_deref() == Some(correlation_id)
                    && record.outcome == Outcome::Running
            })
            .then_some(())
    })
    .await;
}

/// The status's gRPC code, with the message on failure.
pub fn assert_code(status: &Status, code: Code) {
    assert_eq!(status.code(), code, "{status:?}");
}

/// grpcurl from the test venv.
pub fn grpcurl() -> PathBuf {
    let venv = std::env::var_os("AETHERV_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    let grpcurl = venv.join("bin/grpcurl");
    assert!(
        grpcurl.is_file(),
        "grpcurl not found at {} — run ./scripts/test (it installs tests/requirements.txt into .venv)",
        grpcurl.display()
    );
    grpcurl
}
