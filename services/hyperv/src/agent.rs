//! The seam every service uses to run an agent operation on a host: the [`HostAgent`]
//! trait, its errors, and typed helpers ([`HostAgentExt`]).
//!
//! Cancellation, two ways, both of which must leave nothing running on the host:
//! - **the token** in [`CallOptions`]: the implementation stops the remote command
//!   (WinRS Signal terminate, then Delete of the shell), waits for that to finish, and
//!   returns [`Error::Cancelled`]. Use it when the caller wants to know the host is clean
//!   (job cancel).
//! - **dropping the future**: allowed at any await point (e.g. by `tokio::time::timeout`
//!   or `select!`); the implementation must then hand the clean-up to a spawned task,
//!   since a dropped future cannot await.
//!
//! The whole-call deadline is [`CallOptions::timeout`] (default: the target's
//! `timeouts.command`); when it passes, the remote command is stopped as on cancel and the
//! call returns [`Error::Timeout`].

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::agent_error::{AgentError, AgentErrorCode};
use crate::ids::{CorrelationId, HostId, VmId};
use crate::model::ResourceCatalogue;
use crate::operation::{Operation, OperationParams};
use crate::ops::agent::{AgentInfoParams, AgentInfoResult};
use crate::ops::inventory::{HostResourcesParams, InventoryCollectParams, InventoryCollectResult};
use crate::ops::vm::{VmPowerParams, VmPowerResult};
use crate::output::AgentEvent;
use crate::parser::ProtocolViolation;
use crate::request::{AgentRequest, RequestError};
use crate::target::HostTarget;
use crate::vm_state::PowerAction;

/// How one call runs.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// Deadline for the whole call; None for the target's `timeouts.command`.
    pub timeout: Option<Duration>,
    /// Cancelling it stops the remote command and ends the call with [`Error::Cancelled`].
    pub cancel: CancellationToken,
}

/// A successful operation: its result `data`, already validated against the operation's
/// result schema.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentOutcome {
    /// The result's data.
    pub data: Map<String, Value>,
}

/// What kind of transport failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// TCP connection refused, unreachable, DNS failure, or connect timeout.
    Connect,
    /// TLS handshake or certificate verification failed.
    Tls,
    /// Credentials refused (HTTP 401).
    Authentication,
    /// A WS-Management request got no answer in time.
    Timeout,
    /// A WS-Management fault; `code` is the WSManFault code (e.g. "2150858843").
    Fault {
        /// The fault code.
        code: String,
    },
    /// An unexpected HTTP status.
    Http {
        /// The status.
        status: u16,
    },
    /// A malformed WS-Management response.
    Protocol,
}

