//! Third-party peers from the test virtualenv (`tests/requirements.txt`, installed by
//! `./scripts/test`): grpcurl 1.8.6, which speaks reflection v1alpha only. The virtualenv
//! is `AETHERV_TEST_VENV` or `<workspace>/.venv`; a missing peer is an error that says to
//! run `./scripts/test` — tests fail, they never skip.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::error::Error;

/// The test virtualenv.
pub fn venv() -> PathBuf {
    std::env::var_os("AETHERV_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv"))
}

/// The grpcurl executable.
pub fn grpcurl() -> Result<PathBuf, Error> {
    let path = venv().join("bin/grpcurl");
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::Peer(format!(
            "grpcurl not found at {}: run ./scripts/test (it installs tests/requirements.txt into .venv)",
            path.display()
        )))
    }
}

/// What a grpcurl run printed.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit status 0.
    pub success: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `grpcurl -plaintext -max-time 20 <flags> <address> <rest>`.
pub async fn grpcurl_at(
    address: SocketAddr,
    flags: &[&str],
    rest: &[&str],
) -> Result<Output, Error> {
    let output = tokio::process::Command::new(grpcurl()?)
        .args(["-plaintext", "-max-time", "20"])
        .args(flags)
        .arg(address.to_string())
        .args(rest)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| Error::Peer(format!("grpcurl could not run: {e}")))?;
    Ok(Output {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}
