//! A tiny but real `aetherv.notifications.v1.Notifications` service for the server tests,
//! and a server started on port 0 around it.

#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use aetherv_proto::notifications::v1 as pb;
use aetherv_proto::notifications::v1::notifications_server::{Notifications, NotificationsServer};
use aetherv_runtime::{
    ApiError, CallContext, ClientConfig, DrainOutcome, ErrorCode, GrpcServer, HealthHandle,
    ServerConfig, connect_lazy,
};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

/// Publish stores; Subscribe streams one event per tick of the test's gate, `events` of
/// them, then ends (or never ends when `events` is `None`).
#[derive(Clone)]
pub struct TestNotifications {
    stored: Arc<Mutex<Vec<pb::Notification>>>,
    gate: Arc<tokio::sync::Mutex<mpsc::Receiver<()>>>,
    events: Option<u64>,
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::NotificationEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Notifications for TestNotifications {
    async fn publish(
        &self,
        request: Request<pb::PublishRequest>,
    ) -> Result<Response<pb::PublishResponse>, Status> {
        let context = CallContext::from_request(&request);
        let request = request.into_inner();
        if request.title.is_empty() {
            return Err(ApiError::invalid_field("title", "must not be empty").into());
        }
        let mut metadata = request.metadata;
        metadata.insert(
            "caller".to_string(),
            context.caller.map(|c| c.to_string()).unwrap_or_default(),
        );
        metadata.insert("trace_id".to_string(), context.trace.trace_id());
        let mut stored = self
            .stored
            .lock()
            .map_err(|_| Status::internal("store poisoned"))?;
        let notification = pb::Notification {
            id: format!("ntf-{}", stored.len() + 1),
            level: request.level,
            category: request.category,
            title: request.title,
            message: request.message,
            metadata,
            occurrences: 1,
            ..Default::default()
        };
        stored.push(notification.clone());
        Ok(Response::new(pb::PublishResponse {
            notification: Some(notification),
            updated: false,
        }))
    }

    async fn list(
        &self,
        _request: Request<pb::ListNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        let stored = self
            .stored
            .lock()
            .map_err(|_| Status::internal("store poisoned"))?;
        Ok(Response::new(pb::ListNotificationsResponse {
            notifications: stored.iter().rev().cloned().collect(),
            total_count: stored.len() as u32,
            unread_count: stored.iter().filter(|n| !n.read).count() as u32,
        }))
    }

    async fn mark_read(
        &self,
        request: Request<pb::MarkReadRequest>,
    ) -> Result<Response<pb::MarkReadResponse>, Status> {
        Err(ApiError::new(
            ErrorCode::NotFound,
            format!("notification {:?} not found", request.into_inner().id),
        )
        .into())
    }

    async fn mark_all_read(
        &self,
        _request: Request<pb::MarkAllReadRequest>,
    ) -> Result<Response<pb::MarkAllReadResponse>, Status> {
        Ok(Response::new(pb::MarkAllReadResponse::default()))
    }

    async fn delete(
        &self,
        _request: Request<pb::DeleteNotificationRequest>,
    ) -> Result<Response<pb::DeleteNotificationResponse>, Status> {
        Ok(Response::new(pb::DeleteNotificationResponse::default()))
    }

    type SubscribeStream = EventStream;

    async fn subscribe(
        &self,
        _request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let (sender, receiver) = mpsc::channel(4);
        let gate = self.gate.clone();
        let events = self.events;
        // The stream is fed by a task writing into a bounded channel (the project's rule), so
        // a gone reader ends the task.
        tokio::spawn(async move {
            let mut gate = gate.lock().await;
            let mut event_id = 0;
            while events.is_none_or(|limit| event_id < limit) {
                if gate.recv().await.is_none() {
                    break;
                }
                event_id += 1;
                let event = pb::NotificationEvent {
                    event_id,
                    ..Default::default()
                };
                if sender.send(Ok(event)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

/// A running test server.
pub struct TestServer {
    pub address: SocketAddr,
    pub health: HealthHandle,
    /// One tick lets Subscribe send one event.
    pub gate: mpsc::Sender<()>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<DrainOutcome, aetherv_runtime::server::Error>>>,
}

impl TestServer {
    /// Starts on 127.0.0.1:0 with the given drain timeout and Subscribe length.
    pub async fn start(drain_timeout: std::time::Duration, events: Option<u64>) -> TestServer {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(error) => panic!("bind: {error}"),
        };
        let address = match listener.local_addr() {
            Ok(address) => address,
            Err(error) => panic!("local addr: {error}"),
        };
        let (gate, gate_receiver) = mpsc::channel(16);
        let service = TestNotifications {
            stored: Arc::default(),
            gate: Arc::new(tokio::sync::Mutex::new(gate_receiver)),
            events,
        };
        let config = ServerConfig {
            drain_timeout,
            ..ServerConfig::on_port(0)
        };
        let server =
            GrpcServer::new("aetherv-test", &config).add_service(NotificationsServer::new(service));
        let health = server.health();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(listener, async {
            let _ = stopped.await;
        }));
        TestServer {
            address,
            health,
            gate,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A lazily connecting channel to it.
    pub fn channel(&self) -> Channel {
        match connect_lazy(&ClientConfig {
            endpoint: format!("http://{}", self.address),
            ..ClientConfig::local(0)
        }) {
            Ok(channel) => channel,
            Err(error) => panic!("channel: {error}"),
        }
    }

    /// Resolves the shutdown future.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits for `serve` to return.
    pub async fn finished(&mut self) -> DrainOutcome {
        let Some(task) = self.task.take() else {
            panic!("already awaited")
        };
        match task.await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(error)) => panic!("serve failed: {error}"),
            Err(error) => panic!("serve task: {error}"),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// The grpcurl of the test virtualenv; panics (never skips) when it is missing.
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
