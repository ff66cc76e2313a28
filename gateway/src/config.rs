//! The `[gateway]` configuration: where the services are, HTTP and WebSocket limits, and the
//! development-mode switch. Loaded through the runtime's layered loader (defaults → TOML
//! `[gateway]` table → `AETHERV_GATEWAY__…` → flags).
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `dev_mode` | `false` | serve the API without authentication (authentication arrives in a later release; until then the API is only served with `true`, and every response says so in `X-AetherV-Mode: development`) |
//! | `server.listen` | `127.0.0.1:8080` | address the binary binds |
//! | `server.drain_timeout` | `10s` | how long in-flight requests and WebSockets may take to finish on shutdown |
//! | `telemetry.filter`, `telemetry.format` | `info`, `text` | logging |
//! | `inventory.endpoint` | `http://127.0.0.1:50053` | the inventory service (`connect_timeout`, `request_timeout` 10 s, `keepalive_interval` beside it) |
//! | `remote_tasks.endpoint` | `http://127.0.0.1:50051` | the remote-tasks service (same timeouts) |
//! | `jobs.endpoint` | `http://127.0.0.1:50054` | the jobs service (same timeouts): every mutation, the jobs topics |
//! | `notifications.endpoint` | `http://127.0.0.1:50055` | the notifications service (same timeouts) |
//! | `http.max_body_bytes` | `65536` | largest request body |
//! | `http.compression_min_bytes` | `1024` | responses at least this large are gzip-compressed when the client accepts it |
//! | `http.readiness_timeout` | `2s` | time each dependency has to answer `/readyz` checks |
//! | `http.bulk_concurrency` | `16` | VMs of a bulk power request submitted at once |
//! | `websocket.max_connections` | `10000` | concurrent WebSockets; more are refused with 429 |
//! | `websocket.max_topics` | `16` | subscriptions per connection |
//! | `websocket.max_message_bytes` | `65536` | largest client message |
//! | `websocket.idle_timeout` | `90s` | a connection that sends nothing for this long is closed |
//! | `websocket.ping_interval` | `30s` | how often clients are told to ping |
//! | `websocket.replay_buffer` | `4096` | events per topic kept for resuming clients; older cursors are replayed from the service's own history |
//! | `websocket.catch_up_concurrency` | `32` | resuming clients replayed from a service at once |
//! | `websocket.max_job_topics` | `256` | distinct `jobs:<id>` topics followed at once (each is one jobs `Watch` stream) |
//! | `websocket.job_topic_linger` | `60s` | how long a `jobs:<id>` stream stays open after its last subscriber left (a reconnecting client resumes from the gateway's buffer) |
//!
//! Problems that types and ranges cannot catch — `dev_mode` off, a malformed endpoint — do
//! not stop the gateway: it starts in diagnostic mode ([`Config::diagnostics`]): `/readyz`
//! lists them and `/api` and `/ws` answer 503 with them.

use std::net::SocketAddr;
use std::time::Duration;

use aetherv_runtime::ClientConfig;
use aetherv_runtime::config::{Issues, ServiceConfig, duration};
use aetherv_runtime::telemetry::TelemetryConfig;
use serde::{Deserialize, Serialize};

/// The gateway's configuration (the `[gateway]` table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Serve the API without authentication, and say so on every response.
    pub dev_mode: bool,
    /// Listening address and drain deadline.
    pub server: HttpServerConfig,
    /// Logging.
    pub telemetry: TelemetryConfig,
    /// The inventory service.
    pub inventory: ClientConfig,
    /// The remote-tasks service.
    pub remote_tasks: ClientConfig,
    /// The jobs service.
    pub jobs: ClientConfig,
    /// The notifications service.
    pub notifications: ClientConfig,
    /// HTTP limits and timeouts.
    pub http: HttpConfig,
    /// WebSocket limits.
    pub websocket: WebSocketConfig,
}

/// The `server` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpServerConfig {
    /// Address the binary binds (`serve` itself takes a bound listener).
    pub listen: SocketAddr,
    /// How long in-flight requests and WebSockets may take to finish after shutdown begins.
    #[serde(with = "duration")]
    pub drain_timeout: Duration,
}

/// The `http` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Responses at least this large are gzip-compressed for clients that accept it.
    pub compression_min_bytes: u16,
    /// Time each dependency has to answer the readiness checks.
    #[serde(with = "duration")]
    pub readiness_timeout: Duration,
    /// VMs of a bulk power request submitted at once.
    pub bulk_concurrency: usize,
}

