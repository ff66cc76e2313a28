//! The built `aetherv` binary against an in-process `aetherv-hvsim` fleet over real WinRM:
//! `winrm run` of the agent's own powershell.exe command line and of `ipconfig`, wrong
//! credentials and an unreachable endpoint (their distinct exit codes), and `agent call`
//! printing a result that validates against its schema.

use std::path::PathBuf;
use std::process::Output;

use aetherv_hvsim::{FailNext, SimFleet, SimHost};
use aetherv_hyperv::{
    AgentBundle, AgentErrorCode, AgentRequest, Bootstrap, CorrelationId, HostId, Operation,
    OutputParser, ResultLine, validate_result,
};
use serde_json::{Map, Value};
use tokio::process::Command;

const AETHERV: &str = env!("CARGO_BIN_EXE_aetherv");

struct Sim {
    fleet: SimFleet,
    host: SimHost,
    dir: tempfile::TempDir,
}

impl Sim {
    async fn start() -> Sim {
        let fleet = SimFleet::builder()
            .hosts(1)
            .vms_per_host(5)
            .clusters(0)
            .seed(3)
            .time_scale(0.001)
            .https(0)
            .start()
            .await
            .expect("the fleet starts");
        let host = fleet.hosts()[0].clone();
        let dir = tempfile::tempdir().expect("a temporary folder");
        fleet
            .write_ca_file(&dir.path().join("ca.pem"))
            .expect("the ca file is written");
        Sim { fleet, host, dir }
    }

    fn http(&self) -> String {
        self.host.http_endpoint().expect("http is bound")
    }

    /// `aetherv <args>` with the fleet's password in the environment.
    async fn aetherv(&self, args: &[&str]) -> Output {
        self.aetherv_with_password(args, self.fleet.password().expose())
            .await
    }

    async fn aetherv_with_password(&self, args: &[&str], password: &str) -> Output {
        Command::new(AETHERV)
            .args(args)
            .env("AETHERV_WINRM_PASSWORD", password)
            .env_remove("AETHERV_LOG")
            .kill_on_drop(true)
            .output()
            .await
            .expect("aetherv runs")
    }

