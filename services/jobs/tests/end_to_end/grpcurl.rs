//! grpcurl 1.8.6 — a third-party client that speaks only reflection v1alpha — against
//! jobs serving a simulated fleet: list and describe the service, watch all jobs with
//! `aetherv.jobs.v1.Jobs/Watch`, submit a job with `Submit`, and see the watch stream its
//! events through to success; health is SERVING.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::support::suite::{FleetShape, Suite};
use serde_json::json;
use tokio::io::AsyncReadExt;

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

/// Runs grpcurl with `flags`, the address, then `rest`; (success, stdout, stderr).
async fn run(suite: &Suite, flags: &[&str], rest: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::new(grpcurl())
        .args(["-plaintext", "-max-time", "20"])
        .args(flags)
        .arg(suite.jobs.address.to_string())
        .args(rest)
        .output()
        .await;
    match output {
        Ok(output) => (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ),
        Err(error) => panic!("grpcurl could not run: {error}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_submits_a_job_and_watches_it() {
    let suite = Suite::start(
        FleetShape {
            hosts: 1,
            ..FleetShape::default()
        },
        |_| {},
    )
    .await;
    let (ok, stdout, stderr) = run(&suite, &[], &["list"]).await;
    assert!(ok, "list: {stderr}");
    assert!(
        stdout.lines().any(|l| l == "aetherv.jobs.v1.Jobs"),
        "{stdout}"
    );
    let (ok, stdout, stderr) = run(&suite, &[], &["describe", "aetherv.jobs.v1.Jobs"]).await;
    assert!(ok, "describe: {stderr}");
    assert!(
        stdout.contains("rpc Watch ( .aetherv.jobs.v1.WatchJobsRequest ) returns ( stream .aetherv.jobs.v1.JobEvent );"),
        "{stdout}"
    );
    let (ok, stdout, stderr) = run(&suite, &[], &["grpc.health.v1.Health/Check"]).await;
    assert!(
        ok && stdout.contains("SERVING"),
        "health: {stdout} {stderr}"
    );

    // Watch everything from the start, then submit.
    let mut watcher = match tokio::process::Command::new(grpcurl())
        .args([
            "-plaintext",
            "-max-time",
            "60",
            "-d",
            r#"{"from_event_id": 0}"#,
        ])
        .arg(suite.jobs.address.to_string())
        .arg("aetherv.jobs.v1.Jobs/Watch")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(error) => panic!("grpcurl could not run: {error}"),
    };
    let Some(mut watched) = watcher.stdout.take() else {
        panic!("no stdout")
    };
    let mut seen = String::new();
    let mut buffer = [0u8; 4096];
    // The stream starts with resync and synced.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !seen.contains("\"synced\"") {
        let read = tokio::time::timeout_at(deadline, watched.read(&mut buffer)).await;
        match read {
            Ok(Ok(n)) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buffer[..n])),
            other => panic!("the watch ended before synced: {other:?}; got {seen}"),
        }
    }
    assert!(seen.contains("RESYNC_REASON_INITIAL"), "{seen}");

    let spec = json!({ "host": suite.host(0).name(), "echo": { "from": "grpcurl" } }).to_string();
    let body = json!({ "type": "JOB_TYPE_NOOP", "spec_json": spec }).to_string();
    let (ok, stdout, stderr) = run(&suite, &["-d", &body], &["aetherv.jobs.v1.Jobs/Submit"]).await;
    assert!(ok, "submit: {stderr}");
    let submitted: serde_json::Value = match serde_json::from_str(&stdout) {
        Ok(value) => value,
        Err(error) => panic!("submit answered {stdout}: {error}"),
    };
    let Some(job_id) = submitted["jobId"].as_str() else {
        panic!("no jobId in {stdout}")
    };
    assert!(job_id.starts_with("job-"), "{job_id}");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !seen.contains("JOB_STATE_SUCCEEDED") {
        let read = tokio::time::timeout_at(deadline, watched.read(&mut buffer)).await;
        match read {
            Ok(Ok(n)) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buffer[..n])),
            other => panic!("the watch ended before the job succeeded: {other:?}; got {seen}"),
        }
    }
    let _ = watcher.kill().await;
    for needle in [
        "\"created\"",
        job_id,
        "\"stateChanged\"",
        "JOB_STATE_RUNNING",
        "\"stepChanged\"",
        "\"output\"",
        "Executing noop operation",
    ] {
        assert!(
            seen.contains(needle),
            "the watch did not show {needle}: {seen}"
        );
    }
    let created = seen.find("\"created\"").unwrap_or(usize::MAX);
    let running = seen.find("JOB_STATE_RUNNING").unwrap_or(0);
    let succeeded = seen.find("JOB_STATE_SUCCEEDED").unwrap_or(0);
    assert!(
        created < running && running < succeeded,
        "events out of order: {seen}"
    );

    let get = json!({ "job_id": job_id, "include_output": true }).to_string();
    let (ok, stdout, stderr) = run(&suite, &["-d", &get], &["aetherv.jobs.v1.Jobs/Get"]).await;
    assert!(ok, "get: {stderr}");
    assert!(
        stdout.contains("JOB_STATE_SUCCEEDED") && stdout.contains("grpcurl"),
        "{stdout}"
    );
}
