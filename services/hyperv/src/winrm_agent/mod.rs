//! The WinRM implementation of [`HostAgent`]: how every agent operation reaches a real (or
//! simulated) Hyper-V host.
//!
//! - **Connections**: one `aetherv-winrm` [`Client`] per host, cached and rebuilt only
//!   when the host's settings change, so its authenticated keep-alive connections (and
//!   their NTLM contexts) serve every call to that host. [`WinrmAgentOptions`] can turn
//!   reuse off (a fresh client, hence fresh connections, per call; the benchmark compares
//!   both).
//! - **Shells**: one WinRS shell per operation, opened with `WINRS_CODEPAGE=65001` and
//!   `WINRS_NOPROFILE=TRUE` and deleted when the operation ends. A shell costs two small
//!   round trips on an open connection; in exchange a cancel or a deadline deletes exactly
//!   one operation's process tree, and no state can leak between operations.
//! - **Command**: `powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy
//!   Bypass -EncodedCommand <bootstrap>` with `WINRS_CONSOLEMODE_STDIN=FALSE`; stdin is
//!   the request line and the agent bundle (ARCHITECTURE.md, "Agent protocol").
//! - **Output**: stdout goes to an [`OutputParser`] as it arrives, so `log` and `progress`
//!   events reach the caller while the operation runs; stderr (CLIXML) is decoded and sent
//!   as one [`AgentEvent::Stderr`] at the end. The exit code must agree with the result.
//! - **Ending**: on the deadline, on cancel, or when the output breaks the protocol, the
//!   command gets Signal terminate and its shell is deleted before the call returns; if
//!   the call's future is dropped, a spawned task does the same.

mod clients;
mod clixml;
mod remote;

use std::sync::Arc;

use aetherv_winrm::{Client, CommandSpec, OutputChunk, OutputStream};
use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::debug;

pub use clients::{client_config, transport_error, transport_kind};
pub use clixml::stderr_text;
pub use remote::{RunOutcome, run_command};

use crate::agent::{AgentOutcome, CallOptions, Error, HostAgent};
use crate::bootstrap::{Bootstrap, BootstrapError};
use crate::bundle::AgentBundle;
use crate::ids::HostId;
use crate::output::{AgentEvent, ResultLine};
use crate::parser::{OutputParser, ProtocolViolation};
use crate::request::AgentRequest;
use crate::target::HostTarget;

/// How the WinRM agent uses connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WinrmAgentOptions {
    /// Keep one client (with its authenticated connections) per host across calls.
    pub reuse_connections: bool,
    /// Authenticated connections per host: how many calls to one host run at once (a
    /// call holds one connection at a time, its Receive long poll up to the
    /// OperationTimeout); further calls wait for a connection.
    pub max_connections_per_host: usize,
}

impl Default for WinrmAgentOptions {
    fn default() -> Self {
        Self {
            reuse_connections: true,
            max_connections_per_host: 16,
        }
    }
}

/// Runs agent operations over WinRM. Cheap to share (`Arc`); one per process is enough.
pub struct WinrmHostAgent {
    options: WinrmAgentOptions,
    clients: clients::ClientCache,
    bootstrap: Bootstrap,
    bundle: Arc<AgentBundle>,
    /// The command of every call, built once: its bootstrap argument (~3 KB) is not
    /// copied per call, nor held by each running call (a watch runs for minutes).
    spec: CommandSpec,
}

impl std::fmt::Debug for WinrmHostAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WinrmHostAgent")
            .field("options", &self.options)
            .field("bundle_sha256", &self.bundle.sha256())
            .finish()
    }
}

impl WinrmHostAgent {
    /// An agent with the built-in bundle and default options.
    pub fn new() -> Result<Self, BootstrapError> {
        Self::with_options(WinrmAgentOptions::default())
    }

    /// An agent with the built-in bundle.
    pub fn with_options(options: WinrmAgentOptions) -> Result<Self, BootstrapError> {
        let bundle = AgentBundle::builtin().clone();
        let bootstrap = Bootstrap::for_bundle(&bundle)?;
        Ok(Self::from_parts(bootstrap, bundle, options))
    }

    /// An agent sending `bundle` under `bootstrap`. The bootstrap must pin the bundle's
    /// hash ([`Bootstrap::for_bundle`]); when it does not, every call is refused by the
    /// host with `AGENT_INTEGRITY` (which is how that check is tested).
    pub fn from_parts(
        bootstrap: Bootstrap,
        bundle: AgentBundle,
        options: WinrmAgentOptions,
    ) -> Self {
        let spec = CommandSpec::new(bootstrap.command(), bootstrap.arguments());
        Self {
            options,
            clients: clients::ClientCache::default(),
            bootstrap,
            bundle: Arc::new(bundle),
            spec,
        }
    }

