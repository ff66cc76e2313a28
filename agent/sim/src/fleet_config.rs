//! The fleet-config file (`--write-fleet-config`): the hosts and how to reach them, in a
//! TOML shape the product's remote-tasks service reads. The password is never in it:
//! `password_file` names a 0600 file, or `password_env` an environment variable.
//!
//! ```toml
//! [winrm]
//! auth = "ntlm"                          # "ntlm" (http) or "basic" (https)
//! username = "aetherv"
//! password_file = "/tmp/aetherv-hvsim-1234/password"
//! # password_env = "AETHERV_HVSIM_PASSWORD"   (instead of password_file)
//! # ca_file = "/tmp/aetherv-hvsim-1234/ca.pem" (https endpoints)
//!
//! [[hosts]]
//! name = "hv-ams-c1-n01.corp.example"
//! endpoint = "http://127.0.10.1:5985/wsman"
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// How the hosts are reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WinrmSettings {
    /// `ntlm` or `basic`.
    pub auth: String,
    /// The account.
    pub username: String,
    /// A file holding the password (and nothing else).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// An environment variable holding the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// PEM of the CA to trust for https endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

/// One host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostEntry {
    /// The host's name (its identity in the product: lower-case FQDN).
    pub name: String,
    /// Its WinRM endpoint URL.
    pub endpoint: String,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetConfig {
    /// WinRM settings shared by every host.
    pub winrm: WinrmSettings,
    /// The hosts.
    pub hosts: Vec<HostEntry>,
}

impl FleetConfig {
    /// The TOML text.
    pub fn to_toml(&self) -> Result<String, Error> {
        toml::to_string(self).map_err(|e| Error::invalid("fleet_config", e.to_string()))
    }

    /// Parses the TOML text.
    pub fn from_toml(text: &str) -> Result<FleetConfig, Error> {
        toml::from_str(text).map_err(|e| Error::invalid("fleet_config", e.message().to_owned()))
    }

    /// Writes the file.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let text = self.to_toml()?;
        let text = format!(
            "# Written by aetherv-hvsim: the simulated fleet's hosts and WinRM settings.\n{text}"
        );
        std::fs::write(path, text).map_err(|source| Error::File {
            action: "write",
            path: path.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_toml() {
        let c = FleetConfig {
            winrm: WinrmSettings {
                auth: "ntlm".into(),
                username: "aetherv".into(),
                password_file: Some("/tmp/x/password".into()),
                password_env: None,
                ca_file: None,
            },
            hosts: vec![HostEntry {
                name: "hv-ams-c1-n01.corp.example".into(),
                endpoint: "http://127.0.10.1:5985/wsman".into(),
            }],
        };
        let text = c.to_toml().expect("serialises");
        assert!(text.contains("[winrm]"));
        assert!(text.contains("[[hosts]]"));
        assert!(!text.contains("password_env"));
        assert_eq!(FleetConfig::from_toml(&text).expect("parses"), c);
        assert!(
            FleetConfig::from_toml("[winrm]\nauth='ntlm'\nusername='u'\npassword='x'\n").is_err()
        );
    }
}
