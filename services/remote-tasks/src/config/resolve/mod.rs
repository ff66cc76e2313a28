//! From configuration to what the service runs with ([`Resolved`]): the hosts (inline or
//! from the hosts file), the WinRM settings (the service's keys first, then the hosts
//! file's `[winrm]` table, then the defaults), the password (environment or password file)
//! and the limits. Every problem is one line naming its key.
//!
//! The hosts file is the one `aetherv-hvsim --write-fleet-config` writes:
//!
//! ```toml
//! [[hosts]]
//! name = "hv-ams-c1-n01.corp.example"
//! endpoint = "http://127.0.10.1:5985/wsman"
//!
//! [winrm]
//! auth = "ntlm"
//! username = "aetherv"
//! password_file = "/tmp/hvsim-password"   # relative paths are relative to this file
//! # password_env = "AETHERV_HVSIM_PASSWORD"  (instead: an environment variable)
//! ca_file = "/tmp/hvsim-ca.pem"           # optional (https endpoints)
//! ```
//!
//! The password: `AETHERV_REMOTE_TASKS__WINRM__PASSWORD`, else `winrm.password_file`,
//! else the hosts file's `password_file`, else the variable its `password_env` names.
//!
//! Keys this service does not use are ignored, so the simulator may add facts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aetherv_hyperv::{AuthKind, EndpointSettings, HostTarget, Secret, Timeouts};
use aetherv_runtime::config::{Issues, ServiceConfig};
use serde::Deserialize;

use super::{AuthName, CategoryConfig, Config, HostEntry, PASSWORD_VARIABLE};
use crate::domain::{Category, CategoryLimit, Limits, PerCategory};

/// What the service runs with.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// One target per host, with its endpoint and credentials.
    pub hosts: Vec<HostTarget>,
    /// The limits.
    pub limits: Limits,
    /// Connections kept per host.
    pub pool_size: usize,
}

/// The hosts file.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FleetFile {
    /// The hosts.
    #[serde(default)]
    pub hosts: Vec<HostEntry>,
    /// WinRM settings for all of them.
    #[serde(default)]
    pub winrm: FleetWinrm,
}

/// The hosts file's `[winrm]` table.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FleetWinrm {
    /// `ntlm` or `basic`.
    pub auth: Option<AuthName>,
    /// The user.
    pub username: Option<String>,
    /// The file holding the password.
    pub password_file: Option<PathBuf>,
    /// The environment variable holding the password.
    pub password_env: Option<String>,
    /// PEM CA file for HTTPS endpoints.
    pub ca_file: Option<PathBuf>,
    /// Basic over plain HTTP allowed.
    pub insecure_http: Option<bool>,
}

const SECTION: &str = <Config as ServiceConfig>::SECTION;

fn reason(key: &str, message: impl std::fmt::Display) -> String {
    format!("{SECTION}.{key}: {message}")
}

impl Config {
    /// Validates and resolves the configuration; `Err` holds every problem, one line each
    /// (`remote_tasks.<key>: <what is wrong>`), never a secret. A hosts file's
    /// `password_env` is read from the process environment.
    pub fn resolve(&self) -> Result<Resolved, Vec<String>> {
        self.resolve_with_env(|name| std::env::var(name).ok())
    }

