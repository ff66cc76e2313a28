//! The `[remote_tasks]` configuration, loaded through the runtime's layered loader
//! (defaults → TOML `[remote_tasks]` table → `AETHERV_REMOTE_TASKS__…` → flags). Every key
//! is documented in the crate documentation and in `config.example.toml`.
//!
//! [`Config::validate`] checks what can be checked without reading other files; the
//! hosts file and the password file are read by [`Config::resolve`], which turns the
//! configuration into host targets and limits. A problem at either stage does not stop the
//! service: it serves NOT_SERVING with the reasons and refuses Run.

mod boot;
mod resolve;
mod validate;

use std::path::{Path, PathBuf};
use std::time::Duration;

use aetherv_runtime::config::{Issues, ServiceConfig, duration};
use aetherv_runtime::telemetry::TelemetryConfig;
use aetherv_runtime::{SecretString, ServerConfig};
use serde::{Deserialize, Serialize};

pub use boot::{Startup, startup};
pub use resolve::{FleetFile, FleetWinrm, Resolved};

/// The default port (ARCHITECTURE.md).
pub const DEFAULT_PORT: u16 = 50051;

/// The environment variable that carries the WinRM password (the loader maps it onto
/// `winrm.password`; a flag or the configuration file may not set it).
pub const PASSWORD_VARIABLE: &str = "AETHERV_REMOTE_TASKS__WINRM__PASSWORD";

/// The `[remote_tasks]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Listening address, drain deadline, keepalive.
    pub server: ServerConfig,
    /// Logging.
    pub telemetry: TelemetryConfig,
    /// The hosts, inline. Either this or `hosts_file`.
    pub hosts: Vec<HostEntry>,
    /// A fleet file as `aetherv-hvsim --write-fleet-config` writes it (`[[hosts]]` and a
    /// `[winrm]` table). Either this or `hosts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts_file: Option<PathBuf>,
    /// How to reach and authenticate to the hosts.
    pub winrm: WinrmConfig,
    /// Concurrency limits, queue bounds and timeouts.
    pub limits: LimitsConfig,
}

/// One `[[remote_tasks.hosts]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostEntry {
    /// The host's name (its identity, lower-cased): a DNS name or an IPv4 address.
    pub name: String,
    /// Its WS-Management URL; absent for `http://<name>:5985/wsman`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

impl HostEntry {
    /// A host at its default endpoint.
    pub fn named(name: &str) -> HostEntry {
        HostEntry {
            name: name.to_string(),
            endpoint: None,
        }
    }

    /// A host at `endpoint`.
    pub fn at(name: &str, endpoint: &str) -> HostEntry {
        HostEntry {
            name: name.to_string(),
            endpoint: Some(endpoint.to_string()),
        }
    }
}

/// WinRM authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthName {
    /// NTLM with message encryption (HTTP or HTTPS).
    Ntlm,
    /// Basic: HTTPS only, unless `insecure_http`.
    Basic,
}

/// The `[remote_tasks.winrm]` table. Keys left unset take the hosts file's `[winrm]`
/// values, then the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WinrmConfig {
    /// `ntlm` (default) or `basic`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthName>,
    /// `user`, `DOMAIN\user` or `user@domain`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The password; only from the environment variable [`PASSWORD_VARIABLE`].
    pub password: SecretString,
    /// A file whose first line is the password (mode 0600 expected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// PEM CA certificates to trust for HTTPS endpoints instead of the system roots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Allow Basic over plain HTTP (lab only: the password crosses the wire readable).
    pub insecure_http: bool,
    /// TCP (and TLS) connect timeout.
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
    /// How long one WS-Management request may take (the Receive long poll is kept below
    /// it); an unresponsive host is detected after this long.
    #[serde(with = "duration")]
    pub operation_timeout: Duration,
    /// Authenticated keep-alive connections kept per host.
    pub pool_size: u32,
}

impl Default for WinrmConfig {
    fn default() -> WinrmConfig {
        WinrmConfig {
            auth: None,
            username: None,
            password: SecretString::default(),
            password_file: None,
            ca_file: None,
            insecure_http: false,
            connect_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(30),
            pool_size: 4,
        }
    }
}

/// The `[remote_tasks.limits]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitsConfig {
    /// Operations in flight at once across all hosts.
    pub global_in_flight: u32,
    /// Operations in flight at once on one host, all categories.
    pub per_host_in_flight: u32,
    /// Tasks waiting for one host beyond which Run answers RESOURCE_EXHAUSTED.
    pub per_host_queue_capacity: u32,
    /// Read-only collection.
    pub inventory: CategoryConfig,
    /// Quick mutations.
    pub control: CategoryConfig,
    /// Heavy disk work.
    pub io: CategoryConfig,
    /// Agent installation.
    pub deploy: CategoryConfig,
    /// Host watches (`inventory.watch`): outside the global and per-host limits.
    pub watch: CategoryConfig,
}

