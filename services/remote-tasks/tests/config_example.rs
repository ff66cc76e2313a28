//! `config.example.toml` is loaded by the real loader: every key in it exists, and the
//! values it shows are the defaults.

use std::path::PathBuf;

use aetherv_remote_tasks::Config;
use aetherv_remote_tasks::config::{LimitsConfig, WinrmConfig};
use aetherv_runtime::ServerConfig;
use aetherv_runtime::config::Loader;

#[test]
fn the_example_loads_and_shows_the_defaults() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let config: Config = match Loader::new().file(&path).load() {
        Ok(config) => config,
        Err(error) => panic!("{}", error.reasons().join("\n")),
    };
    let defaults = Config::default();
    assert_eq!(config.limits, LimitsConfig::default());
    assert_eq!(config.server, ServerConfig::on_port(50051));
    assert_eq!(config.telemetry, defaults.telemetry);
    let winrm = WinrmConfig {
        auth: config.winrm.auth,
        username: config.winrm.username.clone(),
        password_file: config.winrm.password_file.clone(),
        ..WinrmConfig::default()
    };
    assert_eq!(config.winrm, winrm);
    assert_eq!(config.hosts.len(), 2);
    assert_eq!(config.hosts[1].endpoint, None);
}