    /// [`Config::resolve`] with `env` standing for the process environment.
    pub fn resolve_with_env(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Resolved, Vec<String>> {
        let mut issues = Issues::new(SECTION);
        ServiceConfig::validate(self, &mut issues);
        let mut problems: Vec<String> = issues.list().iter().map(ToString::to_string).collect();
        if !problems.is_empty() {
            return Err(problems);
        }
        let (entries, fleet, base) = match &self.hosts_file {
            Some(path) => match read_fleet(path) {
                Ok(fleet) => {
                    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
                    (fleet.hosts.clone(), fleet.winrm, base)
                }
                Err(problem) => return Err(vec![problem]),
            },
            None => (self.hosts.clone(), FleetWinrm::default(), PathBuf::new()),
        };
        if entries.is_empty() {
            problems.push(reason("hosts_file", "lists no hosts"));
        }
        let winrm = &self.winrm;
        let auth = winrm.auth.or(fleet.auth).unwrap_or(AuthName::Ntlm);
        let username = winrm
            .username
            .clone()
            .or(fleet.username)
            .unwrap_or_default();
        if username.trim().is_empty() {
            problems.push(reason(
                "winrm.username",
                "is required (here or in the hosts file)",
            ));
        }
        let ca_file = winrm
            .ca_file
            .clone()
            .or_else(|| fleet.ca_file.map(|file| base.join(file)));
        let password = if !winrm.password.is_empty() {
            Some(Secret::new(winrm.password.expose().clone()))
        } else {
            let file = winrm
                .password_file
                .clone()
                .or_else(|| fleet.password_file.map(|file| base.join(file)));
            match (file, &fleet.password_env) {
                (Some(file), _) => match read_password(&file) {
                    Ok(password) => Some(password),
                    Err(problem) => {
                        problems.push(problem);
                        None
                    }
                },
                (None, Some(variable)) => match env(variable).filter(|p| !p.is_empty()) {
                    Some(password) => Some(Secret::new(password)),
                    None => {
                        problems.push(reason(
                            "hosts_file",
                            format!("password_env names {variable}, which is not set"),
                        ));
                        None
                    }
                },
                (None, None) => {
                    problems.push(reason(
                        "winrm.password",
                        format!(
                            "is required: set the environment variable {PASSWORD_VARIABLE} or winrm.password_file"
                        ),
                    ));
                    None
                }
            }
        };
        let Some(password) = password else {
            return Err(problems);
        };
        let settings = EndpointSettings {
            url: None,
            auth: match auth {
                AuthName::Ntlm => AuthKind::Ntlm,
                AuthName::Basic => AuthKind::Basic,
            },
            username,
            password,
            ca_file,
            insecure_http: winrm.insecure_http || fleet.insecure_http.unwrap_or(false),
            timeouts: Timeouts {
                connect: winrm.connect_timeout,
                request: winrm.operation_timeout,
                command: self.longest_timeout(),
            },
        };
        let hosts = targets(
            &entries,
            &settings,
            self.hosts_file.is_some(),
            &mut problems,
        );
        if problems.is_empty() {
            Ok(Resolved {
                hosts,
                limits: self.domain_limits(),
                pool_size: winrm.pool_size as usize,
            })
        } else {
            Err(problems)
        }
    }

    fn longest_timeout(&self) -> Duration {
        Category::ALL
            .iter()
            .map(|category| self.category(*category).max_timeout)
            .max()
            .unwrap_or(Duration::from_secs(300))
    }

    fn category(&self, category: Category) -> &CategoryConfig {
        match category {
            Category::Inventory => &self.limits.inventory,
            Category::Control => &self.limits.control,
            Category::Io => &self.limits.io,
            Category::Deploy => &self.limits.deploy,
            Category::Watch => &self.limits.watch,
        }
    }

    /// The limits in force: a limit above the one enclosing it is capped by it (a host
    /// cannot run more than the global limit, a category on a host more than the host).
    /// The watch category is outside the global and per-host limits: only its own apply.
    pub fn domain_limits(&self) -> Limits {
        let global = self.limits.global_in_flight;
        let per_host = self.limits.per_host_in_flight.min(global);
        let limit = |category: Category| {
            let config = self.category(category);
            let (global, per_host) = if category.shares_host_limits() {
                (global, per_host)
            } else {
                (u32::MAX, u32::MAX)
            };
            CategoryLimit {
                in_flight: config.in_flight.min(global),
                per_host_in_flight: config
                    .per_host_in_flight
                    .min(per_host)
                    .min(config.in_flight),
                queue_capacity: config.queue_capacity,
                default_timeout: config.default_timeout,
                max_timeout: config.max_timeout,
            }
        };
        Limits {
            global_in_flight: global,
            per_host_in_flight: per_host,
            per_host_queue_capacity: self.limits.per_host_queue_capacity,
            categories: PerCategory(Category::ALL.map(limit)),
        }
    }
}

/// One target per entry; a problem with the shared settings is reported once. `ca_file`
/// applies to the https hosts and `insecure_http` to the http ones.
fn targets(
    entries: &[HostEntry],
    settings: &EndpointSettings,
    from_file: bool,
    problems: &mut Vec<String>,
) -> Vec<HostTarget> {
    let mut targets = Vec::with_capacity(entries.len());
    let mut seen = std::collections::BTreeSet::new();
    for (index, entry) in entries.iter().enumerate() {
        let where_ = if from_file {
            format!("hosts_file: hosts[{index}]")
        } else {
            format!("hosts[{index}]")
        };
        // The shared TLS settings concern https hosts, the lab switch http ones.
        let https = entry.endpoint.as_deref().is_some_and(|url| {
            url.get(..6)
                .is_some_and(|s| s.eq_ignore_ascii_case("https:"))
        });
        let settings = EndpointSettings {
            url: entry.endpoint.clone(),
            ca_file: settings.ca_file.clone().filter(|_| https),
            insecure_http: settings.insecure_http && !https,
            ..settings.clone()
        };
        match HostTarget::new(&entry.name, settings) {
            Ok(target) => {
                if !seen.insert(target.id().clone()) {
                    problems.push(reason(
                        &format!("{where_}.name"),
                        format!("host {} is listed twice", target.id()),
                    ));
                }
                targets.push(target);
            }
            Err(error) => {
                let problem = match error.field {
                    "host" => reason(&format!("{where_}.name"), error.reason),
                    "url" => reason(&format!("{where_}.endpoint"), error.reason),
                    field => reason(
                        &format!("winrm.{field}"),
                        format!("{} (host {})", error.reason, entry.name),
                    ),
                };
                let shared = problem.starts_with(&format!("{SECTION}.winrm."));
                let key = problem.split(':').next().unwrap_or_default().to_string();
                // A shared setting's problem repeats for every host: say it once.
                if !(shared && problems.iter().any(|p| p.starts_with(&key))) {
                    problems.push(problem);
                }
            }
        }
    }
    targets
}

fn read_fleet(path: &Path) -> Result<FleetFile, String> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        reason(
            "hosts_file",
            format!("cannot read {}: {error}", path.display()),
        )
    })?;
    toml::from_str(&text).map_err(|error| {
        reason(
            "hosts_file",
            format!(
                "{} is not a valid hosts file: {}",
                path.display(),
                error.message()
            ),
        )
    })
}

/// The first line of the password file.
fn read_password(path: &Path) -> Result<Secret, String> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        reason(
            "winrm.password_file",
            format!("cannot read {}: {error}", path.display()),
        )
    })?;
    warn_if_readable_by_others(path);
    let password = text.lines().next().unwrap_or_default();
    if password.is_empty() {
        return Err(reason(
            "winrm.password_file",
            format!("{} is empty", path.display()),
        ));
    }
    Ok(Secret::new(password))
}

fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            file = %path.display(),
            "the password file is readable by other users; make it mode 0600"
        );
    }
}

#[cfg(test)]
mod tests;
