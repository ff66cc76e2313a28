//! The `[inventory]` configuration section.
//!
//! ```toml
//! [inventory]
//! refresh_interval = "30s"      # each host is refreshed once per interval
//! refresh_concurrency = 64      # scheduled host refreshes running at once
//! host_timeout = "20s"          # one host's inventory.collect, queueing included
//! slow_host_threshold = "10s"   # a refresh longer than this marks the host slow
//! watch_history = 20000         # changes kept for Watch replay
//! watch_buffer = 1024           # batches a watcher may lag before it is resynced
//! heartbeat_interval = "15s"    # idle Watch streams get a heartbeat this often
//!
//! [inventory.watch]             # host watches: out-of-band changes without waiting for the schedule
//! enabled = true                # one inventory.watch per host, refresh on every change
//! length = "5m"                 # one watch's length (1s..1h, whole seconds); the next follows at once
//! backoff_min = "5s"            # first wait after a failed watch (polling continues meanwhile)
//! backoff_max = "1m"            # longest wait, doubling from backoff_min
//!
//! [inventory.server]            # listen (default 127.0.0.1:50053), drain_timeout, keepalive_interval
//! [inventory.telemetry]         # filter, format
//! [inventory.remote_tasks]      # endpoint (default http://127.0.0.1:50051), timeouts
//! [inventory.notifications]     # endpoint (default empty: no notifications), timeouts
//! ```
//!
//! With `notifications.endpoint` set (e.g. `http://127.0.0.1:50055`), host unreachable /
//! recovered, slow hosts and refresh cycles that cannot keep up are published as
//! notifications ([`crate::notify`]); empty, they are only logged.

use std::time::Duration;

use aetherv_runtime::config::{Issues, ServiceConfig, duration};
use aetherv_runtime::telemetry::TelemetryConfig;
use aetherv_runtime::{ClientConfig, ServerConfig};
use serde::{Deserialize, Serialize};

/// Inventory's default port.
pub const DEFAULT_PORT: u16 = 50053;
/// remote-tasks' default port.
const REMOTE_TASKS_PORT: u16 = 50051;

/// The inventory service's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Each host is refreshed once per interval, hosts spread evenly over it.
    #[serde(with = "duration")]
    pub refresh_interval: Duration,
    /// Scheduled host refreshes running at once.
    pub refresh_concurrency: u32,
    /// Time allowed for one host's `inventory.collect` (queueing in remote-tasks included).
    #[serde(with = "duration")]
    pub host_timeout: Duration,
    /// A refresh taking longer than this marks its host slow.
    #[serde(with = "duration")]
    pub slow_host_threshold: Duration,
    /// Changes kept in memory for `Watch` replay.
    pub watch_history: u32,
    /// Change batches a watcher may fall behind before it gets a resync.
    pub watch_buffer: u32,
    /// An idle `Watch` stream gets a heartbeat this often.
    #[serde(with = "duration")]
    pub heartbeat_interval: Duration,
    /// Host watches (`inventory.watch`).
    pub watch: WatchConfig,
    /// The gRPC server.
    pub server: ServerConfig,
    /// Logging.
    pub telemetry: TelemetryConfig,
    /// The remote-tasks service.
    pub remote_tasks: ClientConfig,
    /// The notifications service; an empty endpoint means none.
    pub notifications: ClientConfig,
}

/// The `[inventory.watch]` table: host watches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WatchConfig {
    /// Run one `inventory.watch` per configured host and refresh a host on every change.
    pub enabled: bool,
    /// How long one watch runs before the next begins (1 s to 1 h, whole seconds).
    #[serde(with = "duration")]
    pub length: Duration,
    /// The first wait after a failed watch.
    #[serde(with = "duration")]
    pub backoff_min: Duration,
    /// The longest wait after failed watches (the wait doubles up to it).
    #[serde(with = "duration")]
    pub backoff_max: Duration,
}