    /// The bundle sent with every call.
    pub fn bundle(&self) -> &AgentBundle {
        &self.bundle
    }

    /// The bootstrap passed with every call.
    pub fn bootstrap(&self) -> &Bootstrap {
        &self.bootstrap
    }

    /// Drops the cached client of a host (e.g. when it leaves the configuration).
    pub fn forget_host(&self, host: &HostId) {
        self.clients.forget(host);
    }

    /// How many hosts have a cached client.
    pub fn cached_hosts(&self) -> usize {
        self.clients.len()
    }

    /// The WinRS command of every call.
    pub fn command_spec(&self) -> CommandSpec {
        self.spec.clone()
    }

    fn client(&self, host: &HostTarget) -> Result<Client, aetherv_winrm::Error> {
        let connections = self.options.max_connections_per_host;
        if self.options.reuse_connections {
            self.clients.get(host, connections)
        } else {
            Client::new(client_config(host, connections))
        }
    }

    async fn run(
        &self,
        host: &HostTarget,
        request: AgentRequest,
        options: CallOptions,
        events: mpsc::Sender<AgentEvent>,
    ) -> Result<AgentOutcome, Error> {
        let operation = request.operation();
        let transport = |error| Error::Transport {
            host: host.id().clone(),
            operation,
            source: transport_error(error),
        };
        let client = self.client(host).map_err(transport)?;
        let timeout = options.timeout.unwrap_or(host.timeouts().command);
        let started = Instant::now();
        let stdin = Bytes::from(self.bundle.stdin_for(&request.to_json_line()));
        let stop = options.cancel.child_token();
        let (sink, output) = mpsc::channel(64);
        debug!(host = %host.id(), %operation, correlation_id = %request.correlation_id(), "agent call");
        let run = run_command(
            &client,
            &self.spec,
            Some(stdin),
            sink,
            &stop,
            Some(started + timeout),
        );
        let parser = OutputParser::new(host.id().clone(), operation);
        let (outcome, consumed) = tokio::join!(run, consume(output, parser, &events, &stop));
        let stderr = stderr_text(&consumed.stderr);
        if !stderr.is_empty() {
            debug!(host = %host.id(), %operation, %stderr, "agent stderr");
            let _ = events.send(AgentEvent::Stderr(stderr)).await;
        }
        debug!(host = %host.id(), %operation, elapsed_ms = started.elapsed().as_millis() as u64, "agent call ended");
        let parser = consumed.parser.map_err(Error::Protocol)?;
        match outcome.map_err(transport)? {
            RunOutcome::TimedOut => Err(Error::Timeout {
                host: host.id().clone(),
                operation,
                timeout,
            }),
            RunOutcome::Cancelled => Err(Error::Cancelled {
                host: host.id().clone(),
                operation,
            }),
            RunOutcome::Exited(code) => {
                let (last, result) = parser.finish(Some(code))?;
                for event in last {
                    let _ = events.send(event).await;
                }
                match result {
                    ResultLine::Ok { data } => Ok(AgentOutcome { data }),
                    ResultLine::Error { error } => Err(Error::Agent {
                        host: host.id().clone(),
                        operation,
                        error,
                    }),
                }
            }
        }
    }
}

impl HostAgent for WinrmHostAgent {
    fn call<'a>(
        &'a self,
        host: &'a HostTarget,
        request: AgentRequest,
        options: CallOptions,
        events: mpsc::Sender<AgentEvent>,
    ) -> BoxFuture<'a, Result<AgentOutcome, Error>> {
        Box::pin(self.run(host, request, options, events))
    }
}

/// What the output consumer ends with.
struct Consumed {
    parser: Result<OutputParser, ProtocolViolation>,
    stderr: Vec<u8>,
}

/// Feeds stdout to the parser and forwards its events as they complete; keeps stderr.
/// A protocol violation stops the command (`stop`) and the rest of the output is drained.
async fn consume(
    mut output: mpsc::Receiver<OutputChunk>,
    mut parser: OutputParser,
    events: &mpsc::Sender<AgentEvent>,
    stop: &CancellationToken,
) -> Consumed {
    let mut stderr = Vec::new();
    let mut violation = None;
    while let Some(chunk) = output.recv().await {
        match chunk.stream {
            OutputStream::Stderr => stderr.extend_from_slice(&chunk.data),
            OutputStream::Stdout if violation.is_none() => match parser.feed(&chunk.data) {
                Ok(parsed) => {
                    for event in parsed {
                        // A closed receiver is not an error: the call goes on without events.
                        let _ = events.send(event).await;
                    }
                }
                Err(broken) => {
                    violation = Some(broken);
                    stop.cancel();
                }
            },
            OutputStream::Stdout => {}
        }
    }
    Consumed {
        parser: match violation {
            Some(broken) => Err(broken),
            None => Ok(parser),
        },
        stderr,
    }
}
