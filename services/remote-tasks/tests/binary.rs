//! The `aetherv-remote-tasks` binary against a simulated fleet, configured by the fleet
//! file the simulator writes (`--hosts-file`) and a 0600 password file, checked with
//! grpcurl (a third-party gRPC client that uses reflection): `list`, `describe`, a real
//! `Run` of agent.info on a simulated host, ListHosts and `grpc.health.v1.Health/Check`.
//! Then SIGTERM, and its log read back.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use aetherv_hvsim::{Scheme, SimFleet};
use aetherv_hyperv::{Operation, validate_result};
use serde_json::Value;
use support::*;
use tokio::process::{Child, Command};

struct Output {
    success: bool,
    stdout: String,
    stderr: String,
}

async fn grpcurl_at(port: u16, args: &[&str]) -> Output {
    let address = format!("127.0.0.1:{port}");
    let (flags, rest): (Vec<&str>, Vec<&str>) = match args.iter().position(|arg| *arg == "--") {
        Some(split) => (args[..split].to_vec(), args[split + 1..].to_vec()),
        None => (Vec::new(), args.to_vec()),
    };
    let output = Command::new(grpcurl())
        .arg("-plaintext")
        .arg("-max-time")
        .arg("30")
        .args(&flags)
        .arg(&address)
        .args(&rest)
        .output()
        .await;
    match output {
        Ok(output) => Output {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        },
        Err(error) => panic!("grpcurl could not run: {error}"),
    }
}

fn free_port() -> u16 {
    match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(address) => address.port(),
        Err(error) => panic!("no free port: {error}"),
    }
}

async fn fleet_files(fleet: &SimFleet, dir: &Path) -> std::path::PathBuf {
    let password = dir.join("password");
    std::fs::write(&password, format!("{}\n", fleet.password().expose()))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("{e}"));
    let file = dir.join("fleet.toml");
    let config = fleet
        .fleet_config(Scheme::Http, Some(password), None, None)
        .unwrap_or_else(|e| panic!("{e}"));
    config.write(&file).unwrap_or_else(|e| panic!("{e}"));
    file
}