impl Default for WatchConfig {
    fn default() -> WatchConfig {
        WatchConfig {
            enabled: true,
            length: Duration::from_secs(300),
            backoff_min: Duration::from_secs(5),
            backoff_max: Duration::from_secs(60),
        }
    }
}

impl WatchConfig {
    fn validate(&self, issues: &mut Issues) {
        if self.length < Duration::from_secs(1)
            || self.length > Duration::from_secs(3600)
            || self.length.subsec_nanos() != 0
        {
            issues.push("watch.length", "must be whole seconds between 1s and 1h");
        }
        if self.backoff_min < Duration::from_millis(100) || self.backoff_min > self.backoff_max {
            issues.push(
                "watch.backoff_min",
                "must be at least 100ms and at most watch.backoff_max",
            );
        }
        if self.backoff_max > Duration::from_secs(3600) {
            issues.push("watch.backoff_max", "must be at most 1h");
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            refresh_interval: Duration::from_secs(30),
            refresh_concurrency: 64,
            host_timeout: Duration::from_secs(20),
            slow_host_threshold: Duration::from_secs(10),
            watch_history: 20_000,
            watch_buffer: 1024,
            heartbeat_interval: Duration::from_secs(15),
            watch: WatchConfig::default(),
            server: ServerConfig::on_port(DEFAULT_PORT),
            telemetry: TelemetryConfig::default(),
            remote_tasks: ClientConfig::local(REMOTE_TASKS_PORT),
            notifications: ClientConfig {
                endpoint: String::new(),
                ..ClientConfig::local(0)
            },
        }
    }
}

impl Config {
    /// For tests: loopback port 0, a short drain, remote-tasks at `endpoint`, and the
    /// defaults otherwise.
    pub fn for_testing(remote_tasks_endpoint: &str) -> Config {
        Config {
            server: ServerConfig::for_testing(),
            remote_tasks: ClientConfig {
                endpoint: remote_tasks_endpoint.to_string(),
                ..ClientConfig::local(REMOTE_TASKS_PORT)
            },
            ..Config::default()
        }
    }
}

impl ServiceConfig for Config {
    const SECTION: &'static str = "inventory";

    fn validate(&self, issues: &mut Issues) {
        if self.refresh_interval < Duration::from_secs(1)
            || self.refresh_interval > Duration::from_secs(24 * 3600)
        {
            issues.push("refresh_interval", "must be between 1s and 24h");
        }
        if !(1..=10_000).contains(&self.refresh_concurrency) {
            issues.push("refresh_concurrency", "must be between 1 and 10000");
        }
        if self.host_timeout < Duration::from_secs(1)
            || self.host_timeout > Duration::from_secs(3600)
        {
            issues.push("host_timeout", "must be between 1s and 1h");
        }
        if self.slow_host_threshold.is_zero() {
            issues.push("slow_host_threshold", "must be more than 0s");
        }
        if !(100..=10_000_000).contains(&self.watch_history) {
            issues.push("watch_history", "must be between 100 and 10000000");
        }
        if !(16..=1_000_000).contains(&self.watch_buffer) {
            issues.push("watch_buffer", "must be between 16 and 1000000");
        }
        if self.heartbeat_interval < Duration::from_millis(100)
            || self.heartbeat_interval > Duration::from_secs(3600)
        {
            issues.push("heartbeat_interval", "must be between 100ms and 1h");
        }
        self.watch.validate(issues);
        self.server.validate("server", issues);
        if let Err(message) = self.telemetry.check() {
            issues.push("telemetry.filter", message);
        }
        if let Err((key, message)) = self.remote_tasks.check() {
            issues.push(&format!("remote_tasks.{key}"), message);
        }
        if !self.notifications.endpoint.trim().is_empty()
            && let Err((key, message)) = self.notifications.check()
        {
            issues.push(&format!("notifications.{key}"), message);
        }
    }
}
