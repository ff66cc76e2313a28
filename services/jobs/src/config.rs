//! The `[jobs]` configuration section; `config.example.toml` beside this crate shows every
//! key with its default (a test loads it).
//!
//! ```toml
//! [jobs]
//! max_active_jobs = 10000       # jobs queued or running at once; more → RESOURCE_EXHAUSTED
//! max_output_lines = 2000       # output lines kept per job (the oldest are dropped)
//! control_timeout = "5m"        # run timeout of control steps (power, vm and nic changes)
//! io_timeout = "30m"            # run timeout of io steps (disk work, image copies)
//! catalogue_ttl = "30s"         # how long a host's catalogue is reused by the pre-checks
//! dispatch_patience = "2m"      # how long a step retries while remote-tasks refuses it
//! cancel_wait = "30s"           # how long Cancel waits for the job to stop
//! refresh_timeout = "30s"       # how long a step waits for inventory's refresh of its host
//! watch_history = 100000        # events kept for Watch replay
//! watch_buffer = 4096           # events a watcher may lag before it is resynced
//! max_watchers = 1024           # Watch streams open at once
//! heartbeat_interval = "15s"    # idle Watch streams get a heartbeat this often
//! health_interval = "5s"        # how often remote-tasks and inventory are asked if they answer
//!
//! [jobs.history]
//! max_jobs = 10000              # finished jobs kept; the oldest finished go first
//! max_age = "7days"             # finished jobs are forgotten this long after they finished
//! sweep_interval = "1m"         # how often the bounds are applied
//!
//! [jobs.server]                 # listen (default 127.0.0.1:50054), drain_timeout, keepalive_interval
//! [jobs.telemetry]              # filter, format
//! [jobs.remote_tasks]           # endpoint (default http://127.0.0.1:50051), timeouts
//! [jobs.inventory]              # endpoint (default http://127.0.0.1:50053), timeouts
//! [jobs.notifications]          # endpoint (default empty: no notifications), timeouts
//! ```

use std::time::Duration;

use aetherv_runtime::config::{Issues, ServiceConfig, duration};
use aetherv_runtime::telemetry::TelemetryConfig;
use aetherv_runtime::{ClientConfig, ServerConfig};
use serde::{Deserialize, Serialize};

use crate::domain::store::StoreSettings;
use crate::engine::EngineSettings;

/// The jobs service's default port.
pub const DEFAULT_PORT: u16 = 50054;
const REMOTE_TASKS_PORT: u16 = 50051;
const INVENTORY_PORT: u16 = 50053;

/// History bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryConfig {
    /// Finished jobs kept; past it the oldest finished jobs are forgotten.
    pub max_jobs: u32,
    /// Finished jobs are forgotten this long after they finished.
    #[serde(with = "duration")]
    pub max_age: Duration,
    /// How often the bounds are applied.
    #[serde(with = "duration")]
    pub sweep_interval: Duration,
}

impl Default for HistoryConfig {
    fn default() -> HistoryConfig {
        HistoryConfig {
            max_jobs: 10_000,
            max_age: Duration::from_secs(7 * 24 * 3600),
            sweep_interval: Duration::from_secs(60),
        }
    }
}

/// The jobs service's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Jobs queued or running at once.
    pub max_active_jobs: u32,
    /// Output lines kept per job.
    pub max_output_lines: u32,
    /// Run timeout of control steps.
    #[serde(with = "duration")]
    pub control_timeout: Duration,
    /// Run timeout of io steps.
    #[serde(with = "duration")]
    pub io_timeout: Duration,
    /// How long a host's catalogue is reused by the pre-checks.
    #[serde(with = "duration")]
    pub catalogue_ttl: Duration,
    /// How long a step retries while remote-tasks refuses it.
    #[serde(with = "duration")]
    pub dispatch_patience: Duration,
    /// How long Cancel waits for the job to stop.
    #[serde(with = "duration")]
    pub cancel_wait: Duration,
    /// How long a step waits for inventory's refresh of its host.
    #[serde(with = "duration")]
    pub refresh_timeout: Duration,
    /// Events kept for Watch replay.
    pub watch_history: u32,
    /// Events a watcher may lag before it is resynced.
    pub watch_buffer: u32,
    /// Watch streams open at once.
    pub max_watchers: u32,
    /// Idle Watch streams get a heartbeat this often.
    #[serde(with = "duration")]
    pub heartbeat_interval: Duration,
    /// How often the dependencies are asked whether they answer.
    #[serde(with = "duration")]
    pub health_interval: Duration,
    /// History bounds.
    pub history: HistoryConfig,
    /// The gRPC server.
    pub server: ServerConfig,
    /// Logging.
    pub telemetry: TelemetryConfig,
    /// remote-tasks.
    pub remote_tasks: ClientConfig,
    /// inventory.
    pub inventory: ClientConfig,
    /// notifications; an empty endpoint means none.
    pub notifications: ClientConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_active_jobs: 10_000,
            max_output_lines: 2000,
            control_timeout: Duration::from_secs(300),
            io_timeout: Duration::from_secs(1800),
            catalogue_ttl: Duration::from_secs(30),
            dispatch_patience: Duration::from_secs(120),
            cancel_wait: Duration::from_secs(30),
            refresh_timeout: Duration::from_secs(30),
            watch_history: 100_000,
            watch_buffer: 4096,
            max_watchers: 1024,
            heartbeat_interval: Duration::from_secs(15),
            health_interval: Duration::from_secs(5),
            history: HistoryConfig::default(),
            server: ServerConfig::on_port(DEFAULT_PORT),
            telemetry: TelemetryConfig::default(),
            remote_tasks: ClientConfig::local(REMOTE_TASKS_PORT),
            inventory: ClientConfig::local(INVENTORY_PORT),
            notifications: ClientConfig {
                endpoint: String::new(),
                ..ClientConfig::local(0)
            },
        }
    }
}

