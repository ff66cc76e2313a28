//! The `aetherv-jobs` binary: a bad setting is refused naming the key (exit 2); a good one
//! serves against the in-process suite — grpcurl sees it SERVING and runs a job through
//! it — and SIGTERM stops it cleanly (exit 0).

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::process::Command;

use crate::support::suite::{FleetShape, Suite};

const BINARY: &str = env!("CARGO_BIN_EXE_aetherv-jobs");

fn free_port() -> u16 {
    match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(address) => address.port(),
        Err(error) => panic!("no free port: {error}"),
    }
}

async fn grpcurl(port: u16, flags: &[&str], rest: &[&str]) -> (bool, String) {
    let output = Command::new(crate::grpcurl::grpcurl())
        .args(["-plaintext", "-max-time", "20"])
        .args(flags)
        .arg(format!("127.0.0.1:{port}"))
        .args(rest)
        .output()
        .await;
    match output {
        Ok(output) => (
            output.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        ),
        Err(error) => panic!("grpcurl could not run: {error}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_refuses_bad_settings_serves_and_stops_on_sigterm() {
    let refused = Command::new(BINARY)
        .args(["--set", "max_active_jobs=0"])
        .env("AETHERV_JOBS__HISTORY__MAX_AGE", "1s")
        .output()
        .await;
    let Ok(refused) = refused else {
        panic!("the binary did not run")
    };
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("jobs.max_active_jobs"), "{stderr}");
    assert!(
        stderr.contains("jobs.history.max_age")
            && stderr.contains("AETHERV_JOBS__HISTORY__MAX_AGE"),
        "{stderr}"
    );

    let suite = Suite::start(
        FleetShape {
            hosts: 1,
            ..FleetShape::default()
        },
        |_| {},
    )
    .await;
    let port = free_port();
    let child = Command::new(BINARY)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--remote-tasks")
        .arg(format!("http://{}", suite.remote_tasks.address))
        .arg("--inventory")
        .arg(format!("http://{}", suite.inventory.address))
        .args(["--set", "health_interval=200ms"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let Ok(child) = child else {
        panic!("the binary did not start")
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (ok, out) = grpcurl(port, &[], &["grpc.health.v1.Health/Check"]).await;
        if ok && out.contains("\"SERVING\"") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never SERVING: {out}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let spec = json!({ "host": suite.host(0).name() }).to_string();
    let body = json!({ "type": "JOB_TYPE_NOOP", "spec_json": spec }).to_string();
    let (ok, out) = grpcurl(port, &["-d", &body], &["aetherv.jobs.v1.Jobs/Submit"]).await;
    assert!(ok && out.contains("\"jobId\""), "{out}");

    let Some(pid) = child.id() else {
        panic!("no pid")
    };
    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .await;
    assert!(killed.is_ok_and(|s| s.success()), "kill -TERM {pid}");
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await;
    let Ok(Ok(output)) = output else {
        panic!("the binary did not stop on SIGTERM")
    };
    assert_eq!(output.status.code(), Some(0));
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("jobs listening") && log.contains(&port.to_string()),
        "{log}"
    );
    assert!(log.contains("job queued"), "{log}");
}