/// The limits of one category (`[remote_tasks.limits.<category>]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryConfig {
    /// Operations of the category in flight at once, all hosts.
    pub in_flight: u32,
    /// Operations of the category in flight at once on one host.
    pub per_host_in_flight: u32,
    /// Waiting tasks beyond which Run answers RESOURCE_EXHAUSTED.
    pub queue_capacity: u32,
    /// Run timeout when a request names none.
    #[serde(with = "duration")]
    pub default_timeout: Duration,
    /// Longest run timeout a request may ask for.
    #[serde(with = "duration")]
    pub max_timeout: Duration,
}

fn category(
    in_flight: u32,
    per_host_in_flight: u32,
    queue_capacity: u32,
    default_timeout: Duration,
    max_timeout: Duration,
) -> CategoryConfig {
    CategoryConfig {
        in_flight,
        per_host_in_flight,
        queue_capacity,
        default_timeout,
        max_timeout,
    }
}

const MINUTE: Duration = Duration::from_secs(60);

impl Default for LimitsConfig {
    fn default() -> LimitsConfig {
        LimitsConfig {
            global_in_flight: 64,
            per_host_in_flight: 4,
            per_host_queue_capacity: 256,
            inventory: category(64, 2, 4096, MINUTE, 5 * MINUTE),
            control: category(32, 4, 2048, 5 * MINUTE, 30 * MINUTE),
            io: category(16, 1, 1024, 30 * MINUTE, 240 * MINUTE),
            deploy: category(16, 1, 1024, 10 * MINUTE, 60 * MINUTE),
            // One watch per host on fleets of thousands of hosts; a watch lasts up to an
            // hour (the agent's limit) plus the time to end it.
            watch: category(10_000, 1, 10_000, 10 * MINUTE, 120 * MINUTE),
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            server: ServerConfig::on_port(DEFAULT_PORT),
            telemetry: TelemetryConfig::default(),
            hosts: Vec::new(),
            hosts_file: None,
            winrm: WinrmConfig::default(),
            limits: LimitsConfig::default(),
        }
    }
}

impl ServiceConfig for Config {
    const SECTION: &'static str = "remote_tasks";

    fn validate(&self, issues: &mut Issues) {
        validate::check(self, issues);
    }
}

impl Config {
    /// For tests: these hosts, NTLM as `username`/`password`, a loopback server on port
    /// 0, short WinRM timeouts, and the default limits.
    pub fn for_testing(hosts: Vec<HostEntry>, username: &str, password: &str) -> Config {
        Config {
            server: ServerConfig::for_testing(),
            hosts,
            winrm: WinrmConfig {
                username: Some(username.to_string()),
                password: SecretString::new(password.to_string()),
                connect_timeout: Duration::from_secs(2),
                operation_timeout: Duration::from_secs(10),
                ..WinrmConfig::default()
            },
            ..Config::default()
        }
    }

    /// The limits of `name`'s category table.
    pub fn category_mut(&mut self, category: crate::domain::Category) -> &mut CategoryConfig {
        use crate::domain::Category;
        match category {
            Category::Inventory => &mut self.limits.inventory,
            Category::Control => &mut self.limits.control,
            Category::Io => &mut self.limits.io,
            Category::Deploy => &mut self.limits.deploy,
            Category::Watch => &mut self.limits.watch,
        }
    }
}

/// Places a password may not come from: a `--set winrm.password=…` flag or the
/// configuration file (it belongs in the environment or a password file). One message per
/// offending place; the value is never repeated.
pub fn forbidden_password_sources(file: Option<&Path>, set_keys: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    if set_keys.iter().any(|key| key.trim() == "winrm.password") {
        problems.push(format!(
            "remote_tasks.winrm.password: may not be given as a flag (it would show in the \
             process list); use {PASSWORD_VARIABLE} or winrm.password_file"
        ));
    }
    let in_file = file
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| text.parse::<toml::Table>().ok())
        .is_some_and(|table| {
            table
                .get("remote_tasks")
                .and_then(|section| section.get("winrm"))
                .and_then(|winrm| winrm.get("password"))
                .is_some()
        });
    if in_file {
        problems.push(format!(
            "remote_tasks.winrm.password: may not be written in the configuration file; use \
             {PASSWORD_VARIABLE} or winrm.password_file"
        ));
    }
    problems
}
