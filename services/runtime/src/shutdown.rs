//! The shutdown signal binaries pass to `serve`: SIGINT (Ctrl-C) or SIGTERM (Kubernetes,
//! the launcher).

use tokio::signal::unix::{SignalKind, signal};

/// Resolves on the first SIGINT or SIGTERM. If a handler cannot be installed, that signal
/// is not waited for (logged) and the other one still is.
pub async fn signal_shutdown() {
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
                tracing::info!("sigterm received, shutting down");
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for sigterm; only sigint stops this process");
                std::future::pending::<()>().await;
            }
        }
    };
    let interrupt = async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => tracing::info!("sigint received, shutting down"),
            Err(error) => {
                tracing::warn!(%error, "cannot listen for sigint; only sigterm stops this process");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = terminate => {}
        () = interrupt => {}
    }
}
