//! Shared by the gateway's integration tests: an HTTP client, the OpenAPI document as a
//! response validator, a gateway started in-process on port 0, and (in `stack`) the whole
//! suite — simulated fleet, remote-tasks, inventory — behind it.

#![allow(dead_code)]

pub mod http;
pub mod openapi;
pub mod stack;

pub mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use aetherv_gateway::Config;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Sends the services' logs to the test's output (shown for failing tests). The filter is
/// `AETHERV_TEST_LOG` (default `info`).
pub fn init_logs() {
    let filter = std::env::var("AETHERV_TEST_LOG").unwrap_or_else(|_| "info".to_string());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_test_writer()
        .try_init();
}

/// A gateway served in-process until dropped (or [`Gateway::stop`]).
pub struct Gateway {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), aetherv_gateway::Error>>>,
}

impl Gateway {
    /// Starts a gateway with `config` on a free loopback port.
    pub async fn start(config: Config) -> Gateway {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(error) => panic!("cannot bind a loopback port: {error}"),
        };
        let addr = match listener.local_addr() {
            Ok(addr) => addr,
            Err(error) => panic!("listener without address: {error}"),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(aetherv_gateway::serve(config, listener, async {
            let _ = stopped.await;
        }));
        Gateway {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// `http://127.0.0.1:<port>` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `ws://127.0.0.1:<port>/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Shuts it down and waits for the drain.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            match tokio::time::timeout(Duration::from_secs(30), task).await {
                Ok(Ok(Ok(()))) => {}
                other => panic!("the gateway did not stop cleanly: {other:?}"),
            }
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A loopback address where nothing listens (bound, then released).
pub async fn closed_endpoint() -> String {
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(error) => panic!("cannot bind a loopback port: {error}"),
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(1);
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// Polls `check` every 50 ms until it returns `Some`, or panics after `limit` saying what
/// was awaited.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
