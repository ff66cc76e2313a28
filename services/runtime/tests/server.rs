//! The server builder over a real socket: health transitions, reflection v1 and v1alpha,
//! diagnostics, caller and trace propagation, and the graceful drain.

mod support;

use std::time::Duration;

use aetherv_proto::common::v1::GetStatusRequest;
use aetherv_proto::common::v1::diagnostics_client::DiagnosticsClient;
use aetherv_proto::notifications::v1 as pb;
use aetherv_proto::notifications::v1::notifications_client::NotificationsClient;
use aetherv_runtime::{ApiError, CallContext, Caller, DrainOutcome, ErrorCode, TraceContext};
use support::TestServer;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const NOTIFICATIONS: &str = "aetherv.notifications.v1.Notifications";
const LONG: Duration = Duration::from_secs(30);

async fn check(server: &TestServer, service: &str) -> ServingStatus {
    let mut health = HealthClient::new(server.channel());
    match health
        .check(HealthCheckRequest {
            service: service.to_string(),
        })
        .await
    {
        Ok(response) => response.into_inner().status(),
        Err(status) => panic!("health check of {service:?}: {status}"),
    }
}

async fn reasons(server: &TestServer) -> (bool, Vec<String>) {
    let mut diagnostics = DiagnosticsClient::new(server.channel());
    match diagnostics.get_status(GetStatusRequest {}).await {
        Ok(response) => {
            let status = response.into_inner();
            assert_eq!(status.service, "aetherv-test");
            (status.serving, status.reasons)
        }
        Err(status) => panic!("diagnostics: {status}"),
    }
}

#[tokio::test]
async fn health_goes_not_serving_then_serving_then_not_serving_on_shutdown() {
    let mut server = TestServer::start(LONG, Some(1)).await;
    assert_eq!(check(&server, "").await, ServingStatus::NotServing);
    assert_eq!(
        check(&server, NOTIFICATIONS).await,
        ServingStatus::NotServing
    );
    assert_eq!(
        reasons(&server).await,
        (false, vec!["starting".to_string()])
    );

    server.health.set_serving().await;
    assert_eq!(check(&server, "").await, ServingStatus::Serving);
    assert_eq!(check(&server, NOTIFICATIONS).await, ServingStatus::Serving);
    assert_eq!(reasons(&server).await, (true, Vec::new()));

    server
        .health
        .set_not_serving(vec![
            "remote-tasks at http://127.0.0.1:1 does not answer".to_string(),
        ])
        .await;
    assert_eq!(
        check(&server, NOTIFICATIONS).await,
        ServingStatus::NotServing
    );
    assert_eq!(
        reasons(&server).await.1,
        ["remote-tasks at http://127.0.0.1:1 does not answer"]
    );
    server.health.set_serving().await;

    // A watcher connected before the shutdown sees the server go NOT_SERVING.
    let mut health = HealthClient::new(server.channel());
    let mut watch = match health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("watch: {status}"),
    };
    let first = watch.message().await.ok().flatten().map(|r| r.status());
    assert_eq!(first, Some(ServingStatus::Serving));
    let mut drain = server.health.drain_signal();
    assert!(!drain.is_draining());
    server.begin_shutdown();
    let next = watch.message().await.ok().flatten().map(|r| r.status());
    assert_eq!(next, Some(ServingStatus::NotServing));
    drain.wait().await;
    assert!(drain.is_draining());
    assert_eq!(server.health.readiness().reasons, ["shutting down"]);
    // The health watch is an in-flight stream too: closing it lets the drain complete.
    drop(watch);
    drop(health);
    assert_eq!(server.finished().await, DrainOutcome::Complete);
}

async fn listed_by_v1(server: &TestServer) -> Vec<String> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut client = ServerReflectionClient::new(server.channel());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = match client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("reflection v1: {status}"),
    };
    match responses.message().await {
        Ok(Some(response)) => match response.message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                list.service.into_iter().map(|s| s.name).collect()
            }
            other => panic!("unexpected v1 response {other:?}"),
        },
        other => panic!("no v1 response: {other:?}"),
    }
}

async fn listed_by_v1alpha(server: &TestServer, symbol: &str) -> (Vec<String>, usize) {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    let mut client = ServerReflectionClient::new(server.channel());
    let requests = [
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        },
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(symbol.to_string())),
        },
    ];
    let mut responses = match client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("reflection v1alpha: {status}"),
    };
    let names = match responses.message().await {
        Ok(Some(response)) => match response.message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                list.service.into_iter().map(|s| s.name).collect()
            }
            other => panic!("unexpected v1alpha response {other:?}"),
        },
        other => panic!("no v1alpha response: {other:?}"),
    };
    let files = match responses.message().await {
        Ok(Some(response)) => match response.message_response {
            Some(MessageResponse::FileDescriptorResponse(files)) => {
                files.file_descriptor_proto.len()
            }
            other => panic!("unexpected v1alpha response {other:?}"),
        },
        other => panic!("no v1alpha response: {other:?}"),
    };
    (names, files)
}

#[tokio::test]
async fn reflection_v1_and_v1alpha_list_the_registered_services() {
    let server = TestServer::start(LONG, Some(1)).await;
    let mut expected = vec![
        "aetherv.common.v1.Diagnostics",
        NOTIFICATIONS,
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ];
    expected.sort();
    let mut v1 = listed_by_v1(&server).await;
    v1.sort();
    assert_eq!(v1, expected);
    let (mut v1alpha, files) = listed_by_v1alpha(&server, NOTIFICATIONS).await;
    v1alpha.sort();
    assert_eq!(v1alpha, expected);
    // notifications.proto and what it imports (common, timestamp) are served.
    assert!(files >= 1, "no descriptor for {NOTIFICATIONS}");
}

