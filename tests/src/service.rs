//! A service running in this process: its `serve(config, listener, shutdown)` future on a
//! task, the listener's address, and the way to stop it (resolve `shutdown`, wait for the
//! drain). Dropping it without [`Running::stop`] aborts the task.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::Error;

/// The longest a service may take to drain and stop.
pub const STOP_LIMIT: Duration = Duration::from_secs(60);

/// A running in-process service.
pub struct Running {
    name: &'static str,
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), String>>>,
}

/// Binds a free loopback port.
pub async fn bind_loopback(what: &str) -> Result<(TcpListener, SocketAddr), Error> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Error::start(what, format!("cannot bind a loopback port: {e}")))?;
    let address = listener
        .local_addr()
        .map_err(|e| Error::start(what, format!("listener without address: {e}")))?;
    Ok((listener, address))
}

impl Running {
    /// Binds a loopback port and spawns `serve(listener, shutdown)` on it.
    pub async fn start<F, Fut, E>(name: &'static str, serve: F) -> Result<Running, Error>
    where
        F: FnOnce(TcpListener, futures::future::BoxFuture<'static, ()>) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::error::Error + 'static,
    {
        let (listener, address) = bind_loopback(name).await?;
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = Box::pin(async move {
            let _ = stopped.await;
        });
        let served = serve(listener, shutdown);
        let task = tokio::spawn(async move {
            served
                .await
                .map_err(|error| aetherv_runtime::display_chain(&error).to_string())
        });
        Ok(Running {
            name,
            address,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://<address>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The service's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// True once its task has ended (it failed or was stopped).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Begins the shutdown and waits (at most [`STOP_LIMIT`]) until `serve` returns.
    pub async fn stop(mut self) -> Result<(), Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        let failure = |message: String| Error::Stop {
            service: self.name.to_string(),
            message,
        };
        match tokio::time::timeout(STOP_LIMIT, task).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(message))) => Err(failure(message)),
            Ok(Err(join)) => Err(failure(format!("its task failed: {join}"))),
            Err(_) => Err(failure(format!("still running after {STOP_LIMIT:?}"))),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}
