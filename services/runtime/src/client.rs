//! Client channels to sibling services: `connect_lazy` (the first call connects, so a
//! service starts while its dependencies are still coming up) with a connect timeout, a
//! per-request timeout and HTTP/2 keepalive. Attach the caller and trace context with
//! [`crate::CallContext::interceptor`].

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tonic::transport::{Channel, Endpoint};

use crate::config::duration;

/// One dependency's address and timeouts (a table in a service's configuration, e.g.
/// `[inventory.remote_tasks]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientConfig {
    /// `http://host:port` (or `https://`).
    pub endpoint: String,
    /// Time allowed to establish the TCP/HTTP2 connection.
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
    /// Time allowed for a unary call, and for a streaming call's response headers (the
    /// stream itself is not cut).
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// HTTP/2 keepalive ping interval.
    #[serde(with = "duration")]
    pub keepalive_interval: Duration,
}

impl ClientConfig {
    /// `http://127.0.0.1:<port>` with default timeouts (connect 5 s, request 30 s).
    pub fn local(port: u16) -> ClientConfig {
        ClientConfig {
            endpoint: format!("http://127.0.0.1:{port}"),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            keepalive_interval: Duration::from_secs(30),
        }
    }

    /// Checks the endpoint and timeouts; `Err` says what is wrong with which key (relative
    /// to this table).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        endpoint(self).map_err(|error| ("endpoint", error.to_string()))?;
        if self.connect_timeout.is_zero() {
            return Err(("connect_timeout", "must be more than 0s".to_string()));
        }
        if self.request_timeout.is_zero() {
            return Err(("request_timeout", "must be more than 0s".to_string()));
        }
        if self.keepalive_interval < Duration::from_secs(1) {
            return Err(("keepalive_interval", "must be at least 1s".to_string()));
        }
        Ok(())
    }
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig::local(0)
    }
}

/// Why a channel could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The endpoint is not an `http://` or `https://` URI.
    #[error("endpoint {endpoint:?} is not an http:// or https:// address")]
    Endpoint {
        /// As configured.
        endpoint: String,
    },
    /// tonic refused the endpoint.
    #[error("endpoint {endpoint:?} is not a valid uri")]
    Uri {
        /// As configured.
        endpoint: String,
        /// Why.
        #[source]
        source: tonic::transport::Error,
    },
}

fn endpoint(config: &ClientConfig) -> Result<Endpoint, Error> {
    let text = config.endpoint.trim();
    if !(text.starts_with("http://") || text.starts_with("https://")) {
        return Err(Error::Endpoint {
            endpoint: config.endpoint.clone(),
        });
    }
    let endpoint = Endpoint::from_shared(text.to_string()).map_err(|source| Error::Uri {
        endpoint: config.endpoint.clone(),
        source,
    })?;
    Ok(endpoint
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
        .http2_keep_alive_interval(config.keepalive_interval)
        .keep_alive_while_idle(true)
        .tcp_nodelay(true))
}

/// A lazily connecting channel: never fails for an unreachable peer (calls do, with
/// UNAVAILABLE), only for a malformed endpoint.
pub fn connect_lazy(config: &ClientConfig) -> Result<Channel, Error> {
    Ok(endpoint(config)?.connect_lazy())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn endpoints_are_checked_and_channels_made_lazily() {
        assert!(connect_lazy(&ClientConfig::local(50053)).is_ok());
        let bad = ClientConfig {
            endpoint: "127.0.0.1:50053".to_string(),
            ..ClientConfig::local(0)
        };
        assert!(matches!(connect_lazy(&bad), Err(Error::Endpoint { .. })));
        assert_eq!(bad.check().map_err(|(key, _)| key), Err("endpoint"));
        let zero = ClientConfig {
            connect_timeout: Duration::ZERO,
            ..ClientConfig::local(1)
        };
        assert_eq!(zero.check().map_err(|(key, _)| key), Err("connect_timeout"));
    }
}
