//! The client's error type: one variant per thing a caller can act on.

use std::fmt;

use crate::fault::Fault;

/// Which timeout expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// Establishing the TCP (and TLS) connection.
    Connect,
    /// One HTTP request (OperationTimeout + 5 s network delay).
    Request,
    /// The whole command's deadline ([`crate::CommandSpec::deadline`]); the command was
    /// terminated on the host.
    Command,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Connect => "connect",
            TimeoutKind::Request => "request",
            TimeoutKind::Command => "command deadline",
        })
    }
}

/// Everything that can go wrong talking to a WinRM endpoint. Messages never contain a
/// password, an auth header or a request body.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid; `field` names the offending setting.
    #[error("invalid winrm client setting `{field}`: {reason}")]
    Config { field: &'static str, reason: String },
    /// TCP connection refused, unreachable, or the name did not resolve.
    #[error("cannot connect to {endpoint}")]
    Connect {
        endpoint: String,
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake failed (e.g. the certificate is not trusted).
    #[error("tls handshake with {endpoint} failed")]
    Tls {
        endpoint: String,
        #[source]
        source: std::io::Error,
    },
    /// The endpoint refused the credentials (HTTP 401), or NTLM failed.
    #[error("authentication to {endpoint} failed: {reason}")]
    Authentication { endpoint: String, reason: String },
    /// A WS-Management fault; see [`Fault::kind`] for what to do.
    #[error("{0}")]
    Fault(Box<Fault>),
    /// A timeout expired.
    #[error("{kind} timeout after {seconds:.1} s talking to {endpoint}")]
    Timeout {
        kind: TimeoutKind,
        endpoint: String,
        seconds: f64,
    },
    /// The response was not what the protocol allows; `excerpt` is its first 200 bytes.
    #[error("malformed response from {endpoint}: {reason}; response begins {excerpt:?}")]
    Protocol {
        endpoint: String,
        reason: String,
        excerpt: String,
    },
    /// The command line is over the Windows limit; refused before sending.
    #[error(
        "command line is {length} characters, over the limit of {limit} (skip_cmd_shell={skip_cmd_shell})"
    )]
    CommandLineTooLong {
        length: usize,
        limit: usize,
        skip_cmd_shell: bool,
    },
    /// An HTTP status the protocol does not expect; `snippet` is the start of the body.
    #[error("http status {status} from {endpoint}: {snippet:?}")]
    Http {
        endpoint: String,
        status: u16,
        snippet: String,
    },
    /// The caller cancelled (dropped the output receiver); the command was terminated.
    #[error("command cancelled by the caller")]
    Cancelled,
}

impl Error {
    /// The fault, when this is a WS-Management fault.
    pub fn fault(&self) -> Option<&Fault> {
        match self {
            Error::Fault(f) => Some(f),
            _ => None,
        }
    }

    pub(crate) fn protocol(endpoint: &str, reason: impl fmt::Display, body: &[u8]) -> Error {
        Error::Protocol {
            endpoint: endpoint.to_owned(),
            reason: reason.to_string(),
            excerpt: excerpt(body),
        }
    }
}

/// The first 200 bytes of a body, lossily decoded.
pub(crate) fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
}
