//! `tracing` setup for every binary: an env-filter directive string and text or JSON lines
//! on stderr. Keeping secrets out of logs is the callers' duty; [`crate::Secret`] prints a
//! mask so a config or credential struct can be logged safely.

use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for log shippers).
    Json,
}

/// The `telemetry` table of a service's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TelemetryConfig {
    /// `tracing_subscriber::EnvFilter` directives, e.g. `"info,aetherv_inventory=debug"`.
    pub filter: String,
    /// Text or JSON.
    pub format: LogFormat,
}

impl Default for TelemetryConfig {
    fn default() -> TelemetryConfig {
        TelemetryConfig {
            filter: "info".to_string(),
            format: LogFormat::Text,
        }
    }
}

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The filter does not parse.
    #[error("telemetry.filter: invalid directives {filter:?}")]
    Filter {
        /// The directives.
        filter: String,
        /// Why.
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// A global subscriber is already installed.
    #[error("a tracing subscriber is already installed")]
    AlreadyInstalled(#[source] tracing_subscriber::util::TryInitError),
}

impl TelemetryConfig {
    /// Checks the filter (for a service's `validate`): `Err` with the parse message.
    pub fn check(&self) -> Result<(), String> {
        EnvFilter::try_new(&self.filter)
            .map(|_| ())
            .map_err(|error| format!("invalid filter directives {:?}: {error}", self.filter))
    }
}

/// Installs the global subscriber. Call once, early in `main`.
pub fn init(config: &TelemetryConfig) -> Result<(), Error> {
    let filter = EnvFilter::try_new(&config.filter).map_err(|source| Error::Filter {
        filter: config.filter.clone(),
        source,
    })?;
    let registry = tracing_subscriber::registry().with(filter);
    let result = match config.format {
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    result.map_err(Error::AlreadyInstalled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked_and_formats_read_from_config() {
        let good = TelemetryConfig {
            filter: "info,aetherv_inventory=debug".to_string(),
            format: LogFormat::Json,
        };
        assert_eq!(good.check(), Ok(()));
        let bad = TelemetryConfig {
            filter: "info,=[".to_string(),
            format: LogFormat::Text,
        };
        assert!(bad.check().is_err());
        let parsed: Result<TelemetryConfig, _> = toml::from_str("format = \"json\"");
        assert_eq!(
            parsed.map(|config| config.format).ok(),
            Some(LogFormat::Json)
        );
    }
}