fn start(args: &[&str], log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap_or_else(|e| panic!("{e}"));
    let spawned = Command::new(env!("CARGO_BIN_EXE_aetherv-remote-tasks"))
        .args(args)
        .env_remove("AETHERV_REMOTE_TASKS__WINRM__PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn();
    match spawned {
        Ok(child) => child,
        Err(error) => panic!("the binary did not start: {error}"),
    }
}

/// Waits until Health/Check answers (any status); returns its output.
async fn health(port: u16) -> String {
    for _ in 0..300 {
        let check = grpcurl_at(
            port,
            &["-max-time", "2", "--", "grpc.health.v1.Health/Check"],
        )
        .await;
        if check.stdout.contains("SERVING") {
            return check.stdout;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the service never answered health checks on port {port}");
}

async fn terminate(mut child: Child) -> Option<i32> {
    let pid = child.id().map(|pid| pid.to_string()).unwrap_or_default();
    let killed = Command::new("kill").arg("-TERM").arg(&pid).status().await;
    assert!(killed.is_ok_and(|s| s.success()), "kill -TERM {pid}");
    match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
        Ok(Ok(status)) => status.code(),
        other => panic!("the service did not stop on SIGTERM: {other:?}"),
    }
}

#[tokio::test]
async fn grpcurl_lists_describes_runs_and_checks_health_of_the_binary() {
    let fleet = fleet(2).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let hosts_file = fleet_files(&fleet, dir.path()).await;
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let log = dir.path().join("remote-tasks.log");
    let child = start(
        &[
            "--hosts-file",
            &hosts_file.display().to_string(),
            "--listen",
            &listen,
        ],
        &log,
    );

    let status = health(port).await;
    assert!(status.contains("\"SERVING\""), "{status}");

    let list = grpcurl_at(port, &["list"]).await;
    assert!(list.success, "{}", list.stderr);
    let mut services: Vec<&str> = list.stdout.lines().collect();
    services.sort();
    assert_eq!(
        services,
        [
            "aetherv.common.v1.Diagnostics",
            "aetherv.remotetasks.v1.RemoteTasks",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
    );

    let describe = grpcurl_at(port, &["describe", "aetherv.remotetasks.v1.RemoteTasks"]).await;
    assert!(describe.success, "{}", describe.stderr);
    assert!(
        describe.stdout.contains(
            "rpc Run ( .aetherv.remotetasks.v1.RunRequest ) returns ( stream .aetherv.remotetasks.v1.RunEvent );"
        ),
        "{}",
        describe.stdout
    );
    assert!(
        describe.stdout.contains("rpc Cancel ("),
        "{}",
        describe.stdout
    );

    let host = &fleet.hosts()[1];
    let body = format!(
        r#"{{"host": "{}", "operation": "agent.info", "category": "CATEGORY_INVENTORY", "correlationId": "grpcurl-1"}}"#,
        host.name()
    );
    let run = grpcurl_at(
        port,
        &["-d", &body, "--", "aetherv.remotetasks.v1.RemoteTasks/Run"],
    )
    .await;
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let events: Vec<Value> = serde_json::Deserializer::from_str(&run.stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| {
            panic!(
                "grpcurl printed something that is not JSON: {e}\n{}",
                run.stdout
            )
        });
    assert!(
        events.first().is_some_and(|e| e.get("accepted").is_some()),
        "{events:#?}"
    );
    let result = match events.last().and_then(|e| e.get("result")) {
        Some(result) => result.clone(),
        None => panic!("no result: {events:#?}"),
    };
    assert_eq!(result["ok"], Value::Bool(true), "{result:#}");
    let data: Value = serde_json::from_str(result["dataJson"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("dataJson: {e}"));
    if let Err(error) = validate_result(Operation::AgentInfo, &data) {
        panic!("agent.info result does not match its schema: {error}");
    }
    let record = finished_record(host, "grpcurl-1").await;
    assert_eq!(record.operation.as_deref(), Some("agent.info"));

    let hosts = grpcurl_at(
        port,
        &["--", "aetherv.remotetasks.v1.RemoteTasks/ListHosts"],
    )
    .await;
    assert!(hosts.success, "{}", hosts.stderr);
    assert!(hosts.stdout.contains(host.name()), "{}", hosts.stdout);
    assert!(hosts.stdout.contains("AUTH_KIND_NTLM"), "{}", hosts.stdout);
    assert!(
        !hosts.stdout.contains(fleet.password().expose()),
        "ListHosts shows the password"
    );

    assert_eq!(terminate(child).await, Some(0));
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logs.contains("task started") && logs.contains("task finished"),
        "{logs}"
    );
    assert!(
        !logs.contains(fleet.password().expose()),
        "the log shows the password"
    );
}

#[tokio::test]
async fn a_password_given_as_a_flag_is_refused_and_never_printed() {
    let fleet = fleet(1).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let hosts_file = fleet_files(&fleet, dir.path()).await;
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let log = dir.path().join("remote-tasks.log");
    let flag = "winrm.password=Flag-Pa55-Value";
    let child = start(
        &[
            "--hosts-file",
            &hosts_file.display().to_string(),
            "--listen",
            &listen,
            "--set",
            flag,
        ],
        &log,
    );
    let status = health(port).await;
    assert!(status.contains("NOT_SERVING"), "{status}");
    let diagnostics = grpcurl_at(port, &["--", "aetherv.common.v1.Diagnostics/GetStatus"]).await;
    assert!(
        diagnostics.stdout.contains("may not be given as a flag"),
        "{}",
        diagnostics.stdout
    );
    let body = format!(
        r#"{{"host": "{}", "operation": "agent.info", "category": "CATEGORY_INVENTORY"}}"#,
        fleet.hosts()[0].name()
    );
    let run = grpcurl_at(
        port,
        &["-d", &body, "--", "aetherv.remotetasks.v1.RemoteTasks/Run"],
    )
    .await;
    assert!(!run.success);
    assert!(run.stderr.contains("FailedPrecondition"), "{}", run.stderr);
    assert!(fleet.hosts()[0].operations().is_empty());
    assert_eq!(terminate(child).await, Some(0));
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    for text in [&logs, &diagnostics.stdout, &run.stderr] {
        assert!(
            !text.contains("Flag-Pa55-Value"),
            "the flag's password was printed: {text}"
        );
    }
}