impl Config {
    /// For tests: loopback port 0, a short drain, the dependencies at the given endpoints
    /// (notifications off), short health and heartbeat intervals.
    pub fn for_testing(remote_tasks: &str, inventory: &str) -> Config {
        Config {
            server: ServerConfig::for_testing(),
            remote_tasks: ClientConfig {
                endpoint: remote_tasks.to_owned(),
                ..ClientConfig::local(REMOTE_TASKS_PORT)
            },
            inventory: ClientConfig {
                endpoint: inventory.to_owned(),
                ..ClientConfig::local(INVENTORY_PORT)
            },
            health_interval: Duration::from_millis(200),
            heartbeat_interval: Duration::from_secs(1),
            ..Config::default()
        }
    }

    /// The store's bounds.
    pub fn store_settings(&self) -> StoreSettings {
        StoreSettings {
            max_jobs: self.history.max_jobs as usize,
            max_age: self.history.max_age,
            max_active: self.max_active_jobs as usize,
            max_output_lines: self.max_output_lines as usize,
            event_log: self.watch_history as usize,
            broadcast: self.watch_buffer as usize,
        }
    }

    /// The engine's settings.
    pub fn engine_settings(&self) -> EngineSettings {
        EngineSettings {
            control_timeout: self.control_timeout,
            io_timeout: self.io_timeout,
            catalogue_ttl: self.catalogue_ttl,
            dispatch_patience: self.dispatch_patience,
            cancel_wait: self.cancel_wait,
            refresh_timeout: self.refresh_timeout,
        }
    }
}

fn between(
    issues: &mut Issues,
    key: &str,
    value: Duration,
    min: Duration,
    max: Duration,
    text: &str,
) {
    if value < min || value > max {
        issues.push(key, format!("must be between {text}"));
    }
}

impl ServiceConfig for Config {
    const SECTION: &'static str = "jobs";

    fn validate(&self, issues: &mut Issues) {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        if !(1..=1_000_000).contains(&self.max_active_jobs) {
            issues.push("max_active_jobs", "must be between 1 and 1000000");
        }
        if !(10..=1_000_000).contains(&self.max_output_lines) {
            issues.push("max_output_lines", "must be between 10 and 1000000");
        }
        between(
            issues,
            "control_timeout",
            self.control_timeout,
            s(1),
            s(30 * 60),
            "1s and 30m",
        );
        between(
            issues,
            "io_timeout",
            self.io_timeout,
            s(1),
            s(4 * 3600),
            "1s and 4h",
        );
        between(
            issues,
            "catalogue_ttl",
            self.catalogue_ttl,
            Duration::ZERO,
            s(3600),
            "0s and 1h",
        );
        between(
            issues,
            "dispatch_patience",
            self.dispatch_patience,
            Duration::ZERO,
            s(3600),
            "0s and 1h",
        );
        between(
            issues,
            "cancel_wait",
            self.cancel_wait,
            Duration::ZERO,
            s(600),
            "0s and 10m",
        );
        between(
            issues,
            "refresh_timeout",
            self.refresh_timeout,
            ms(100),
            s(600),
            "100ms and 10m",
        );
        if !(100..=10_000_000).contains(&self.watch_history) {
            issues.push("watch_history", "must be between 100 and 10000000");
        }
        if !(16..=1_000_000).contains(&self.watch_buffer) {
            issues.push("watch_buffer", "must be between 16 and 1000000");
        }
        if !(1..=100_000).contains(&self.max_watchers) {
            issues.push("max_watchers", "must be between 1 and 100000");
        }
        between(
            issues,
            "heartbeat_interval",
            self.heartbeat_interval,
            ms(100),
            s(3600),
            "100ms and 1h",
        );
        between(
            issues,
            "health_interval",
            self.health_interval,
            ms(100),
            s(300),
            "100ms and 5m",
        );
        if !(10..=10_000_000).contains(&self.history.max_jobs) {
            issues.push("history.max_jobs", "must be between 10 and 10000000");
        }
        between(
            issues,
            "history.max_age",
            self.history.max_age,
            s(60),
            s(366 * 24 * 3600),
            "1m and 366days",
        );
        between(
            issues,
            "history.sweep_interval",
            self.history.sweep_interval,
            s(1),
            s(3600),
            "1s and 1h",
        );
        self.server.validate("server", issues);
        if let Err(message) = self.telemetry.check() {
            issues.push("telemetry.filter", message);
        }
        for (name, client) in [
            ("remote_tasks", &self.remote_tasks),
            ("inventory", &self.inventory),
        ] {
            if let Err((key, message)) = client.check() {
                issues.push(&format!("{name}.{key}"), message);
            }
        }
        if !self.notifications.endpoint.trim().is_empty()
            && let Err((key, message)) = self.notifications.check()
        {
            issues.push(&format!("notifications.{key}"), message);
        }
    }
}
