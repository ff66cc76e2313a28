//! The crate's error: what went wrong setting up or driving the simulated fleet (the
//! agent protocol's own errors are `aetherv_hyperv::AgentError`s inside results).

use std::net::SocketAddr;
use std::path::PathBuf;

/// A failure of the simulator's API, configuration or startup.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting or input is invalid; `field` names it.
    #[error("invalid `{field}`: {reason}")]
    Invalid {
        /// The field (`hosts`, `time_scale`, `fail_next[0].count`, `cpu_count`, …).
        field: String,
        /// Why.
        reason: String,
    },
    /// No host has that name.
    #[error("no simulated host is named {0:?}")]
    UnknownHost(String),
    /// The host has no such VM.
    #[error("host {host} has no vm {vm:?}")]
    UnknownVm {
        /// The host.
        host: String,
        /// The VM id or name asked for.
        vm: String,
    },
    /// The change conflicts with the host's state (e.g. a VM name already taken).
    #[error("host {host} refused the change: {reason}")]
    Conflict {
        /// The host.
        host: String,
        /// Why.
        reason: String,
    },
    /// A listener could not be bound.
    #[error("cannot listen on {addr} for {what}")]
    Bind {
        /// What the listener is for.
        what: String,
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be read or written.
    #[error("cannot {action} {path}")]
    File {
        /// "read", "write", "create".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The WinRM server or its TLS setup failed.
    #[error("winrm endpoint setup failed")]
    Winrm(#[source] aetherv_winrm::server::ServerError),
}

impl Error {
    /// An [`Error::Invalid`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<crate::generate::SpecError> for Error {
    fn from(e: crate::generate::SpecError) -> Error {
        Error::invalid(e.field, e.reason)
    }
}

impl From<crate::knobs::KnobError> for Error {
    fn from(e: crate::knobs::KnobError) -> Error {
        Error::invalid(e.field, e.reason)
    }
}

impl From<crate::clock::InvalidTimeScale> for Error {
    fn from(e: crate::clock::InvalidTimeScale) -> Error {
        Error::invalid("time_scale", e.to_string())
    }
}
