//! Where and how to reach a host's agent: [`HostTarget`], built from [`EndpointSettings`]
//! and validated once, with errors naming the setting. The password is a [`Secret`].

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;
use zeroize::Zeroize;

use crate::ids::HostId;

/// A password or other secret. Debug prints no part of it, it has no Display and no
/// Serialize, and its memory is wiped when dropped.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it (authentication).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// How to authenticate to WinRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    /// NTLM; over HTTP the messages are sealed (WinRM message encryption).
    Ntlm,
    /// Basic; only over HTTPS unless `insecure_http` is set.
    Basic,
}

/// Time limits for talking to a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// Establishing a TCP (and TLS) connection.
    #[serde(with = "seconds")]
    pub connect: Duration,
    /// One WS-Management HTTP request (must exceed the WS-Man OperationTimeout).
    #[serde(with = "seconds")]
    pub request: Duration,
    /// A whole agent operation, from connecting to the result, unless the call gives its own.
    #[serde(with = "seconds")]
    pub command: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(60),
            command: Duration::from_secs(300),
        }
    }
}

mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        f64::deserialize(deserializer).and_then(|s| {
            Duration::try_from_secs_f64(s)
                .map_err(|_| serde::de::Error::custom("must be a non-negative number of seconds"))
        })
    }
}

/// The settings of one host's endpoint, as configured (not yet validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSettings {
    /// The WinRM URL; None for `http://<host>:5985/wsman`.
    pub url: Option<String>,
    /// Authentication.
    pub auth: AuthKind,
    /// User name (`user`, `DOMAIN\user` or `user@domain`).
    pub username: String,
    /// Password.
    pub password: Secret,
    /// A PEM file of CA certificates to trust for HTTPS, instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// Allow Basic authentication over plain HTTP (credentials readable on the wire).
    pub insecure_http: bool,
    /// Time limits.
    pub timeouts: Timeouts,
}

/// A host setting that is not valid. `field` names it, e.g. "url" or "timeouts.connect".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field} for host {host:?}: {reason}")]
pub struct TargetError {
    /// The host name as configured.
    pub host: String,
    /// The setting.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

/// A host and how to reach it, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostTarget {
    id: HostId,
    url: Url,
    settings: EndpointSettings,
}

impl HostTarget {
    /// Validates the settings of host `name`.
    pub fn new(name: &str, settings: EndpointSettings) -> Result<Self, TargetError> {
        let error = |field: &'static str, reason: String| TargetError {
            host: name.to_owned(),
            field,
            reason,
        };
        let id = HostId::parse(name).map_err(|e| error("host", e.reason.to_owned()))?;
        let text = match &settings.url {
            Some(url) => url.clone(),
            None => format!("http://{id}:5985/wsman"),
        };
        let url = Url::parse(&text).map_err(|e| error("url", e.to_string()))?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(error("url", "the scheme must be http or https".to_owned())),
        };
        if url.host().is_none() {
            return Err(error("url", "has no host".to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(error("url", "must not contain credentials".to_owned()));
        }
        if settings.auth == AuthKind::Basic && !https && !settings.insecure_http {
            return Err(error(
                "auth",
                "basic over http sends the password in clear; use https or set insecure_http"
                    .to_owned(),
            ));
        }
        if settings.insecure_http && https {
            return Err(error(
                "insecure_http",
                "only applies to http urls".to_owned(),
            ));
        }
        if settings.ca_file.is_some() && !https {
            return Err(error("ca_file", "only applies to https urls".to_owned()));
        }
        if settings.username.trim().is_empty() {
            return Err(error("username", "must not be empty".to_owned()));
        }
        if settings.username.chars().any(char::is_control) {
            return Err(error(
                "username",
                "must not contain control characters".to_owned(),
            ));
        }
        if settings.password.is_empty() {
            return Err(error("password", "must not be empty".to_owned()));
        }
        let limits = [
            ("timeouts.connect", settings.timeouts.connect),
            ("timeouts.request", settings.timeouts.request),
            ("timeouts.command", settings.timeouts.command),
        ];
        for (field, limit) in limits {
            if limit.is_zero() {
                return Err(error(field, "must be more than zero".to_owned()));
            }
        }
        Ok(Self { id, url, settings })
    }

    /// The host's identity.
    pub fn id(&self) -> &HostId {
        &self.id
    }

    /// The WinRM endpoint.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Authentication kind.
    pub fn auth(&self) -> AuthKind {
        self.settings.auth
    }

    /// User name.
    pub fn username(&self) -> &str {
        &self.settings.username
    }

    /// Password.
    pub fn password(&self) -> &Secret {
        &self.settings.password
    }

    /// CA file for HTTPS.
    pub fn ca_file(&self) -> Option<&PathBuf> {
        self.settings.ca_file.as_ref()
    }

    /// Whether Basic over HTTP is allowed.
    pub fn insecure_http(&self) -> bool {
        self.settings.insecure_http
    }

    /// Time limits.
    pub fn timeouts(&self) -> Timeouts {
        self.settings.timeouts
    }
}
