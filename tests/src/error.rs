//! The harness's one error type: what failed, in words a test failure can show.

use std::time::Duration;

/// Why a harness operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A part of the stack did not start.
    #[error("{what} did not start: {message}")]
    Start {
        /// The part (`the simulated fleet`, `inventory`, …).
        what: String,
        /// Why.
        message: String,
    },
    /// A condition did not hold in time.
    #[error("timed out after {limit:?} waiting for {what}; last seen: {last}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The bound.
        limit: Duration,
        /// The last observation, for the failure message.
        last: String,
    },
    /// A gRPC call failed.
    #[error("{call} failed: {status}")]
    Grpc {
        /// The call (`Inventory/GetSummary`).
        call: String,
        /// Its status.
        #[source]
        status: Box<tonic::Status>,
    },
    /// An HTTP request failed before an answer.
    #[error("{method} {url} failed: {message}")]
    Http {
        /// The method.
        method: String,
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
    /// A WebSocket operation failed.
    #[error("websocket {url}: {message}")]
    WebSocket {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
    /// A service ended with an error or did not stop in time.
    #[error("{service} did not stop cleanly: {message}")]
    Stop {
        /// The service.
        service: String,
        /// Why.
        message: String,
    },
    /// A third-party peer (grpcurl, …) is missing or could not run.
    #[error("{0}")]
    Peer(String),
    /// An answer was not what the protocol promises.
    #[error("unexpected answer from {from}: {message}")]
    Unexpected {
        /// Who answered.
        from: String,
        /// What was wrong.
        message: String,
    },
}

impl Error {
    /// A gRPC failure of `call`.
    pub fn grpc(call: &str, status: tonic::Status) -> Error {
        Error::Grpc {
            call: call.to_string(),
            status: Box::new(status),
        }
    }

    /// A start failure of `what`.
    pub fn start(what: &str, message: impl std::fmt::Display) -> Error {
        Error::Start {
            what: what.to_string(),
            message: message.to_string(),
        }
    }
}
