//! The shutdown signal resolves on SIGTERM (its own test binary: it signals its own
//! process, which only this test's handler may observe).

use std::time::Duration;

use aetherv_runtime::signal_shutdown;

#[tokio::test]
async fn sigterm_resolves_the_shutdown_signal() {
    let shutdown = signal_shutdown();
    tokio::pin!(shutdown);
    // The first poll installs the SIGTERM and SIGINT handlers.
    assert!(futures::poll!(&mut shutdown).is_pending());
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(std::process::id().to_string())
        .status();
    assert!(
        matches!(status, Ok(status) if status.success()),
        "kill: {status:?}"
    );
    let resolved = tokio::time::timeout(Duration::from_secs(30), &mut shutdown).await;
    assert!(
        resolved.is_ok(),
        "sigterm did not resolve the shutdown signal"
    );
}
