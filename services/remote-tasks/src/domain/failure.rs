//! How an agent call's failure ([`aetherv_hyperv::Error`]) is reported to callers: one
//! service-level code and one agent code per failure, a message naming host and operation.
//!
//! | failure | code | agent_code |
//! |---|---|---|
//! | the agent answered ok:false | by agent code (below) | the agent's code |
//! | cannot connect, TLS, authentication refused, HTTP or WS-Man fault | UNAVAILABLE | `TRANSPORT` |
//! | a WS-Management request got no answer in time (unresponsive host) | DEADLINE_EXCEEDED | `TIMEOUT` |
//! | the run timeout passed (the command was stopped on the host) | DEADLINE_EXCEEDED | `TIMEOUT` |
//! | cancelled (the command was stopped on the host) | CANCELLED | `CANCELLED` |
//! | the output broke the agent protocol | INTERNAL | `PROTOCOL` |
//!
//! Agent codes: `INVALID_REQUEST` → INVALID_ARGUMENT; `VM_NOT_FOUND`, `NOT_FOUND` →
//! NOT_FOUND; `ALREADY_EXISTS` → ALREADY_EXISTS; `INVALID_STATE`, `INSUFFICIENT_RESOURCES`,
//! `UNSUPPORTED_PROTOCOL`, `UNSUPPORTED_OPERATION` → FAILED_PRECONDITION (the host must
//! change first: its state, its free space, its agent version); `HYPERV_UNAVAILABLE` →
//! UNAVAILABLE; `TIMEOUT` → DEADLINE_EXCEEDED; `CANCELLED` → CANCELLED; `AGENT_INTEGRITY`,
//! `OPERATION_FAILED`, `INTERNAL` → INTERNAL.

use aetherv_hyperv::{AgentErrorCode, Error, TransportErrorKind};
use aetherv_runtime::{ErrorCode, display_chain};

use super::task::TaskFailure;

/// The agent-code text of failures on the way to the host.
pub const TRANSPORT: &str = "TRANSPORT";
/// The output broke the protocol.
pub const PROTOCOL: &str = "PROTOCOL";
/// A deadline passed.
pub const TIMEOUT: &str = "TIMEOUT";
/// Cancelled by the caller.
pub const CANCELLED: &str = "CANCELLED";

/// The service code of an agent error code.
pub fn code_of_agent(code: AgentErrorCode) -> ErrorCode {
    match code {
        AgentErrorCode::InvalidRequest => ErrorCode::InvalidArgument,
        AgentErrorCode::VmNotFound | AgentErrorCode::NotFound => ErrorCode::NotFound,
        AgentErrorCode::AlreadyExists => ErrorCode::AlreadyExists,
        AgentErrorCode::InvalidState
        | AgentErrorCode::InsufficientResources
        | AgentErrorCode::UnsupportedProtocol
        | AgentErrorCode::UnsupportedOperation => ErrorCode::FailedPrecondition,
        AgentErrorCode::HypervUnavailable => ErrorCode::Unavailable,
        AgentErrorCode::Timeout => ErrorCode::DeadlineExceeded,
        AgentErrorCode::Cancelled => ErrorCode::Cancelled,
        AgentErrorCode::AgentIntegrity
        | AgentErrorCode::OperationFailed
        | AgentErrorCode::Internal => ErrorCode::Internal,
    }
}

/// The failure of a call, and the remote exit code when the command ran to its end.
pub fn classify(error: &Error) -> (TaskFailure, Option<i32>) {
    let message = display_chain(error);
    match error {
        Error::Agent { error: agent, .. } => {
            let details = agent.details.to_value();
            let details = match &details {
                serde_json::Value::Object(map) if map.is_empty() => None,
                _ => Some(details),
            };
            let failure = TaskFailure {
                code: code_of_agent(agent.code()),
                agent_code: agent.code().as_str().to_string(),
                message,
                details,
            };
            // The protocol says a failed result exits with a non-zero code; the parser has
            // checked the exit code agreed, and the agent writes 1.
            (failure, Some(1))
        }
        Error::Transport { source, .. } => {
            let (code, agent_code) = match source.kind {
                TransportErrorKind::Timeout => (ErrorCode::DeadlineExceeded, TIMEOUT),
                _ => (ErrorCode::Unavailable, TRANSPORT),
            };
            (TaskFailure::local(code, agent_code, message), None)
        }
        Error::Timeout { .. } => (
            TaskFailure::local(ErrorCode::DeadlineExceeded, TIMEOUT, message),
            None,
        ),
        Error::Cancelled { .. } => (
            TaskFailure::local(ErrorCode::Cancelled, CANCELLED, message),
            None,
        ),
        Error::Protocol(_) | Error::Request { .. } | Error::ResultType { .. } => (
            TaskFailure::local(ErrorCode::Internal, PROTOCOL, message),
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_agent_code_has_a_service_code() {
        for code in AgentErrorCode::ALL {
            let mapped = code_of_agent(code);
            assert_ne!(mapped, ErrorCode::ResourceExhausted, "{code}");
        }
        assert_eq!(
            code_of_agent(AgentErrorCode::VmNotFound),
            ErrorCode::NotFound
        );
        assert_eq!(
            code_of_agent(AgentErrorCode::InvalidState),
            ErrorCode::FailedPrecondition
        );
    }
}
