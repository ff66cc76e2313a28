//! The `[notifications]` configuration section.
//!
//! ```toml
//! [notifications]
//! event_history = 10000         # events kept for Subscribe replay
//! subscriber_buffer = 1024      # events a subscriber may lag before it is resynced
//! max_subscribers = 256         # Subscribe streams open at once; more → RESOURCE_EXHAUSTED
//! heartbeat_interval = "15s"    # idle Subscribe streams get a heartbeat this often
//!
//! [notifications.retention]
//! max_count = 1000              # notifications kept; the oldest read ones go first
//! max_age = "30days"            # removed this long after their last publication
//! sweep_interval = "1m"         # how often the age limit is applied
//!
//! [notifications.server]        # listen (default 127.0.0.1:50055), drain_timeout, keepalive_interval
//! [notifications.telemetry]     # filter, format
//! ```
//!
//! Environment: `AETHERV_NOTIFICATIONS__RETENTION__MAX_AGE=7days`, and so on;
//! `config.example.toml` beside this crate shows every key with its default.

use std::time::Duration;

use aetherv_runtime::ServerConfig;
use aetherv_runtime::config::{Issues, ServiceConfig, duration};
use aetherv_runtime::telemetry::TelemetryConfig;
use serde::{Deserialize, Serialize};

use crate::domain::StoreSettings;

/// The notifications service's default port.
pub const DEFAULT_PORT: u16 = 50055;

/// Bounded retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetentionConfig {
    /// Most notifications kept. When a Publish goes past it, the oldest read notifications
    /// are removed first, unread ones only when none is read.
    pub max_count: u32,
    /// A notification is removed this long after its last publication, read or not.
    #[serde(with = "duration")]
    pub max_age: Duration,
    /// How often the age limit is applied.
    #[serde(with = "duration")]
    pub sweep_interval: Duration,
}

impl Default for RetentionConfig {
    fn default() -> RetentionConfig {
        RetentionConfig {
            max_count: 1000,
            max_age: Duration::from_secs(30 * 24 * 3600),
            sweep_interval: Duration::from_secs(60),
        }
    }
}

/// The notifications service's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Events kept in memory for Subscribe replay.
    pub event_history: u32,
    /// Events a subscriber may fall behind the live feed before it gets a resync.
    pub subscriber_buffer: u32,
    /// Subscribe streams open at once.
    pub max_subscribers: u32,
    /// An idle Subscribe stream gets a heartbeat this often.
    #[serde(with = "duration")]
    pub heartbeat_interval: Duration,
    /// Bounded retention.
    pub retention: RetentionConfig,
    /// The gRPC server.
    pub server: ServerConfig,
    /// Logging.
    pub telemetry: TelemetryConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            event_history: 10_000,
            subscriber_buffer: 1024,
            max_subscribers: 256,
            heartbeat_interval: Duration::from_secs(15),
            retention: RetentionConfig::default(),
            server: ServerConfig::on_port(DEFAULT_PORT),
            telemetry: TelemetryConfig::default(),
        }
    }
}

impl Config {
    /// For tests: loopback port 0, a short drain, the defaults otherwise.
    pub fn for_testing() -> Config {
        Config {
            server: ServerConfig::for_testing(),
            ..Config::default()
        }
    }

    /// The store's sizes.
    pub fn store_settings(&self) -> StoreSettings {
        StoreSettings {
            max_count: self.retention.max_count as usize,
            max_age: self.retention.max_age,
            event_history: self.event_history as usize,
            subscriber_buffer: self.subscriber_buffer as usize,
        }
    }
}

impl ServiceConfig for Config {
    const SECTION: &'static str = "notifications";

    fn validate(&self, issues: &mut Issues) {
        if !(100..=1_000_000).contains(&self.event_history) {
            issues.push("event_history", "must be between 100 and 1000000");
        }
        if !(16..=100_000).contains(&self.subscriber_buffer) {
            issues.push("subscriber_buffer", "must be between 16 and 100000");
        }
        if !(1..=10_000).contains(&self.max_subscribers) {
            issues.push("max_subscribers", "must be between 1 and 10000");
        }
        if self.heartbeat_interval < Duration::from_millis(100)
            || self.heartbeat_interval > Duration::from_secs(3600)
        {
            issues.push("heartbeat_interval", "must be between 100ms and 1h");
        }
        if !(10..=100_000).contains(&self.retention.max_count) {
            issues.push("retention.max_count", "must be between 10 and 100000");
        }
        if self.retention.max_age < Duration::from_secs(60)
            || self.retention.max_age > Duration::from_secs(366 * 24 * 3600)
        {
            issues.push("retention.max_age", "must be between 1m and 366days");
        }
        if self.retention.sweep_interval < Duration::from_secs(1)
            || self.retention.sweep_interval > Duration::from_secs(3600)
        {
            issues.push("retention.sweep_interval", "must be between 1s and 1h");
        }
        self.server.validate("server", issues);
        if let Err(message) = self.telemetry.check() {
            issues.push("telemetry.filter", message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aetherv_runtime::config::Loader;

    #[test]
    fn the_example_file_names_every_key_with_its_default() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        match Loader::new().file(path).load::<Config>() {
            Ok(config) => assert_eq!(config, Config::default()),
            Err(error) => panic!("config.example.toml is refused: {error}"),
        }
    }

    #[test]
    fn layers_set_nested_keys_and_validation_names_them() {
        let config: Config = match Loader::new()
            .env(vec![(
                "AETHERV_NOTIFICATIONS__RETENTION__MAX_AGE".to_string(),
                "7days".to_string(),
            )])
            .flag("retention.max_count", "500", "--set")
            .load()
        {
            Ok(config) => config,
            Err(error) => panic!("valid configuration refused: {error}"),
        };
        assert_eq!(config.retention.max_age, Duration::from_secs(7 * 24 * 3600));
        assert_eq!(config.retention.max_count, 500);
        assert_eq!(config.server.listen.port(), DEFAULT_PORT);

        let refused = Loader::new()
            .flag("retention.max_count", "5", "--set")
            .flag("heartbeat_interval", "1ms", "--set")
            .load::<Config>();
        let reasons = match refused {
            Ok(_) => panic!("invalid configuration accepted"),
            Err(error) => error.reasons(),
        };
        assert!(
            reasons
                .iter()
                .any(|r| r.starts_with("notifications.retention.max_count:")),
            "{reasons:?}"
        );
        assert!(
            reasons
                .iter()
                .any(|r| r.starts_with("notifications.heartbeat_interval:")),
            "{reasons:?}"
        );
        let unknown = Loader::new()
            .flag("retention.max_size", "5", "--set")
            .load::<Config>();
        assert!(
            matches!(unknown, Err(ref e) if e.reasons().iter().any(|r| r.contains("notifications.retention.max_size: unknown key"))),
            "{unknown:?}"
        );
    }
}
