//! Third-party WinRM clients against the simulator: pywinrm 0.5.0 over NTLM with message
//! encryption (the agent call with stdin, cmd.exe's answer, a refused password) and
//! pypsrp 0.9.1's WinRS client. They run from the test venv (`./scripts/test` makes it).

mod common;

use std::path::{Path, PathBuf};

use aetherv_hyperv::{AgentBundle, Operation};
use common::{Ran, check, request_line};
use serde_json::{Value, json};

const NOT_RECOGNIZED: &str =
    "is not recognized as an internal or external command,\r\noperable program or batch file.\r\n";

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers")
        .join(name)
}

async fn run_peer(name: &str, env: Vec<(&str, String)>) -> Value {
    let python = common::python();
    let out = tokio::process::Command::new(python)
        .arg(script(name))
        .envs(env)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
    assert!(
        out.status.success(),
        "{name} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{name} printed no json ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn ran(v: &Value) -> Ran {
    Ran {
        stdout: v["stdout"].as_str().unwrap_or_default().as_bytes().to_vec(),
        stderr: v["stderr"].as_str().unwrap_or_default().as_bytes().to_vec(),
        exit: v["rc"].as_i64().map(|c| c as i32),
    }
}

fn environment(
    fleet: &aetherv_hvsim::SimFleet,
    endpoint: &str,
    stdin: &Path,
) -> Vec<(&'static str, String)> {
    let b = common::bootstrap();
    vec![
        ("HVSIM_ENDPOINT", endpoint.to_owned()),
        ("HVSIM_USERNAME", fleet.username().to_owned()),
        ("HVSIM_PASSWORD", fleet.password().expose().to_owned()),
        (
            "HVSIM_ARGS",
            serde_json::to_string(&b.arguments()).unwrap_or_default(),
        ),
        ("HVSIM_STDIN", stdin.display().to_string()),
    ]
}

#[tokio::test]
async fn pywinrm_runs_the_agent_over_ntlm_with_encryption() {
    let fleet = common::fleet(2, 4, 1).await;
    let host = &fleet.hosts()[0];
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let stdin = dir.path().join("stdin");
    std::fs::write(
        &stdin,
        common::stdin_for(&request_line("inventory.collect", json!({}))),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let endpoint = host.http_endpoint().unwrap_or_default();
    let out = run_peer("pywinrm_client.py", environment(&fleet, &endpoint, &stdin)).await;

    let agent = ran(&out["agent"]);
    assert_eq!(agent.exit, Some(0), "stderr: {}", agent.stderr_text());
    let answer = check(Operation::InventoryCollect, &agent).unwrap_or_else(|v| panic!("{v}"));
    assert_eq!(answer.data()["vms"].as_array().map(Vec::len), Some(4));
    assert_eq!(answer.data()["host"]["fqdn"], json!(host.name()));

    assert_eq!(out["ipconfig"]["rc"], json!(1));
    assert_eq!(
        out["ipconfig"]["stderr"],
        json!(format!("'ipconfig' {NOT_RECOGNIZED}"))
    );
    assert_eq!(out["too_long"]["rc"], json!(1));
    assert_eq!(
        out["too_long"]["stderr"],
        json!("The command line is too long.\r\n")
    );
    assert_eq!(out["session_ipconfig"]["rc"], json!(1));
    assert_eq!(out["session_run_ps"]["rc"], json!(1));
    assert!(
        out["session_run_ps"]["stderr"]
            .as_str()
            .is_some_and(|s| s.contains("The term 'Get-VM' is not recognized")),
        "{}",
        out["session_run_ps"]
    );
    assert_eq!(out["wrong_password"], json!("InvalidCredentialsError"));

    let log = host.operations();
    assert_eq!(log[0].operation.as_deref(), Some("inventory.collect"));
    assert_eq!(log[0].user, fleet.username());
}

#[tokio::test]
async fn pypsrp_winrs_runs_a_command() {
    let fleet = common::fleet(1, 2, 0).await;
    let host = &fleet.hosts()[0];
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let stdin = dir.path().join("stdin");
    std::fs::write(
        &stdin,
        common::stdin_for(&request_line("agent.info", json!({}))),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let addr = host
        .http_addr()
        .unwrap_or_else(|| panic!("no http address"));
    let mut env = environment(&fleet, &host.http_endpoint().unwrap_or_default(), &stdin);
    env.push(("HVSIM_HOST", addr.ip().to_string()));
    env.push(("HVSIM_PORT", addr.port().to_string()));
    let out = run_peer("pypsrp_client.py", env).await;

    let agent = ran(&out["agent"]);
    let answer = check(Operation::AgentInfo, &agent).unwrap_or_else(|v| panic!("{v}"));
    assert_eq!(
        answer.data()["agent_sha256"],
        json!(AgentBundle::builtin().sha256())
    );
    assert_eq!(answer.data()["computer_name"], json!(host.computer_name()));
    assert_eq!(out["ipconfig"]["rc"], json!(1));
    assert_eq!(
        out["ipconfig"]["stderr"],
        json!(format!("'ipconfig' {NOT_RECOGNIZED}"))
    );
    assert_eq!(out["execute_cmd"]["rc"], json!(1));
    assert_eq!(
        out["execute_cmd"]["stderr"],
        json!(format!("'hostname' {NOT_RECOGNIZED}"))
    );
}
