//! Shared helpers of the simulator's integration tests: the product's bootstrap and
//! bundle, a driver that runs one command through a host's `CommandHandler` directly, a
//! runner over real WinRM with `aetherv-winrm`'s client, and the Python venv.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aetherv_hvsim::agent::AgentHandler;
use aetherv_hvsim::{SimFleet, SimHost};
use aetherv_hyperv::{
    AgentBundle, AgentEvent, Bootstrap, HostId, Operation, OutputParser, ProtocolViolation,
    ResultLine, validate_output_line, validate_result,
};
use aetherv_winrm::client::{
    AuthMethod, Client, ClientConfig, CommandSpec, OutputChunk, OutputStream,
};
use aetherv_winrm::server::{CommandHandler, CommandRequest, ProcessIo, ShellInfo};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A fleet for tests: fast clock, free ports.
pub async fn fleet(hosts: u32, vms: u32, clusters: u32) -> SimFleet {
    match SimFleet::builder()
        .hosts(hosts)
        .vms_per_host(vms)
        .clusters(clusters)
        .seed(11)
        .time_scale(0.001)
        .start()
        .await
    {
        Ok(f) => f,
        Err(e) => panic!("fleet did not start: {e}"),
    }
}

/// The product's bootstrap (`aetherv-hyperv`).
pub fn bootstrap() -> &'static Bootstrap {
    match Bootstrap::builtin() {
        Ok(b) => b,
        Err(e) => panic!("the built-in bootstrap: {e}"),
    }
}

/// stdin for a request line: the line, LF, the product's agent bundle.
pub fn stdin_for(line: &str) -> Vec<u8> {
    AgentBundle::builtin().stdin_for(line)
}

/// A request line.
pub fn request_line(operation: &str, params: Value) -> String {
    serde_json::json!({
        "protocol": 1,
        "operation": operation,
        "correlation_id": "test-1",
        "params": params,
    })
    .to_string()
}

/// What one command printed and returned.
#[derive(Debug, Clone)]
pub struct Ran {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit: Option<i32>,
}

impl Ran {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Runs one command through the host's handler, without the network. `cancel_after`
/// fires the command's cancel token (WinRS ctrl_c) after that real time.
pub async fn run_handler(
    host: &SimHost,
    command: &str,
    arguments: Vec<String>,
    stdin: Option<Vec<u8>>,
    cancel_after: Option<Duration>,
) -> Ran {
    let handler = AgentHandler::new(host.clone());
    let (stdin_tx, stdin_rx) = mpsc::channel(16);
    let (out_tx, mut out_rx) = mpsc::channel(16);
    let (err_tx, mut err_rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let request = CommandRequest {
        shell: Arc::new(ShellInfo {
            shell_id: "TEST-SHELL".into(),
            user: "tester".into(),
            client: SocketAddr::from(([127, 0, 0, 1], 1)),
            codepage: Some(65001),
            no_profile: true,
            environment: Vec::new(),
            working_directory: None,
        }),
        command_id: "TEST-COMMAND".into(),
        command: command.into(),
        arguments,
        skip_cmd_shell: false,
        console_mode_stdin: Some(false),
        machine: host.computer_name().into(),
    };
    let io = ProcessIo {
        stdin: stdin_rx,
        stdout: out_tx,
        stderr: err_tx,
        cancel: cancel.clone(),
    };
    let process = match handler.start(request, io) {
        Ok(p) => p,
        Err(f) => panic!("the handler refused the command: {f}"),
    };
    let feeder = tokio::spawn(async move {
        if let Some(data) = stdin {
            for chunk in data.chunks(16 * 1024) {
                if stdin_tx.send(Bytes::copy_from_slice(chunk)).await.is_err() {
                    return;
                }
            }
        }
    });
    if let Some(after) = cancel_after {
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            cancel.cancel();
        });
    }
    let exit = tokio::spawn(process);
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        tokio::select! {
            c = out_rx.recv(), if out_open => match c { Some(b) => stdout.extend_from_slice(&b), None => out_open = false },
            c = err_rx.recv(), if err_open => match c { Some(b) => stderr.extend_from_slice(&b), None => err_open = false },
        }
    }
    let _ = feeder.await;
    Ran {
        stdout,
        stderr,
        exit: exit.await.ok(),
    }
}

/// Runs an agent request line through the handler with the product's bootstrap and bundle.
pub async fn agent_line(host: &SimHost, line: &str, cancel_after: Option<Duration>) -> Ran {
    let b = bootstrap();
    run_handler(
        host,
        b.command(),
        b.arguments(),
        Some(stdin_for(line)),
        cancel_after,
    )
    .await
}

/// The parsed and checked answer of one agent call.
#[derive(Debug)]
pub struct Answer {
    pub events: Vec<AgentEvent>,
    pub result: ResultLine,
    pub exit: i32,
}

