//! Client configuration, validated at the edge.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::error::Error;

/// How the client authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// NTLM under the `Negotiate` scheme. Over HTTP every body is sealed (MS-WSMV message
    /// encryption); over HTTPS bodies are not sealed (TLS protects them).
    Ntlm,
    /// Basic. Only over HTTPS, unless [`ClientConfig::insecure_http`] is set.
    Basic,
}

/// A password. Its `Debug` and `Display` print nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(s: impl Into<String>) -> Password {
        Password(s.into())
    }

    /// The secret itself; only the auth code calls this.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Password {
    fn from(s: String) -> Password {
        Password(s)
    }
}

impl From<&str> for Password {
    fn from(s: &str) -> Password {
        Password(s.to_owned())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Settings of a [`crate::Client`]. Build with [`ClientConfig::new`], adjust fields, and
/// [`crate::Client::new`] validates them.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `http://host:5985/wsman` or `https://host:5986/wsman`.
    pub endpoint: String,
    pub auth: AuthMethod,
    /// `user`, `DOMAIN\user` or `user@domain`.
    pub username: String,
    pub password: Password,
    /// PEM file of CA certificates to trust for HTTPS; the system roots when `None`.
    pub ca_file: Option<PathBuf>,
    /// Allow Basic over plain HTTP (credentials and bodies in clear text).
    pub insecure_http: bool,
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// WS-Man OperationTimeout (the Receive long poll). Each HTTP request times out 5 s later.
    pub operation_timeout: Duration,
    /// MaxEnvelopeSize in bytes sent with each request; stdin chunks are sized to fit it.
    pub max_envelope_size: u32,
    /// Authenticated keep-alive connections kept per endpoint.
    pub max_connections: usize,
    /// How long an idle connection other than the most recently used one is kept before
    /// it is closed (60 s): what a burst opened does not stay open for good.
    pub surplus_idle: Duration,
}

/// MS-WSMV NetworkDelayms: the HTTP timeout is OperationTimeout plus this.
pub const NETWORK_DELAY: Duration = Duration::from_secs(5);

impl ClientConfig {
    /// A configuration with the defaults: connect 10 s, OperationTimeout 20 s,
    /// MaxEnvelopeSize 153600, 4 connections.
    pub fn new(
        endpoint: impl Into<String>,
        auth: AuthMethod,
        username: impl Into<String>,
        password: impl Into<Password>,
    ) -> ClientConfig {
        ClientConfig {
            endpoint: endpoint.into(),
            auth,
            username: username.into(),
            password: password.into(),
            ca_file: None,
            insecure_http: false,
            connect_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(20),
            max_envelope_size: 153_600,
            max_connections: 4,
            surplus_idle: Duration::from_secs(60),
        }
    }

    /// Checks every field; returns the parsed endpoint.
    pub(crate) fn validate(&self) -> Result<Url, Error> {
        let bad = |field, reason: &str| Error::Config {
            field,
            reason: reason.to_owned(),
        };
        let url =
            Url::parse(&self.endpoint).map_err(|e| bad("endpoint", &format!("not a url ({e})")))?;
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            _ => return Err(bad("endpoint", "scheme must be http or https")),
        };
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("endpoint", "has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("endpoint", "must not carry credentials"));
        }
        if self.username.trim().is_empty() {
            return Err(bad("username", "is empty"));
        }
        if self.username.chars().any(char::is_control) {
            return Err(bad("username", "contains control characters"));
        }
        if self.password.expose().is_empty() {
            return Err(bad("password", "is empty"));
        }
        if self.auth == AuthMethod::Basic && !https && !self.insecure_http {
            return Err(bad(
                "auth",
                "basic authentication over plain http needs the insecure_http switch",
            ));
        }
        if self.auth == AuthMethod::Basic && self.username.contains(':') {
            return Err(bad(
                "username",
                "must not contain ':' with basic authentication",
            ));
        }
        if let Some(ca) = &self.ca_file {
            if !https {
                return Err(bad("ca_file", "only applies to https endpoints"));
            }
            if !ca.is_file() {
                return Err(bad("ca_file", "is not a readable file"));
            }
        }
        if self.connect_timeout.is_zero() {
            return Err(bad("connect_timeout", "must be positive"));
        }
        if self.operation_timeout < Duration::from_millis(100)
            || self.operation_timeout > Duration::from_secs(3600)
        {
            return Err(bad("operation_timeout", "must be between 0.1 s and 1 h"));
        }
        if !(8192..=64 * 1024 * 1024).contains(&self.max_envelope_size) {
            return Err(bad(
                "max_envelope_size",
                "must be between 8192 and 67108864 bytes",
            ));
        }
        if !(1..=64).contains(&self.max_connections) {
            return Err(bad("max_connections", "must be between 1 and 64"));
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(url: &str, auth: AuthMethod) -> ClientConfig {
        ClientConfig::new(url, auth, "u", "p")
    }

    #[test]
    fn password_is_never_printed() {
        let c = cfg("http://h:5985/wsman", AuthMethod::Ntlm);
        assert!(!format!("{c:?}").contains("\"p\""));
        assert_eq!(format!("{:?}", Password::new("hunter2")), "Password(***)");
    }

    #[test]
    fn validation_names_the_field() {
        let field = |c: ClientConfig| match c.validate() {
            Err(Error::Config { field, .. }) => field,
            other => panic!("expected a config error, got {other:?}"),
        };
        assert!(
            cfg("http://h:5985/wsman", AuthMethod::Ntlm)
                .validate()
                .is_ok()
        );
        assert!(
            cfg("https://h:5986/wsman", AuthMethod::Basic)
                .validate()
                .is_ok()
        );
        assert_eq!(field(cfg("http://h:5985/wsman", AuthMethod::Basic)), "auth");
        let mut insecure = cfg("http://h:5985/wsman", AuthMethod::Basic);
        insecure.insecure_http = true;
        assert!(insecure.validate().is_ok());
        assert_eq!(field(cfg("ftp://h/wsman", AuthMethod::Ntlm)), "endpoint");
        assert_eq!(field(cfg("not a url", AuthMethod::Ntlm)), "endpoint");
        assert_eq!(
            field(ClientConfig::new("http://h/", AuthMethod::Ntlm, "", "p")),
            "username"
        );
        assert_eq!(
            field(ClientConfig::new("http://h/", AuthMethod::Ntlm, "u", "")),
            "password"
        );
        let mut c = cfg("https://h/", AuthMethod::Ntlm);
        c.ca_file = Some("/nonexistent/ca.pem".into());
        assert_eq!(field(c), "ca_file");
        let mut c = cfg("http://h/", AuthMethod::Ntlm);
        c.max_envelope_size = 100;
        assert_eq!(field(c), "max_envelope_size");
        let mut c = cfg("http://h/", AuthMethod::Ntlm);
        c.max_connections = 0;
        assert_eq!(field(c), "max_connections");
        let mut c = cfg("http://h/", AuthMethod::Ntlm);
        c.operation_timeout = Duration::ZERO;
        assert_eq!(field(c), "operation_timeout");
    }
}