    fn connection<'a>(&'a self, endpoint: &'a str) -> Vec<&'a str> {
        vec![
            "--endpoint",
            endpoint,
            "--auth",
            "ntlm",
            "--username",
            self.fleet.username(),
        ]
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("aetherv exits with a code")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn winrm_run_streams_the_agent_run_by_powershell_exe() {
    let sim = Sim::start().await;
    let request = AgentRequest::new(
        Operation::InventoryCollect,
        CorrelationId::parse("cli-1").expect("a valid id"),
        Map::new(),
    )
    .expect("a valid request");
    let stdin: PathBuf = sim.dir.path().join("stdin");
    std::fs::write(
        &stdin,
        AgentBundle::builtin().stdin_for(&request.to_json_line()),
    )
    .expect("stdin is written");
    let bootstrap = Bootstrap::builtin().expect("the bootstrap fits");
    let endpoint = sim.http();
    let stdin_arg = stdin.display().to_string();
    let mut args = vec!["winrm", "run"];
    args.extend(sim.connection(&endpoint));
    args.extend(["--stdin", stdin_arg.as_str(), "--", bootstrap.command()]);
    let arguments = bootstrap.arguments();
    args.extend(arguments.iter().map(String::as_str));
    let output = sim.aetherv(&args).await;
    assert_eq!(code(&output), 0, "stderr: {}", text(&output.stderr));
    let mut parser = OutputParser::new(
        HostId::parse(sim.host.name()).expect("a host id"),
        Operation::InventoryCollect,
    );
    let events = parser
        .feed(&output.stdout)
        .expect("the stdout is agent protocol");
    let (_, result) = parser.finish(Some(0)).expect("one result line");
    assert!(!events.is_empty(), "log lines come before the result");
    let ResultLine::Ok { data } = result else {
        panic!("the agent failed: {result:?}")
    };
    assert_eq!(data["vms"].as_array().map(Vec::len), Some(5));
    sim.fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn winrm_run_passes_cmd_exe_errors_and_exit_codes_through() {
    let sim = Sim::start().await;
    let endpoint = sim.http();
    let mut args = vec!["winrm", "run"];
    args.extend(sim.connection(&endpoint));
    args.extend(["--", "ipconfig", "/all"]);
    let output = sim.aetherv(&args).await;
    assert_eq!(code(&output), 1);
    assert!(
        text(&output.stderr)
            .contains("'ipconfig' is not recognized as an internal or external command"),
        "stderr: {}",
        text(&output.stderr)
    );
    assert!(output.stdout.is_empty());
    sim.fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_and_unreachable_hosts_have_their_own_exit_codes() {
    let sim = Sim::start().await;
    let endpoint = sim.http();
    let mut args = vec!["winrm", "run"];
    args.extend(sim.connection(&endpoint));
    args.extend(["--", "hostname"]);
    let refused = sim.aetherv_with_password(&args, "wrong-password").await;
    assert_eq!(code(&refused), 77, "stderr: {}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("authentication"),
        "{}",
        text(&refused.stderr)
    );
    assert!(
        !text(&refused.stderr).contains("wrong-password"),
        "the password is never printed"
    );

    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let closed = format!("http://{}/wsman", free.local_addr().expect("an address"));
    drop(free);
    let mut args = vec!["winrm", "run"];
    args.extend(sim.connection(&closed));
    args.extend(["--", "hostname"]);
    let unreachable = sim.aetherv(&args).await;
    assert_eq!(
        code(&unreachable),
        69,
        "stderr: {}",
        text(&unreachable.stderr)
    );
    assert!(
        text(&unreachable.stderr).contains("cannot connect"),
        "{}",
        text(&unreachable.stderr)
    );

    let mut args = vec!["agent", "call"];
    args.extend(sim.connection(&endpoint));
    args.push("agent.info");
    let no_password = Command::new(AETHERV)
        .args(&args)
        .env_remove("AETHERV_WINRM_PASSWORD")
        .output()
        .await
        .expect("aetherv runs");
    assert_eq!(code(&no_password), 64);
    assert!(text(&no_password.stderr).contains("AETHERV_WINRM_PASSWORD"));
    sim.fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_call_prints_a_schema_valid_result_and_streams_logs_to_stderr() {
    let sim = Sim::start().await;
    let endpoint = sim.http();
    let mut args = vec!["agent", "call"];
    args.extend(sim.connection(&endpoint));
    args.push("inventory.collect");
    let output = sim.aetherv(&args).await;
    assert_eq!(code(&output), 0, "stderr: {}", text(&output.stderr));
    let data: Value = serde_json::from_slice(&output.stdout).expect("stdout is the result json");
    validate_result(Operation::InventoryCollect, &data).expect("the result matches its schema");
    assert_eq!(data["vms"].as_array().map(Vec::len), Some(5));
    assert!(
        text(&output.stderr).contains("[info] "),
        "stderr: {}",
        text(&output.stderr)
    );

    // Basic over HTTPS, trusting the fleet's CA, with params.
    let https = sim.host.https_endpoint().expect("https is bound");
    let ca = sim.dir.path().join("ca.pem").display().to_string();
    let vm = sim.host.vms()[0].id.to_string();
    let params = format!(r#"{{"vm_ids":["{vm}"]}}"#);
    let args = [
        "agent",
        "call",
        "--endpoint",
        &https,
        "--auth",
        "basic",
        "--username",
        sim.fleet.username(),
        "--ca-file",
        &ca,
        "inventory.collect",
        &params,
    ];
    let output = sim.aetherv(&args).await;
    assert_eq!(code(&output), 0, "stderr: {}", text(&output.stderr));
    let data: Value = serde_json::from_slice(&output.stdout).expect("stdout is the result json");
    assert_eq!(data["vms"][0]["id"], Value::String(vm));
    sim.fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_call_exits_1_with_the_agent_error_and_64_on_bad_params() {
    let sim = Sim::start().await;
    sim.host
        .fail_next(FailNext {
            count: 1,
            operation: None,
            code: AgentErrorCode::HypervUnavailable,
            message: "vmms is stopped".into(),
        })
        .expect("a valid knob");
    let endpoint = sim.http();
    let mut args = vec!["agent", "call"];
    args.extend(sim.connection(&endpoint));
    args.push("host.resources");
    let output = sim.aetherv(&args).await;
    assert_eq!(code(&output), 1, "stderr: {}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("HYPERV_UNAVAILABLE"),
        "{}",
        text(&output.stderr)
    );
    assert!(output.stdout.is_empty());

    let mut args = vec!["agent", "call"];
    args.extend(sim.connection(&endpoint));
    args.extend(["vm.power", r#"{"vm_id":"not-a-guid","action":"start"}"#]);
    let output = sim.aetherv(&args).await;
    assert_eq!(code(&output), 64);
    assert!(
        text(&output.stderr).contains("/vm_id"),
        "{}",
        text(&output.stderr)
    );
    assert!(
        sim.host
            .operations()
            .iter()
            .all(|r| r.operation.as_deref() != Some("vm.power")),
        "nothing reached the host"
    );
    sim.fleet.shutdown().await;
}
