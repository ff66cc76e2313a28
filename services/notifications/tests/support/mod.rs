//! The real notifications service started in-process on port 0, a client to it, and the
//! helpers the tests share.

#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use aetherv_notifications::{Config, serve};
use aetherv_proto::notifications::v1 as pb;
use aetherv_proto::notifications::v1::notification_event::Event as Kind;
use aetherv_proto::notifications::v1::notifications_client::NotificationsClient;
use aetherv_runtime::{ClientConfig, DrainOutcome, connect_lazy};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::Streaming;
use tonic::transport::Channel;

/// The generated client over a channel.
pub type Client = NotificationsClient<Channel>;

/// A running service.
pub struct Service {
    pub address: SocketAddr,
    pub client: NotificationsClient<Channel>,
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<Result<DrainOutcome, aetherv_notifications::Error>>,
}

impl Service {
    /// Starts the service with `config` on a loopback port 0.
    pub async fn start(config: Config) -> Service {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(error) => panic!("cannot bind: {error}"),
        };
        let address = match listener.local_addr() {
            Ok(address) => address,
            Err(error) => panic!("no local address: {error}"),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(serve(config, listener, async {
            let _ = stopped.await;
        }));
        Service {
            address,
            client: client_for(address),
            stop: Some(stop),
            handle,
        }
    }

    /// Shuts it down and waits for the drain.
    pub async fn stop(mut self) -> DrainOutcome {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.handle).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(error)) => panic!("serve failed: {error}"),
            Err(error) => panic!("serve panicked: {error}"),
        }
    }
}

/// A client of the service at `address`.
pub fn client_for(address: SocketAddr) -> NotificationsClient<Channel> {
    let config = ClientConfig {
        endpoint: format!("http://{address}"),
        ..ClientConfig::local(0)
    };
    match connect_lazy(&config) {
        Ok(channel) => NotificationsClient::new(channel),
        Err(error) => panic!("bad endpoint: {error}"),
    }
}

/// A Publish of `title` at `level` in the host category.
pub fn publish(level: pb::Level, title: &str) -> pb::PublishRequest {
    pb::PublishRequest {
        level: level as i32,
        category: pb::Category::Host as i32,
        title: title.to_string(),
        ..pb::PublishRequest::default()
    }
}

/// Publishes and returns the stored notification.
pub async fn published(
    client: &mut NotificationsClient<Channel>,
    request: pb::PublishRequest,
) -> pb::PublishResponse {
    match client.publish(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("publish failed: {status:?}"),
    }
}

/// Opens a Subscribe stream from `from`.
pub async fn subscribe(
    client: &mut NotificationsClient<Channel>,
    from: u64,
) -> Streaming<pb::NotificationEvent> {
    let request = pb::SubscribeRequest {
        from_event_id: from,
    };
    match client.subscribe(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("subscribe failed: {status:?}"),
    }
}

/// The next event of a stream, within 10 s (a bound against hangs, not a timing check).
pub async fn next(stream: &mut Streaming<pb::NotificationEvent>) -> pb::NotificationEvent {
    match tokio::time::timeout(Duration::from_secs(10), stream.message()).await {
        Ok(Ok(Some(event))) => event,
        Ok(Ok(None)) => panic!("the stream ended"),
        Ok(Err(status)) => panic!("the stream failed: {status:?}"),
        Err(_) => panic!("no event within 10 s"),
    }
}

/// The event's kind.
pub fn kind(event: &pb::NotificationEvent) -> &Kind {
    match &event.event {
        Some(kind) => kind,
        None => panic!("an event without a kind: {event:?}"),
    }
}

/// Reads events until `synced`; returns them (the synced event excluded) and its id.
pub async fn until_synced(
    stream: &mut Streaming<pb::NotificationEvent>,
) -> (Vec<pb::NotificationEvent>, u64) {
    let mut events = Vec::new();
    loop {
        let event = next(stream).await;
        if let Kind::Synced(synced) = kind(&event) {
            return (events, synced.event_id);
        }
        events.push(event);
    }
}

/// grpcurl from the test virtualenv.
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
