//! `aetherv agent call`: runs one host agent operation through the same WinRM agent the
//! services use, shows its log and progress lines on stderr as they arrive and prints the
//! result's data as JSON on stdout.

use std::io::{Read as _, Write as _};

use aetherv_hyperv::{
    AgentEvent, AgentRequest, CallOptions, CorrelationId, Error as AgentError, HostAgent, LogLevel,
    Operation, WinrmHostAgent,
};
use clap::{Args, Subcommand};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::connection::{ConnectionArgs, seconds};
use crate::exit::{self, Failure, chain};

/// `aetherv agent ...`
#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Run one agent operation on a host and print its result as JSON.
    #[command(after_help = exit::HELP)]
    Call(CallArgs),
}

/// `aetherv agent call`
#[derive(Debug, Args)]
pub struct CallArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// The host's name as the control plane knows it (default: the endpoint's host).
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Terminate the operation on the host and give up after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0)]
    pub timeout: f64,
    /// The correlation id to send (default: a random one).
    #[arg(long, value_name = "ID")]
    pub correlation_id: Option<String>,
    /// The operation, e.g. agent.info, inventory.collect, vm.power.
    #[arg(value_name = "OPERATION")]
    pub operation: String,
    /// The params as a JSON object; `-` reads them from stdin. Default: {}.
    #[arg(value_name = "JSON")]
    pub params: Option<String>,
}

fn read_params(text: Option<&str>) -> Result<Map<String, Value>, Failure> {
    let text = match text {
        None => "{}".to_owned(),
        Some("-") => {
            let mut buffer = String::new();
            std::io::stdin()
                .read_to_string(&mut buffer)
                .map_err(|e| Failure::usage(format!("cannot read the params from stdin: {e}")))?;
            buffer
        }
        Some(text) => text.to_owned(),
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Failure::usage("the params must be a JSON object")),
        Err(e) => Err(Failure::usage(format!(
            "the params are not JSON (line {} column {})",
            e.line(),
            e.column()
        ))),
    }
}

fn build_request(args: &CallArgs) -> Result<AgentRequest, Failure> {
    let operation = Operation::from_wire(&args.operation).ok_or_else(|| {
        let known: Vec<&str> = Operation::ALL.iter().map(|o| o.as_str()).collect();
        Failure::usage(format!(
            "unknown operation {:?}; one of: {}",
            args.operation,
            known.join(", ")
        ))
    })?;
    let correlation_id = match &args.correlation_id {
        Some(id) => CorrelationId::parse(id)
            .map_err(|e| Failure::usage(format!("--correlation-id: {e}")))?,
        None => CorrelationId::random(),
    };
    let params = read_params(args.params.as_deref())?;
    AgentRequest::new(operation, correlation_id, params)
        .map_err(|e| Failure::usage(format!("invalid {operation} params: {}", chain(&e))))
}

/// An `inventory.watch` event line as the agent wrote it.
fn event_json(event: &aetherv_hyperv::EventLine) -> String {
    aetherv_hyperv::OutputLine::Event(event.clone()).to_json()
}

fn show(event: &AgentEvent) {
    let line = match event {
        AgentEvent::Log(log) => {
            let level = match log.level {
                LogLevel::Info => "info",
                LogLevel::Warning => "warning",
                LogLevel::Error => "error",
            };
            format!("[{level}] {}", log.message)
        }
        AgentEvent::Progress(progress) => match &progress.message {
            Some(message) => format!("[{:>3}%] {}: {message}", progress.percent, progress.step),
            None => format!("[{:>3}%] {}", progress.percent, progress.step),
        },
        AgentEvent::Change(event) => format!("[event] {}", event_json(event)),
        AgentEvent::Stderr(text) => format!("[stderr] {text}"),
    };
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{line}");
    let _ = stderr.flush();
}

/// Runs the subcommand; returns the exit code.
pub async fn call(args: CallArgs, interrupt: CancellationToken) -> Result<u8, Failure> {
    let timeout = seconds("timeout", args.timeout)?;
    let request = build_request(&args)?;
    let target = args.connection.host_target(args.host.as_deref(), timeout)?;
    let agent = WinrmHostAgent::new()
        .map_err(|e| Failure::usage(format!("the built-in agent bootstrap is unusable: {e}")))?;
    let (events, mut received) = mpsc::channel(64);
    let printer = tokio::spawn(async move {
        while let Some(event) = received.recv().await {
            show(&event);
        }
    });
    let options = CallOptions {
        timeout: Some(timeout),
        cancel: interrupt,
    };
    let outcome = agent.call(&target, request, options, events).await;
    // Every event is printed before the result.
    let _ = printer.await;
    match outcome {
        Ok(outcome) => {
            let text = serde_json::to_string_pretty(&Value::Object(outcome.data))
                .map_err(|e| Failure::usage(format!("cannot print the result: {e}")))?;
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{text}");
            let _ = stdout.flush();
            Ok(0)
        }
        Err(AgentError::Agent { error, .. }) => {
            eprintln!(
                "aetherv: the agent answered {}: {}",
                error.code(),
                error.message
            );
            eprintln!("details: {}", error.details.to_value());
            Ok(exit::AGENT_ERROR)
        }
        Err(error) => Err(Failure::agent(&error)),
    }
}
