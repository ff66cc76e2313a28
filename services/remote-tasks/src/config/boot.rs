//! What `serve` starts with ([`Startup`]), and how the binary gets one even from a
//! configuration the loader refuses: it then loads only `server` and `telemetry` (so the
//! service listens where the operator said) and starts NOT_SERVING with the reasons.

use aetherv_runtime::ServerConfig;
use aetherv_runtime::config::{Issues, Loader, ServiceConfig};
use aetherv_runtime::telemetry::TelemetryConfig;
use serde::{Deserialize, Serialize};

use super::{Config, DEFAULT_PORT};

/// The configuration `serve` runs with.
#[derive(Debug, Clone)]
pub enum Startup {
    /// Loaded; `serve` still resolves it (hosts file, password) and may find problems.
    Loaded(Config),
    /// Could not be loaded: serve NOT_SERVING with `reasons`, listening per `config.server`.
    Invalid {
        /// Defaults, with the `server` and `telemetry` tables that could be read.
        config: Config,
        /// Every problem, one line each.
        reasons: Vec<String>,
    },
}

impl From<Config> for Startup {
    fn from(config: Config) -> Startup {
        Startup::Loaded(config)
    }
}

impl Startup {
    /// The configuration (for the listen address and telemetry).
    pub fn config(&self) -> &Config {
        match self {
            Startup::Loaded(config) | Startup::Invalid { config, .. } => config,
        }
    }
}

/// Only `server` and `telemetry` of `[remote_tasks]`; every other key is accepted as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct BootConfig {
    server: ServerConfig,
    telemetry: TelemetryConfig,
    #[serde(flatten)]
    rest: toml::Table,
}

impl Default for BootConfig {
    fn default() -> BootConfig {
        BootConfig {
            server: ServerConfig::on_port(DEFAULT_PORT),
            telemetry: TelemetryConfig::default(),
            rest: toml::Table::new(),
        }
    }
}

impl ServiceConfig for BootConfig {
    const SECTION: &'static str = "remote_tasks";

    fn validate(&self, issues: &mut Issues) {
        self.server.validate("server", issues);
    }
}

/// Loads the configuration with `loader()` (called once or twice: the full load, then the
/// fallback). `extra` are problems found outside the loader (a password given as a flag).
/// `Err` only when not even `server` can be read: then there is nowhere to listen.
pub fn startup(loader: impl Fn() -> Loader, extra: Vec<String>) -> Result<Startup, Vec<String>> {
    match loader().load::<Config>() {
        Ok(config) if extra.is_empty() => Ok(Startup::Loaded(config)),
        Ok(config) => Ok(Startup::Invalid {
            config,
            reasons: extra,
        }),
        Err(error) => {
            let mut reasons = error.reasons();
            reasons.extend(extra);
            match loader().load::<BootConfig>() {
                Ok(boot) => {
                    let telemetry = if boot.telemetry.check().is_ok() {
                        boot.telemetry
                    } else {
                        TelemetryConfig::default()
                    };
                    Ok(Startup::Invalid {
                        config: Config {
                            server: boot.server,
                            telemetry,
                            ..Config::default()
                        },
                        reasons,
                    })
                }
                Err(boot_error) => {
                    let mut all = boot_error.reasons();
                    for reason in reasons {
                        if !all.contains(&reason) {
                            all.push(reason);
                        }
                    }
                    Err(all)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
        file.write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        file
    }

    #[test]
    fn a_bad_key_still_listens_where_configured_and_names_the_key() {
        let config = file(
            "[remote_tasks]\nhosts_file = \"/x\"\n[remote_tasks.server]\nlisten = \"127.0.0.1:50999\"\n[remote_tasks.limits]\nglobal_in_flight = \"many\"\nbogus = 1\n",
        );
        let path = config.path().to_path_buf();
        let startup = startup(|| Loader::new().file(&path), Vec::new());
        let Ok(Startup::Invalid { config, reasons }) = startup else {
            panic!("expected an invalid startup, got {startup:?}");
        };
        assert_eq!(config.server.listen.port(), 50999);
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("remote_tasks.limits.global_in_flight")),
            "{reasons:?}"
        );
    }

    #[test]
    fn a_failed_validation_is_a_reason_and_a_flag_password_too() {
        let config = file("[remote_tasks]\nhosts = [{ name = \"hv01\" }]\n");
        let path = config.path().to_path_buf();
        let extra = vec!["remote_tasks.winrm.password: may not be given as a flag".to_string()];
        let startup = startup(|| Loader::new().file(&path), extra);
        let Ok(Startup::Invalid { reasons, config }) = startup else {
            panic!("expected an invalid startup, got {startup:?}");
        };
        assert_eq!(config.server.listen.port(), DEFAULT_PORT);
        assert!(
            reasons
                .iter()
                .any(|r| r.starts_with("remote_tasks.winrm.username")),
            "{reasons:?}"
        );
        assert!(reasons.iter().any(|r| r.contains("flag")), "{reasons:?}");
    }

    #[test]
    fn an_unreadable_listen_address_is_fatal() {
        let config = file("[remote_tasks.server]\nlisten = \"nowhere\"\n");
        let path = config.path().to_path_buf();
        let result = startup(|| Loader::new().file(&path), Vec::new());
        let Err(reasons) = result else {
            panic!("expected an error, got {result:?}");
        };
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("remote_tasks.server.listen")),
            "{reasons:?}"
        );
    }

    #[test]
    fn a_good_configuration_loads() {
        let config = file(
            "[remote_tasks]\nhosts = [{ name = \"hv01\", endpoint = \"https://hv01:5986/wsman\" }]\n[remote_tasks.winrm]\nusername = \"svc\"\npassword_file = \"/run/secrets/winrm\"\n[remote_tasks.limits.io]\nmax_timeout = \"6h\"\n",
        );
        let path = config.path().to_path_buf();
        let startup = startup(
            || {
                Loader::new()
                    .file(&path)
                    .env([("AETHERV_REMOTE_TASKS__LIMITS__GLOBAL_IN_FLIGHT", "32")])
            },
            Vec::new(),
        );
        let Ok(Startup::Loaded(config)) = startup else {
            panic!("expected a loaded configuration, got {startup:?}");
        };
        assert_eq!(config.limits.global_in_flight, 32);
        assert_eq!(config.limits.io.max_timeout.as_secs(), 6 * 3600);
        assert_eq!(config.limits.io.per_host_in_flight, 1);
        assert_eq!(config.limits.inventory.default_timeout.as_secs(), 60);
        assert_eq!(config.server.listen.port(), DEFAULT_PORT);
    }
}
