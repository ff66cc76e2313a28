//! The flags every subcommand uses to reach a host, and the password from the
//! environment (never a flag, never printed).

use std::path::PathBuf;
use std::time::Duration;

use aetherv_hyperv::{AuthKind, EndpointSettings, HostTarget, Secret, Timeouts};
use aetherv_winrm::{AuthMethod, ClientConfig, Password};
use clap::{Args, ValueEnum};
use url::Url;

use crate::exit::Failure;

/// The environment variable holding the WinRM password.
pub const PASSWORD_ENV: &str = "AETHERV_WINRM_PASSWORD";

/// How to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Auth {
    /// NTLM; over http every message is encrypted (WinRM message encryption).
    Ntlm,
    /// Basic; https only, unless --insecure-http.
    Basic,
}

/// Where the host is and how to log on.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// The WinRM endpoint, e.g. http://127.0.10.1:5985/wsman or https://hv-01:5986/wsman.
    #[arg(long, value_name = "URL")]
    pub endpoint: String,
    /// ntlm (encrypted over http) or basic (https, or http with --insecure-http).
    #[arg(long, value_enum, value_name = "ntlm|basic")]
    pub auth: Auth,
    /// The user: user, DOMAIN\user or user@domain. The password comes from AETHERV_WINRM_PASSWORD.
    #[arg(long, value_name = "USER")]
    pub username: String,
    /// Allow basic authentication over plain http (the password crosses the network readable).
    #[arg(long)]
    pub insecure_http: bool,
    /// A PEM file of CA certificates to trust for https, instead of the system roots.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Seconds to wait for the TCP (and TLS) connection.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub connect_timeout: f64,
}

/// Parses a positive number of seconds given for `flag`.
pub fn seconds(flag: &str, value: f64) -> Result<Duration, Failure> {
    if value.is_nan() || value <= 0.0 {
        return Err(Failure::usage(format!(
            "--{flag} must be a positive number of seconds"
        )));
    }
    Duration::try_from_secs_f64(value).map_err(|_| Failure::usage(format!("--{flag} is too large")))
}

fn password() -> Result<String, Failure> {
    match std::env::var(PASSWORD_ENV) {
        Ok(password) if !password.is_empty() => Ok(password),
        Ok(_) => Err(Failure::usage(format!("{PASSWORD_ENV} is empty"))),
        Err(std::env::VarError::NotPresent) => Err(Failure::usage(format!(
            "set the password in the environment variable {PASSWORD_ENV}"
        ))),
        Err(std::env::VarError::NotUnicode(_)) => Err(Failure::usage(format!(
            "{PASSWORD_ENV} is not valid unicode"
        ))),
    }
}

impl ConnectionArgs {
    /// The WinRM client settings (validated by the client when it is built).
    pub fn client_config(&self) -> Result<ClientConfig, Failure> {
        let auth = match self.auth {
            Auth::Ntlm => AuthMethod::Ntlm,
            Auth::Basic => AuthMethod::Basic,
        };
        let mut config = ClientConfig::new(
            &self.endpoint,
            auth,
            &self.username,
            Password::new(password()?),
        );
        config.ca_file = self.ca_file.clone();
        config.insecure_http = self.insecure_http;
        config.connect_timeout = seconds("connect-timeout", self.connect_timeout)?;
        Ok(config)
    }

    /// The host as the agent protocol names it: `host` or else the endpoint's host name.
    pub fn host_target(
        &self,
        host: Option<&str>,
        command: Duration,
    ) -> Result<HostTarget, Failure> {
        let url = Url::parse(&self.endpoint)
            .map_err(|e| Failure::usage(format!("--endpoint is not a url: {e}")))?;
        let name = match host {
            Some(name) => name.to_owned(),
            None => url
                .host_str()
                .filter(|h| !h.starts_with('['))
                .map(str::to_owned)
                .ok_or_else(|| Failure::usage("--endpoint has no host name; give --host"))?,
        };
        let settings = EndpointSettings {
            url: Some(self.endpoint.clone()),
            auth: match self.auth {
                Auth::Ntlm => AuthKind::Ntlm,
                Auth::Basic => AuthKind::Basic,
            },
            username: self.username.clone(),
            password: Secret::new(password()?),
            ca_file: self.ca_file.clone(),
            insecure_http: self.insecure_http,
            timeouts: Timeouts {
                connect: seconds("connect-timeout", self.connect_timeout)?,
                command,
                ..Timeouts::default()
            },
        };
        HostTarget::new(&name, settings).map_err(|e| Failure::usage(e.to_string()))
    }
}