impl Answer {
    /// The ok data, or a panic with the error.
    pub fn data(&self) -> &serde_json::Map<String, Value> {
        match &self.result {
            ResultLine::Ok { data } => data,
            ResultLine::Error { error } => panic!("expected ok, got {error}"),
        }
    }

    /// The error code, or a panic.
    pub fn code(&self) -> &'static str {
        match &self.result {
            ResultLine::Error { error } => error.code().as_str(),
            ResultLine::Ok { data } => panic!("expected an error, got {data:?}"),
        }
    }
}

/// Checks every stdout line against the output-line schema and an ok result's data
/// against its result schema, then parses with the product's parser (which checks the
/// exit code against the result).
pub fn check(operation: Operation, ran: &Ran) -> Result<Answer, ProtocolViolation> {
    let text = ran.stdout_text();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let value: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => panic!("not json ({e}): {line}"),
        };
        if let Err(e) = validate_output_line(&value) {
            panic!("line fails output-line.schema.json: {e}\n{line}");
        }
        if value["type"] == "result"
            && value["ok"] == true
            && let Err(e) = validate_result(operation, &value["data"])
        {
            panic!("{operation} result fails its schema: {e}\n{line}");
        }
    }
    let host = match HostId::parse("sim.test") {
        Ok(h) => h,
        Err(e) => panic!("{e}"),
    };
    let mut parser = OutputParser::new(host, operation);
    let mut events = parser.feed(&ran.stdout)?;
    let (last, result) = parser.finish(ran.exit)?;
    events.extend(last);
    Ok(Answer {
        events,
        result,
        exit: ran.exit.unwrap_or(-1),
    })
}

/// One agent call through the handler, checked; panics on a protocol violation.
pub async fn call(host: &SimHost, operation: &str, params: Value) -> Answer {
    call_line(host, operation, &request_line(operation, params)).await
}

/// One raw request line through the handler, checked.
pub async fn call_line(host: &SimHost, operation: &str, line: &str) -> Answer {
    let op = Operation::from_wire(operation).unwrap_or(Operation::Noop);
    let ran = agent_line(host, line, None).await;
    match check(op, &ran) {
        Ok(a) => a,
        Err(v) => panic!("{operation}: {v}\nstderr: {}", ran.stderr_text()),
    }
}

/// A client of `aetherv-winrm` for a host endpoint.
pub fn client(
    endpoint: &str,
    auth: AuthMethod,
    fleet: &SimFleet,
    ca_file: Option<PathBuf>,
) -> Client {
    let mut config = ClientConfig::new(endpoint, auth, fleet.username(), fleet.password());
    config.ca_file = ca_file;
    config.connect_timeout = Duration::from_secs(5);
    config.operation_timeout = Duration::from_secs(5);
    match Client::new(config) {
        Ok(c) => c,
        Err(e) => panic!("client config: {e}"),
    }
}

/// Runs a command over real WinRM; the error when the client fails.
pub async fn run_winrm(
    client: &Client,
    command: &str,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    deadline: Option<Duration>,
) -> Result<Ran, aetherv_winrm::Error> {
    let mut spec = CommandSpec::new(command, args);
    spec.stdin = stdin.map(Bytes::from);
    spec.deadline = deadline;
    let (tx, mut rx) = mpsc::channel::<OutputChunk>(64);
    let collector = tokio::spawn(async move {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        while let Some(c) = rx.recv().await {
            match c.stream {
                OutputStream::Stdout => out.extend_from_slice(&c.data),
                OutputStream::Stderr => err.extend_from_slice(&c.data),
            }
        }
        (out, err)
    });
    let exit = client.run(spec, tx).await;
    let (stdout, stderr) = collector.await.unwrap_or_default();
    Ok(Ran {
        stdout,
        stderr,
        exit: Some(exit?),
    })
}

/// An agent call over real WinRM with the product's bootstrap.
pub async fn agent_winrm(client: &Client, line: &str) -> Result<Ran, aetherv_winrm::Error> {
    let b = bootstrap();
    run_winrm(
        client,
        b.command(),
        b.arguments(),
        Some(stdin_for(line)),
        Some(Duration::from_secs(60)),
    )
    .await
}

/// The Python interpreter of the test venv (`AETHERV_TEST_VENV` or `<workspace>/.venv`).
pub fn python() -> PathBuf {
    let venv = std::env::var_os("AETHERV_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    let python = venv.join("bin/python");
    assert!(
        python.is_file(),
        "the Python peers are missing: no {} — run ./scripts/test to create the venv",
        python.display()
    );
    python
}

/// One request to the simulator's control API: the status and the JSON body (null when
/// empty).
pub async fn http(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    let client = HttpClient::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = http::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from(body)))
        .unwrap_or_else(|e| panic!("{e}"));
    let response = client
        .request(request)
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .to_bytes();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}: {bytes:?}"))
    };
    (status, value)
}