#[tokio::test]
async fn caller_and_trace_context_reach_the_handler() {
    let server = TestServer::start(LONG, Some(1)).await;
    let trace = match TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    {
        Some(trace) => trace,
        None => panic!("valid traceparent refused"),
    };
    let caller = match Caller::user("alice") {
        Ok(caller) => caller,
        Err(error) => panic!("caller: {error}"),
    };
    let context = CallContext {
        caller: Some(caller),
        trace,
    };
    let mut client = NotificationsClient::with_interceptor(server.channel(), context.interceptor());
    let request = pb::PublishRequest {
        title: "job finished".to_string(),
        level: 2,
        category: 4,
        ..Default::default()
    };
    let notification = match client.publish(request).await {
        Ok(response) => response.into_inner().notification,
        Err(status) => panic!("publish: {status}"),
    };
    let metadata = notification.map(|n| n.metadata).unwrap_or_default();
    assert_eq!(
        metadata.get("caller").map(String::as_str),
        Some("user:alice")
    );
    assert_eq!(
        metadata.get("trace_id").map(String::as_str),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );

    // Without metadata: anonymous, and a fresh trace.
    let mut anonymous = NotificationsClient::new(server.channel());
    let request = pb::PublishRequest {
        title: "x".to_string(),
        ..Default::default()
    };
    let metadata = match anonymous.publish(request).await {
        Ok(response) => response
            .into_inner()
            .notification
            .map(|n| n.metadata)
            .unwrap_or_default(),
        Err(status) => panic!("publish: {status}"),
    };
    assert_eq!(metadata.get("caller").map(String::as_str), Some(""));
    assert_eq!(metadata.get("trace_id").map(String::len), Some(32));
}

#[tokio::test]
async fn an_invalid_caller_is_refused_naming_the_metadata_key() {
    let server = TestServer::start(LONG, Some(1)).await;
    let mut client = NotificationsClient::new(server.channel());
    let mut request = tonic::Request::new(pb::PublishRequest {
        title: "x".to_string(),
        ..Default::default()
    });
    request.metadata_mut().insert(
        "x-aetherv-caller",
        tonic::metadata::MetadataValue::from_static("root:alice"),
    );
    let status = match client.publish(request).await {
        Ok(response) => panic!("accepted: {response:?}"),
        Err(status) => status,
    };
    assert_eq!(status.code(), Code::InvalidArgument);
    let error = ApiError::from_status(&status);
    assert_eq!(error.code, ErrorCode::InvalidArgument);
    assert_eq!(error.violations.len(), 1);
    assert_eq!(error.violations[0].field, "x-aetherv-caller");
    assert!(
        status.message().starts_with("metadata x-aetherv-caller: "),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn a_handler_error_arrives_with_its_detail() {
    let server = TestServer::start(LONG, Some(1)).await;
    let mut client = NotificationsClient::new(server.channel());
    let status = match client.publish(pb::PublishRequest::default()).await {
        Ok(response) => panic!("accepted: {response:?}"),
        Err(status) => status,
    };
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        ApiError::from_status(&status),
        ApiError::invalid_field("title", "must not be empty")
    );
}

#[tokio::test]
async fn the_drain_finishes_an_in_flight_stream_before_the_deadline() {
    let mut server = TestServer::start(LONG, Some(3)).await;
    server.health.set_serving().await;
    let mut client = NotificationsClient::new(server.channel());
    let mut stream = match client
        .subscribe(pb::SubscribeRequest { from_event_id: 0 })
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("subscribe: {status}"),
    };
    let _ = server.gate.send(()).await;
    let first = stream
        .message()
        .await
        .ok()
        .flatten()
        .map(|event| event.event_id);
    assert_eq!(first, Some(1));

    server.begin_shutdown();
    server.health.drain_signal().wait().await;
    assert!(check_fails_or_not_serving(&server).await);

    // The stream, started before the shutdown, is allowed to finish.
    let _ = server.gate.send(()).await;
    let _ = server.gate.send(()).await;
    let mut rest = Vec::new();
    loop {
        match stream.message().await {
            Ok(Some(event)) => rest.push(event.event_id),
            Ok(None) => break,
            Err(status) => panic!("stream cut during drain: {status}"),
        }
    }
    assert_eq!(rest, [2, 3]);
    assert_eq!(server.finished().await, DrainOutcome::Complete);
}

/// After shutdown began, a new connection is refused or a check says NOT_SERVING.
async fn check_fails_or_not_serving(server: &TestServer) -> bool {
    let mut health = HealthClient::new(server.channel());
    match health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
    {
        Ok(response) => response.into_inner().status() == ServingStatus::NotServing,
        Err(_) => true,
    }
}

#[tokio::test]
async fn the_drain_deadline_aborts_a_stream_that_never_ends() {
    let mut server = TestServer::start(Duration::from_millis(200), None).await;
    let mut client = NotificationsClient::new(server.channel());
    let mut stream = match client
        .subscribe(pb::SubscribeRequest { from_event_id: 0 })
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("subscribe: {status}"),
    };
    let _ = server.gate.send(()).await;
    assert_eq!(
        stream
            .message()
            .await
            .ok()
            .flatten()
            .map(|event| event.event_id),
        Some(1)
    );
    server.begin_shutdown();
    assert_eq!(server.finished().await, DrainOutcome::DeadlinePassed);
    // The client sees its stream end (aborted), not hang.
    let end = tokio::time::timeout(LONG, stream.message()).await;
    assert!(matches!(end, Ok(Err(_)) | Ok(Ok(None))), "{end:?}");
}