/// The `websocket` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebSocketConfig {
    /// Concurrent connections; more are refused with 429.
    pub max_connections: usize,
    /// Subscriptions per connection.
    pub max_topics: usize,
    /// Largest client message (and frame).
    pub max_message_bytes: usize,
    /// A connection that sends nothing for this long is closed.
    #[serde(with = "duration")]
    pub idle_timeout: Duration,
    /// How often clients are told to ping (in the hello frame).
    #[serde(with = "duration")]
    pub ping_interval: Duration,
    /// Events per topic kept for resuming clients.
    pub replay_buffer: usize,
    /// Resuming clients replayed from a service's history at once.
    pub catch_up_concurrency: usize,
    /// Distinct `jobs:<id>` topics followed at once.
    pub max_job_topics: usize,
    /// How long a `jobs:<id>` stream stays open after its last subscriber left.
    #[serde(with = "duration")]
    pub job_topic_linger: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            dev_mode: false,
            server: HttpServerConfig::default(),
            telemetry: TelemetryConfig::default(),
            inventory: client(50053),
            remote_tasks: client(50051),
            jobs: client(50054),
            notifications: client(50055),
            http: HttpConfig::default(),
            websocket: WebSocketConfig::default(),
        }
    }
}

impl Default for HttpServerConfig {
    fn default() -> HttpServerConfig {
        HttpServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            drain_timeout: Duration::from_secs(10),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            max_body_bytes: 64 * 1024,
            compression_min_bytes: 1024,
            readiness_timeout: Duration::from_secs(2),
            bulk_concurrency: 16,
        }
    }
}

impl Default for WebSocketConfig {
    fn default() -> WebSocketConfig {
        WebSocketConfig {
            max_connections: 10_000,
            max_topics: 16,
            max_message_bytes: 64 * 1024,
            idle_timeout: Duration::from_secs(90),
            ping_interval: Duration::from_secs(30),
            replay_buffer: 4096,
            catch_up_concurrency: 32,
            max_job_topics: 256,
            job_topic_linger: Duration::from_secs(60),
        }
    }
}

fn client(port: u16) -> ClientConfig {
    ClientConfig {
        request_timeout: Duration::from_secs(10),
        ..ClientConfig::local(port)
    }
}

impl Config {
    /// For tests: development mode on, inventory and remote-tasks at the given addresses
    /// (`http://…`), a 2 s drain, defaults otherwise (jobs and notifications at their
    /// default ports: set them too).
    pub fn for_testing(inventory: &str, remote_tasks: &str) -> Config {
        let mut config = Config {
            dev_mode: true,
            ..Config::default()
        };
        config.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.server.drain_timeout = Duration::from_secs(2);
        config.inventory.endpoint = inventory.to_string();
        config.remote_tasks.endpoint = remote_tasks.to_string();
        config
    }

    /// The problems that put the gateway in diagnostic mode (empty when none), one line
    /// each, naming the key.
    pub fn diagnostics(&self) -> Vec<String> {
        let mut issues = Vec::new();
        if !self.dev_mode {
            issues.push(
                "gateway.dev_mode: authentication is not available in this release; set \
                 dev_mode = true to serve the api without authentication"
                    .to_string(),
            );
        }
        for (key, client) in [
            ("inventory", &self.inventory),
            ("remote_tasks", &self.remote_tasks),
            ("jobs", &self.jobs),
            ("notifications", &self.notifications),
        ] {
            if client.endpoint.trim().is_empty() {
                issues.push(format!("gateway.{key}.endpoint: must be set"));
                continue;
            }
            if let Err(("endpoint", message)) = client.check() {
                issues.push(format!("gateway.{key}.endpoint: {message}"));
            }
        }
        issues
    }
}

impl ServiceConfig for Config {
    const SECTION: &'static str = "gateway";

