//! Exit codes: one per thing an operator or a script can act on, and the one place that
//! turns an error into a code and a printed message (the whole cause chain, no secrets).

use std::error::Error as StdError;
use std::fmt;

use aetherv_hyperv::{Error as AgentError, TransportErrorKind};
use aetherv_winrm::Error as WinrmError;
use aetherv_winrm::client::TimeoutKind;

/// `agent call`: the agent reported an error (its code and message are on stderr).
pub const AGENT_ERROR: u8 = 1;
/// Bad flags or input: missing password, invalid endpoint, params or operation.
pub const USAGE: u8 = 64;
/// The host could not be reached: refused, unreachable, name not resolved, connect
/// timeout, or the TLS handshake failed.
pub const CONNECT: u8 = 69;
/// The command did not finish within --timeout (it was terminated on the host), or the
/// host stopped answering.
pub const TIMEOUT: u8 = 75;
/// The host answered outside the protocol: a WS-Management fault, an unexpected HTTP
/// status, a malformed response, or agent output that breaks the agent protocol.
pub const PROTOCOL: u8 = 76;
/// The host refused the credentials.
pub const AUTHENTICATION: u8 = 77;
/// Interrupted with Ctrl+C (the remote command was terminated first).
pub const INTERRUPTED: u8 = 130;

/// The `--help` text that documents the codes.
pub const HELP: &str = "\
Exit codes:
    0    success
    1    winrm run: the remote command's exit code is passed through (0-255; any other
         remote code exits 1); agent call: the agent reported an error
   64    usage: bad flags or input, or AETHERV_WINRM_PASSWORD not set
   69    cannot connect: refused, unreachable, unresolved, connect timeout, tls failure
   75    timed out: --timeout passed (the remote command was terminated) or no answer
   76    protocol error: ws-management fault, unexpected http status, malformed answer,
         or agent output that breaks the agent protocol
   77    authentication refused
  130    interrupted (ctrl+c); the remote command was terminated

The password is read from the environment variable AETHERV_WINRM_PASSWORD, never
from a flag.";

/// Why the command failed, with its exit code.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// What to print after `aetherv: `.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Failure {
    /// A usage error.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: USAGE,
            message: message.into(),
        }
    }

    /// A WinRM error.
    pub fn winrm(error: &WinrmError) -> Failure {
        Failure {
            code: winrm_code(error),
            message: chain(error),
        }
    }

    /// An agent call error (other than an error the agent reported).
    pub fn agent(error: &AgentError) -> Failure {
        let code = match error {
            AgentError::Request { .. } => USAGE,
            AgentError::Transport { source, .. } => transport_code(&source.kind),
            AgentError::Protocol(_) | AgentError::ResultType { .. } => PROTOCOL,
            AgentError::Agent { .. } => AGENT_ERROR,
            AgentError::Timeout { .. } => TIMEOUT,
            AgentError::Cancelled { .. } => INTERRUPTED,
        };
        Failure {
            code,
            message: chain(error),
        }
    }
}

/// The exit code of a WinRM error.
pub fn winrm_code(error: &WinrmError) -> u8 {
    match error {
        WinrmError::Config { .. } | WinrmError::CommandLineTooLong { .. } => USAGE,
        WinrmError::Connect { .. }
        | WinrmError::Tls { .. }
        | WinrmError::Timeout {
            kind: TimeoutKind::Connect,
            ..
        } => CONNECT,
        WinrmError::Authentication { .. } => AUTHENTICATION,
        WinrmError::Timeout { .. } => TIMEOUT,
        WinrmError::Fault(_) | WinrmError::Protocol { .. } | WinrmError::Http { .. } => PROTOCOL,
        WinrmError::Cancelled => INTERRUPTED,
    }
}

/// The exit code of a transport failure of an agent call.
pub fn transport_code(kind: &TransportErrorKind) -> u8 {
    match kind {
        TransportErrorKind::Connect | TransportErrorKind::Tls => CONNECT,
        TransportErrorKind::Authentication => AUTHENTICATION,
        TransportErrorKind::Timeout => TIMEOUT,
        TransportErrorKind::Fault { .. }
        | TransportErrorKind::Http { .. }
        | TransportErrorKind::Protocol => PROTOCOL,
    }
}

/// An error and its causes, joined with ": ".
pub fn chain(error: &dyn StdError) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_and_authentication_failures_have_distinct_codes() {
        let connect = WinrmError::Connect {
            endpoint: "http://h/wsman".into(),
            source: std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused"),
        };
        let auth = WinrmError::Authentication {
            endpoint: "http://h/wsman".into(),
            reason: "credentials rejected (http 401)".into(),
        };
        assert_eq!(winrm_code(&connect), CONNECT);
        assert_eq!(winrm_code(&auth), AUTHENTICATION);
        assert_ne!(CONNECT, AUTHENTICATION);
        assert_eq!(chain(&connect), "cannot connect to http://h/wsman: refused");
        assert_eq!(
            transport_code(&TransportErrorKind::Authentication),
            AUTHENTICATION
        );
        assert_eq!(transport_code(&TransportErrorKind::Tls), CONNECT);
    }

    #[test]
    fn every_code_is_documented() {
        for code in [
            AGENT_ERROR,
            USAGE,
            CONNECT,
            TIMEOUT,
            PROTOCOL,
            AUTHENTICATION,
            INTERRUPTED,
        ] {
            assert!(
                HELP.contains(&format!(" {code} ")),
                "{code} is not in the help"
            );
        }
    }
}
