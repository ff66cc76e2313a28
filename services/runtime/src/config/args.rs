//! The flags every service binary shares (flatten [`CommonArgs`] into its clap parser).

use std::path::PathBuf;
use std::str::FromStr;

/// `--config FILE` and `--set key=value`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CommonArgs {
    /// TOML configuration file; the service reads its own section (e.g. `[inventory]`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Sets one key of the service's section, e.g. `--set refresh_interval=45s` or
    /// `--set server.drain_timeout=5s`; wins over the file and the environment. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<KeyValue>,
}

/// A `key=value` flag value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// Dotted key relative to the section.
    pub key: String,
    /// The text; typed by the key's default like an environment variable.
    pub value: String,
}

impl FromStr for KeyValue {
    type Err = String;

    fn from_str(text: &str) -> Result<KeyValue, String> {
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| "expected KEY=VALUE".to_string())?;
        let key = key.trim();
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(format!(
                "expected KEY=VALUE with a dotted key, got key {key:?}"
            ));
        }
        Ok(KeyValue {
            key: key.to_string(),
            value: value.to_string(),
        })
    }
}
