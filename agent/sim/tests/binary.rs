//! The built `aetherv-hvsim` binary: its host lines and ready line, the fleet config it
//! writes, the generated 0600 password file (or the environment variable), a real agent
//! call to an endpoint it printed, and a clean stop on SIGTERM.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use aetherv_hvsim::FleetConfig;
use aetherv_hvsim::credentials::PASSWORD_ENV;
use aetherv_hyperv::Operation;
use aetherv_winrm::client::{AuthMethod, Client, ClientConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

struct Started {
    child: Child,
    lines: Vec<String>,
    ready: Value,
}

async fn start(args: &[&str], password: Option<&str>) -> Started {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aetherv-hvsim"));
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    match password {
        Some(p) => command.env(PASSWORD_ENV, p),
        None => command.env_remove(PASSWORD_ENV),
    };
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the binary: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut reader = BufReader::new(stdout).lines();
    let mut lines = Vec::new();
    let ready = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = reader.next_line().await {
            if line.starts_with('{') {
                return serde_json::from_str::<Value>(&line).ok();
            }
            lines.push(line);
        }
        None
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_else(|| panic!("no ready line; got {lines:?}"));
    Started {
        child,
        lines,
        ready,
    }
}

async fn stop(mut s: Started) {
    let pid = s.child.id().unwrap_or_else(|| panic!("no pid"));
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), s.child.wait()).await;
    let exit = exit
        .unwrap_or_else(|_| panic!("did not stop on SIGTERM"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(exit.success(), "{exit:?}");
}

async fn get(url: &str) -> Value {
    let out = Command::new(common::python())
        .args(["-c", "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())", url])
        .output()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn prints_hosts_and_ready_writes_the_fleet_config_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config_path = dir.path().join("fleet.toml");
    let config_arg = config_path.display().to_string();
    let s = start(
        &[
            "--hosts",
            "3",
            "--vms-per-host",
            "4",
            "--clusters",
            "1",
            "--seed",
            "5",
            "--http-port",
            "0",
            "--time-scale",
            "0.01",
            "--base-address",
            "127.0.40.1",
            "--write-fleet-config",
            &config_arg,
        ],
        None,
    )
    .await;
    let password_line = s
        .lines
        .iter()
        .find(|l| l.starts_with("password-file "))
        .unwrap_or_else(|| panic!("{:?}", s.lines));
    let password_file = Path::new(password_line.trim_start_matches("password-file ")).to_owned();
    let mode = std::fs::metadata(&password_file)
        .unwrap_or_else(|e| panic!("{e}"))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let password = std::fs::read_to_string(&password_file).unwrap_or_else(|e| panic!("{e}"));
    assert!(password.len() >= 20);
    assert!(
        !s.lines.iter().any(|l| l.contains(&password)) && !s.ready.to_string().contains(&password),
        "the password is never printed"
    );

    let hosts: Vec<&String> = s.lines.iter().filter(|l| l.starts_with("host ")).collect();
    assert_eq!(hosts.len(), 3);
    assert!(
        hosts[0].starts_with("host hv-ams-c1-n01.corp.example 127.0.40.1 http://127.0.40.1:"),
        "{}",
        hosts[0]
    );
    assert_eq!(s.ready["ready"], json!(true));
    assert_eq!(s.ready["hosts"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        s.ready["password_file"],
        json!(password_file.display().to_string())
    );

    let config = FleetConfig::from_toml(
        &std::fs::read_to_string(&config_path).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (config.winrm.auth.as_str(), config.winrm.username.as_str()),
        ("ntlm", "aetherv")
    );
    assert_eq!(
        config.winrm.password_file.as_deref(),
        Some(password_file.as_path())
    );
    assert_eq!(config.hosts.len(), 3);
    assert_eq!(json!(config.hosts[2].endpoint), s.ready["hosts"][2]["http"]);

    let mut client = ClientConfig::new(
        config.hosts[1].endpoint.clone(),
        AuthMethod::Ntlm,
        config.winrm.username.clone(),
        password.clone(),
    );
    client.connect_timeout = Duration::from_secs(5);
    let client = Client::new(client).unwrap_or_else(|e| panic!("{e}"));
    let ran = common::agent_winrm(&client, &common::request_line("agent.info", json!({})))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let answer = common::check(Operation::AgentInfo, &ran).unwrap_or_else(|v| panic!("{v}"));
    assert_eq!(answer.data()["fqdn"], json!(config.hosts[1].name));

    let state_dir = password_file
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default();
    stop(s).await;
    assert!(
        !state_dir.exists(),
        "the generated password is removed on exit"
    );
}

#[tokio::test]
async fn takes_the_password_from_the_environment_and_serves_https() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config_path = dir.path().join("fleet.toml");
    let ca_path = dir.path().join("ca.pem");
    let scenario_path = dir.path().join("scenario.toml");
    std::fs::write(
        &scenario_path,
        "[[hosts]]\nhost = \"HV-FRA-S01\"\nresponsiveness = \"refuse\"\nfail_next = [{ count = 3, code = \"TIMEOUT\" }]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (config_arg, ca_arg, scenario_arg) = (
        config_path.display().to_string(),
        ca_path.display().to_string(),
        scenario_path.display().to_string(),
    );
    let s = start(
        &[
            "--scenario",
            &scenario_arg,
            "--hosts",
            "2",
            "--vms-per-host",
            "1",
            "--clusters",
            "0",
            "--http-port",
            "0",
            "--https",
            "--https-port",
            "0",
            "--base-address",
            "127.0.41.1",
            "--ca-file",
            &ca_arg,
            "--write-fleet-config",
            &config_arg,
            "--fleet-config-scheme",
            "https",
            "--username",
            "operator",
            "--latency",
            "10ms",
        ],
        Some("from-the-environment-1"),
    )
    .await;
    assert!(!s.lines.iter().any(|l| l.starts_with("password-file")));
    assert_eq!(s.ready["password_env"], json!(PASSWORD_ENV));
    let config = FleetConfig::from_toml(
        &std::fs::read_to_string(&config_path).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (config.winrm.auth.as_str(), config.winrm.username.as_str()),
        ("basic", "operator")
    );
    assert_eq!(
        (
            config.winrm.password_env.as_deref(),
            config.winrm.password_file.clone()
        ),
        (Some(PASSWORD_ENV), None)
    );
    assert_eq!(config.winrm.ca_file.as_deref(), Some(ca_path.as_path()));
    assert!(config.hosts[0].endpoint.starts_with("https://127.0.41.1:"));
    let mut client = ClientConfig::new(
        config.hosts[0].endpoint.clone(),
        AuthMethod::Basic,
        "operator",
        "from-the-environment-1",
    );
    client.ca_file = Some(ca_path.clone());
    let client = Client::new(client).unwrap_or_else(|e| panic!("{e}"));
    let ran = common::agent_winrm(&client, &common::request_line("noop", json!({"a": 1})))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        common::check(Operation::Noop, &ran)
            .unwrap_or_else(|v| panic!("{v}"))
            .data()["echo"],
        json!({"a": 1})
    );
    let control = s.ready["control"].as_str().unwrap_or_default().to_owned();
    assert!(control.starts_with("http://127.0.0.1:"));
    // The scenario and --latency applied at start, as the control API shows.
    let knobs = get(&format!("{control}/hosts/hv-fra-s01.corp.example/knobs")).await;
    assert_eq!(
        (
            knobs["responsiveness"].clone(),
            knobs["fail_next"][0]["count"].clone(),
            knobs["latency_ms"].clone()
        ),
        (json!("refuse"), json!(3), json!(10))
    );
    let knobs = get(&format!("{control}/hosts/hv-ams-s01.corp.example/knobs")).await;
    assert_eq!(
        (knobs["responsiveness"].clone(), knobs["latency_ms"].clone()),
        (json!("normal"), json!(10))
    );
    stop(s).await;
}

#[tokio::test]
async fn refuses_bad_flags_naming_them() {
    for (args, needle) in [
        (vec!["--hosts", "0"], "hosts"),
        (vec!["--clusters", "5", "--hosts", "4"], "clusters"),
        (vec!["--time-scale", "0"], "time_scale"),
        (vec!["--base-address", "10.0.0.1"], "base_address"),
    ] {
        let mut full = args.clone();
        full.extend(["--http-port", "0"]);
        let out = Command::new(env!("CARGO_BIN_EXE_aetherv-hvsim"))
            .args(&full)
            .env(PASSWORD_ENV, "x")
            .output()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"));
    }
}
