//! The HTTP server loop: accepts on the caller's listener with `TCP_NODELAY` (without it,
//! Nagle and delayed ACKs put 40 ms on small responses), serves HTTP/1.1 and HTTP/2 with
//! WebSocket upgrades through hyper, and on shutdown stops accepting, lets open connections
//! finish their requests (graceful), closes WebSockets, and waits up to the drain deadline
//! for all of it before cutting what is left.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a client may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listener has no local address.
    #[error("http listener has no local address")]
    Listener(#[source] std::io::Error),
}

/// The tokens and trackers of one server's lifetime.
pub struct Lifetime {
    /// Fired when shutdown begins: connections finish gracefully, WebSockets close.
    pub stop: CancellationToken,
    /// Fired when the drain deadline passes: background work stops.
    pub abort: CancellationToken,
    /// Work to wait for while draining (WebSockets, topic streams, power actions).
    pub trackers: Vec<TaskTracker>,
    /// The drain deadline.
    pub drain_timeout: Duration,
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains.
pub async fn run<F>(
    listener: TcpListener,
    app: Router,
    shutdown: F,
    lifetime: Lifetime,
) -> Result<(), Error>
where
    F: Future<Output = ()>,
{
    let address = listener.local_addr().map_err(Error::Listener)?;
    tracing::info!(%address, "gateway listening");
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(connection(stream, app.clone(), lifetime.stop.clone()));
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    lifetime.stop.cancel();
    tracing::info!(deadline = ?lifetime.drain_timeout, "gateway draining");
    let drained = tokio::time::timeout(lifetime.drain_timeout, async {
        while connections.join_next().await.is_some() {}
        for tracker in &lifetime.trackers {
            tracker.close();
            tracker.wait().await;
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(deadline = ?lifetime.drain_timeout, "drain deadline passed; cutting the remaining connections");
        lifetime.abort.cancel();
        connections.abort_all();
    } else {
        tracing::info!("gateway drained");
    }
    Ok(())
}

async fn connection(stream: TcpStream, app: Router, stop: CancellationToken) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
    let service = TowerToHyperService::new(app);
    let mut builder = Builder::new(TokioExecutor::new());
    // A client that opens a connection and never finishes its request headers is cut.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "http connection ended with an error");
            }
        }
        () = stop.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}