    fn validate(&self, issues: &mut Issues) {
        if self.server.drain_timeout.is_zero()
            || self.server.drain_timeout > Duration::from_secs(600)
        {
            issues.push("server.drain_timeout", "must be between 1ms and 10m");
        }
        if let Err(message) = self.telemetry.check() {
            issues.push("telemetry.filter", message);
        }
        for (key, client) in [
            ("inventory", &self.inventory),
            ("remote_tasks", &self.remote_tasks),
            ("jobs", &self.jobs),
            ("notifications", &self.notifications),
        ] {
            // Endpoint problems are diagnostics (the gateway still starts); timeouts are not.
            if let Err((field, message)) = client.check()
                && field != "endpoint"
            {
                issues.push(&format!("{key}.{field}"), message);
            }
        }
        let http = &self.http;
        if !(1024..=64 * 1024 * 1024).contains(&http.max_body_bytes) {
            issues.push("http.max_body_bytes", "must be between 1024 and 67108864");
        }
        if http.readiness_timeout.is_zero() || http.readiness_timeout > Duration::from_secs(60) {
            issues.push("http.readiness_timeout", "must be between 1ms and 60s");
        }
        if !(1..=256).contains(&http.bulk_concurrency) {
            issues.push("http.bulk_concurrency", "must be between 1 and 256");
        }
        let ws = &self.websocket;
        if ws.max_connections == 0 {
            issues.push("websocket.max_connections", "must be at least 1");
        }
        if !(1..=256).contains(&ws.max_topics) {
            issues.push("websocket.max_topics", "must be between 1 and 256");
        }
        if !(1024..=16 * 1024 * 1024).contains(&ws.max_message_bytes) {
            issues.push(
                "websocket.max_message_bytes",
                "must be between 1024 and 16777216",
            );
        }
        if ws.idle_timeout < Duration::from_secs(1) {
            issues.push("websocket.idle_timeout", "must be at least 1s");
        }
        if ws.ping_interval < Duration::from_secs(1) || ws.ping_interval >= ws.idle_timeout {
            issues.push(
                "websocket.ping_interval",
                "must be at least 1s and shorter than websocket.idle_timeout",
            );
        }
        if !(2..=1_000_000).contains(&ws.replay_buffer) {
            issues.push("websocket.replay_buffer", "must be between 2 and 1000000");
        }
        if !(1..=10_000).contains(&ws.catch_up_concurrency) {
            issues.push(
                "websocket.catch_up_concurrency",
                "must be between 1 and 10000",
            );
        }
        if !(1..=10_000).contains(&ws.max_job_topics) {
            issues.push("websocket.max_job_topics", "must be between 1 and 10000");
        }
        if ws.job_topic_linger > Duration::from_secs(3600) {
            issues.push("websocket.job_topic_linger", "must be at most 1h");
        }
    }
}

#[cfg(test)]
mod tests {
    use aetherv_runtime::config::Loader;

    use super::*;

    #[test]
    fn defaults_load_and_put_the_gateway_in_diagnostic_mode() {
        let config: Config = match Loader::new().load() {
            Ok(config) => config,
            Err(error) => panic!("defaults must load: {error}"),
        };
        assert_eq!(config.server.listen.port(), 8080);
        assert!(!config.dev_mode);
        let issues = config.diagnostics();
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert!(issues[0].starts_with("gateway.dev_mode:"));
    }

    #[test]
    fn environment_and_flags_set_keys_and_bad_values_name_the_key() {
        let config: Result<Config, _> = Loader::new()
            .env([
                ("AETHERV_GATEWAY__DEV_MODE", "true"),
                ("AETHERV_GATEWAY__WEBSOCKET__REPLAY_BUFFER", "64"),
            ])
            .flag("inventory.endpoint", "http://127.0.0.1:1", "--set")
            .load();
        let Ok(config) = config else {
            panic!("config should load: {config:?}");
        };
        assert!(config.dev_mode);
        assert_eq!(config.websocket.replay_buffer, 64);
        assert_eq!(config.inventory.endpoint, "http://127.0.0.1:1");
        assert!(config.diagnostics().is_empty());

        let bad: Result<Config, _> = Loader::new()
            .env([("AETHERV_GATEWAY__WEBSOCKET__MAX_TOPICS", "0")])
            .load();
        let message = bad.map(|_| ()).map_err(|e| e.to_string());
        let Err(message) = message else {
            panic!("max_topics 0 must be refused");
        };
        assert!(
            message.contains("gateway.websocket.max_topics"),
            "{message}"
        );
    }

    #[test]
    fn malformed_endpoints_are_diagnostics_not_load_errors() {
        let mut config = Config::for_testing("http://127.0.0.1:1", "127.0.0.1:2");
        config.jobs.endpoint = "nonsense".to_string();
        let issues = config.diagnostics();
        assert_eq!(issues.len(), 2, "{issues:?}");
        assert!(issues[0].starts_with("gateway.remote_tasks.endpoint:"));
        assert!(issues[1].starts_with("gateway.jobs.endpoint:"));
    }
}