/// The WinRM layer failed; the source carries the underlying error.
#[derive(Debug, thiserror::Error)]
#[error("{}", describe(kind))]
pub struct TransportError {
    /// What kind of failure, for callers to act on.
    pub kind: TransportErrorKind,
    /// The underlying error (from `aetherv-winrm`).
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

fn describe(kind: &TransportErrorKind) -> String {
    match kind {
        TransportErrorKind::Connect => "cannot connect".to_owned(),
        TransportErrorKind::Tls => "tls failed".to_owned(),
        TransportErrorKind::Authentication => "authentication refused".to_owned(),
        TransportErrorKind::Timeout => "ws-management request timed out".to_owned(),
        TransportErrorKind::Fault { code } => format!("ws-management fault {code}"),
        TransportErrorKind::Http { status } => format!("unexpected http status {status}"),
        TransportErrorKind::Protocol => "malformed ws-management response".to_owned(),
    }
}

/// Why an agent call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request could not be built (typed helpers validate params before sending).
    #[error("invalid {operation} request for host {host}")]
    Request {
        /// The host.
        host: HostId,
        /// The operation.
        operation: Operation,
        /// What is wrong.
        #[source]
        source: RequestError,
    },
    /// The host could not be reached or WinRM failed.
    #[error("{operation} on host {host} failed in transport")]
    Transport {
        /// The host.
        host: HostId,
        /// The operation.
        operation: Operation,
        /// What failed.
        #[source]
        source: TransportError,
    },
    /// The agent's output broke the protocol (the violation names host and operation).
    #[error(transparent)]
    Protocol(#[from] ProtocolViolation),
    /// The agent reported a failure.
    #[error("{operation} on host {host} failed: {error}")]
    Agent {
        /// The host.
        host: HostId,
        /// The operation.
        operation: Operation,
        /// The agent's error.
        error: AgentError,
    },
    /// The call's deadline passed; the remote command was stopped.
    #[error("{operation} on host {host} did not finish within {timeout:?}")]
    Timeout {
        /// The host.
        host: HostId,
        /// The operation.
        operation: Operation,
        /// The deadline that passed.
        timeout: Duration,
    },
    /// The call was cancelled through its token; the remote command was stopped.
    #[error("{operation} on host {host} was cancelled")]
    Cancelled {
        /// The host.
        host: HostId,
        /// The operation.
        operation: Operation,
    },
    /// The result data did not map to the operation's result type although it matched
    /// the schema (types and schemas disagree: a defect here).
    #[error("{operation} result from host {host} does not map to its type")]
    ResultType {
        /// The host.
        host: HostId,
        /// The operation.
        operation: Operation,
        /// The mapping error.
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// The agent's error code, when the agent reported the failure.
    pub fn agent_code(&self) -> Option<AgentErrorCode> {
        match self {
            Error::Agent { error, .. } => Some(error.code()),
            _ => None,
        }
    }
}

/// Runs agent operations on hosts. The one implementation for real hosts lives next to
/// this trait and uses `aetherv-winrm`; `aetherv-hvsim` hosts are reached the same way.
///
/// Contract for implementations:
/// - send [`crate::AgentBundle::stdin_for`] the request line (the request, then the packed bundle);
/// - feed stdout to an [`crate::OutputParser`] as it arrives, forwarding each event to
///   `events` in order (a closed receiver is not an error: keep going without events);
/// - return the ok result's data as [`AgentOutcome`], an ok:false result as
///   [`Error::Agent`], a violation as [`Error::Protocol`];
/// - honour cancellation and the deadline as the module documentation says.
pub trait HostAgent: Send + Sync {
    /// Runs one operation on one host.
    fn call<'a>(
        &'a self,
        host: &'a HostTarget,
        request: AgentRequest,
        options: CallOptions,
        events: mpsc::Sender<AgentEvent>,
    ) -> BoxFuture<'a, Result<AgentOutcome, Error>>;
}

/// Typed helpers over [`HostAgent::call`]; each builds a validated request with a fresh
/// correlation id and maps the result to its type.
pub trait HostAgentExt: HostAgent {
    /// Runs typed params under a fresh random correlation id; the result data mapped to
    /// the operation's result type.
    fn run<'a, P: OperationParams>(
        &'a self,
        host: &'a HostTarget,
        params: &P,
        options: CallOptions,
        events: mpsc::Sender<AgentEvent>,
    ) -> BoxFuture<'a, Result<P::Result, Error>> {
        self.run_correlated(host, CorrelationId::random(), params, options, events)
    }

    /// Runs typed params under the caller's correlation id (a job or task id).
    fn run_correlated<'a, P: OperationParams>(
        &'a self,
        host: &'a HostTarget,
        correlation_id: CorrelationId,
        params: &P,
        options: CallOptions,
        events: mpsc::Sender<AgentEvent>,
    ) -> BoxFuture<'a, Result<P::Result, Error>> {
        let request = AgentRequest::from_params(correlation_id, params);
        Box::pin(async move {
            let request = request.map_err(|source| Error::Request {
                host: host.id().clone(),
                operation: P::OPERATION,
                source,
            })?;
            let outcome = self.call(host, request, options, events).await?;
            serde_json::from_value(Value::Object(outcome.data)).map_err(|source| {
                Error::ResultType {
                    host: host.id().clone(),
                    operation: P::OPERATION,
                    source,
                }
            })
        })
    }

    /// `agent.info`, without events.
    fn agent_info<'a>(
        &'a self,
        host: &'a HostTarget,
        options: CallOptions,
    ) -> BoxFuture<'a, Result<AgentInfoResult, Error>> {
        self.run(host, &AgentInfoParams {}, options, no_events())
    }

    /// `inventory.collect` of the whole host, without events.
    fn collect_inventory<'a>(
        &'a self,
        host: &'a HostTarget,
        options: CallOptions,
    ) -> BoxFuture<'a, Result<InventoryCollectResult, Error>> {
        self.run(
            host,
            &InventoryCollectParams::default(),
            options,
            no_events(),
        )
    }

    /// `host.resources`, without events.
    fn host_resources<'a>(
        &'a self,
        host: &'a HostTarget,
        options: CallOptions,
    ) -> BoxFuture<'a, Result<ResourceCatalogue, Error>> {
        self.run(host, &HostResourcesParams {}, options, no_events())
    }

    /// `vm.power` with the agent's defaults for shutdown, without events.
    fn power<'a>(
        &'a self,
        host: &'a HostTarget,
        vm: VmId,
        action: PowerAction,
        options: CallOptions,
    ) -> BoxFuture<'a, Result<VmPowerResult, Error>> {
        self.run(host, &VmPowerParams::new(vm, action), options, no_events())
    }
}

impl<T: HostAgent + ?Sized> HostAgentExt for T {}

/// A sender whose receiver is gone: events are discarded.
fn no_events() -> mpsc::Sender<AgentEvent> {
    mpsc::channel(1).0
}
