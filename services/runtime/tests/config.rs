//! The configuration loader: layering order, the environment mapping, unknown keys, bad
//! values and failed validation, each named by key and origin.

use std::io::Write;
use std::time::Duration;

use aetherv_runtime::config::{
    CommonArgs, Error, Issues, KeyValue, Loader, ServiceConfig, duration,
};
use aetherv_runtime::{SecretString, ServerConfig};
use serde::{Deserialize, Serialize};

/// A config shaped like a real service's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct InventoryConfig {
    #[serde(with = "duration")]
    refresh_interval: Duration,
    max_parallel: u32,
    spread: bool,
    label: String,
    hosts: Vec<String>,
    password: SecretString,
    server: ServerConfig,
}

impl Default for InventoryConfig {
    fn default() -> InventoryConfig {
        InventoryConfig {
            refresh_interval: Duration::from_secs(30),
            max_parallel: 8,
            spread: true,
            label: "default".to_string(),
            hosts: Vec::new(),
            password: SecretString::default(),
            server: ServerConfig::on_port(50053),
        }
    }
}

impl ServiceConfig for InventoryConfig {
    const SECTION: &'static str = "inventory";

    fn validate(&self, issues: &mut Issues) {
        if self.refresh_interval < Duration::from_secs(1) {
            issues.push("refresh_interval", "must be at least 1s");
        }
        if self.max_parallel == 0 {
            issues.push("max_parallel", "must be at least 1");
        }
        self.server.validate("server", issues);
    }
}

fn file_with(text: &str) -> tempfile::NamedTempFile {
    let mut file = match tempfile::NamedTempFile::new() {
        Ok(file) => file,
        Err(error) => panic!("temp file: {error}"),
    };
    if let Err(error) = file.write_all(text.as_bytes()) {
        panic!("write temp file: {error}");
    }
    file
}

fn load(loader: Loader) -> InventoryConfig {
    match loader.load::<InventoryConfig>() {
        Ok(config) => config,
        Err(error) => panic!("load failed: {error}"),
    }
}

fn load_err(loader: Loader) -> Vec<String> {
    match loader.load::<InventoryConfig>() {
        Ok(config) => panic!("load succeeded: {config:?}"),
        Err(error) => error.reasons(),
    }
}

const NO_ENV: [(&str, &str); 0] = [];

#[test]
fn defaults_alone() {
    assert_eq!(load(Loader::new().env(NO_ENV)), InventoryConfig::default());
}

#[test]
fn each_layer_overrides_the_one_before() {
    let file = file_with(
        r#"
        [inventory]
        refresh_interval = "45s"
        max_parallel = 4
        label = "from-file"
        server.drain_timeout = "3s"

        [jobs]
        anything = "belongs to the jobs service"
        "#,
    );
    let env = [
        ("AETHERV_INVENTORY__MAX_PARALLEL", "6"),
        ("AETHERV_INVENTORY__LABEL", "from-env"),
        ("AETHERV_JOBS__MAX_PARALLEL", "not ours"),
        ("PATH", "/usr/bin"),
    ];
    let config = load(Loader::new().file(file.path()).env(env).flag(
        "label",
        "from-flag",
        "--label",
    ));
    // file over default
    assert_eq!(config.refresh_interval, Duration::from_secs(45));
    assert_eq!(config.server.drain_timeout, Duration::from_secs(3));
    // env over file
    assert_eq!(config.max_parallel, 6);
    // flag over env
    assert_eq!(config.label, "from-flag");
    // untouched default
    assert!(config.spread);
    assert_eq!(config.server.listen.port(), 50053);
}

#[test]
fn environment_variables_map_to_nested_and_typed_keys() {
    let env = [
        ("AETHERV_INVENTORY__REFRESH_INTERVAL", "2m"),
        ("AETHERV_INVENTORY__SPREAD", "false"),
        ("AETHERV_INVENTORY__HOSTS", r#"["hv01", "hv02"]"#),
        ("AETHERV_INVENTORY__SERVER__LISTEN", "0.0.0.0:6000"),
        ("AETHERV_INVENTORY__SERVER__DRAIN_TIMEOUT", "1m 30s"),
        ("AETHERV_INVENTORY__PASSWORD", "12345"),
    ];
    let config = load(Loader::new().env(env));
    assert_eq!(config.refresh_interval, Duration::from_secs(120));
    assert!(!config.spread);
    assert_eq!(config.hosts, ["hv01", "hv02"]);
    assert_eq!(config.server.listen.to_string(), "0.0.0.0:6000");
    assert_eq!(config.server.drain_timeout, Duration::from_secs(90));
    // A string key takes digits as text.
    assert_eq!(config.password.expose(), "12345");
}

#[test]
fn common_args_set_the_file_and_keys() {
    let file = file_with("[inventory]\nlabel = \"from-file\"\nmax_parallel = 2\n");
    let args = CommonArgs {
        config: Some(file.path().to_path_buf()),
        set: vec![
            KeyValue {
                key: "max_parallel".to_string(),
                value: "3".to_string(),
            },
            KeyValue {
                key: "server.keepalive_interval".to_string(),
                value: "10s".to_string(),
            },
        ],
    };
    let config = load(Loader::new().args(&args));
    assert_eq!(config.label, "from-file");
    assert_eq!(config.max_parallel, 3);
    assert_eq!(config.server.keepalive_interval, Duration::from_secs(10));
    assert!("novalue".parse::<KeyValue>().is_err());
    assert!("a..b=1".parse::<KeyValue>().is_err());
}

#[test]
fn a_bad_duration_names_the_key_the_expectation_and_the_variable() {
    let reasons = load_err(Loader::new().env([("AETHERV_INVENTORY__REFRESH_INTERVAL", "fast")]));
    assert_eq!(
        reasons,
        [
            r#"inventory.refresh_interval: expected a duration like "30s", got "fast" (from environment variable AETHERV_INVENTORY__REFRESH_INTERVAL)"#
        ]
    );
}

#[test]
fn a_bad_type_in_the_file_names_the_nested_key_and_the_file() {
    let file = file_with("[inventory.server]\ndrain_timeout = 5\n");
    let reasons = load_err(Loader::new().file(file.path()));
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    let expected_prefix =
        r#"inventory.server.drain_timeout: expected a duration like "30s", got 5"#;
    assert!(reasons[0].starts_with(expected_prefix), "{}", reasons[0]);
    assert!(
        reasons[0].ends_with(&format!("(from file {})", file.path().display())),
        "{}",
        reasons[0]
    );
}

#[test]
fn a_bad_integer_from_a_flag_names_the_key_and_the_flag() {
    let reasons = load_err(Loader::new().flag("max_parallel", "many", "--max-parallel"));
    assert_eq!(
        reasons,
        [r#"inventory.max_parallel: expected an integer, got "many" (from flag --max-parallel)"#]
    );
}

#[test]
fn unknown_keys_are_errors_wherever_they_come_from() {
    let file =
        file_with("[inventory]\nrefresh_intreval = \"30s\"\n[inventory.server]\nlisten_port = 1\n");
    let reasons = load_err(
        Loader::new()
            .file(file.path())
            .env([("AETHERV_INVENTORY__COLOUR", "blue")]),
    );
    let path = file.path().display();
    assert_eq!(
        reasons,
        [
            "inventory.colour: unknown key (from environment variable AETHERV_INVENTORY__COLOUR)"
                .to_string(),
            format!("inventory.refresh_intreval: unknown key (from file {path})"),
            format!("inventory.server.listen_port: unknown key (from file {path})"),
        ]
    );
}

#[test]
fn an_unknown_section_is_an_error() {
    let file = file_with("[inventroy]\nrefresh_interval = \"30s\"\n");
    let reasons = load_err(Loader::new().file(file.path()));
    assert_eq!(reasons.len(), 1);
    assert!(
        reasons[0].starts_with("inventroy: unknown section (known: remote_tasks, "),
        "{}",
        reasons[0]
    );
}

#[test]
fn an_empty_variable_key_is_an_error() {
    let reasons = load_err(Loader::new().env([("AETHERV_INVENTORY__SERVER____LISTEN", "x")]));
    assert_eq!(reasons.len(), 1);
    assert!(
        reasons[0].contains("AETHERV_INVENTORY__SERVER____LISTEN does not name a key"),
        "{}",
        reasons[0]
    );
}

#[test]
fn validation_failures_name_every_key_and_its_origin() {
    let env = [
        ("AETHERV_INVENTORY__REFRESH_INTERVAL", "100ms"),
        ("AETHERV_INVENTORY__MAX_PARALLEL", "0"),
    ];
    let reasons = load_err(
        Loader::new()
            .env(env)
            .flag("server.drain_timeout", "0s", "--set"),
    );
    assert_eq!(
        reasons,
        [
            "inventory.refresh_interval: must be at least 1s (from environment variable AETHERV_INVENTORY__REFRESH_INTERVAL)",
            "inventory.max_parallel: must be at least 1 (from environment variable AETHERV_INVENTORY__MAX_PARALLEL)",
            "inventory.server.drain_timeout: must be between 1ms and 10m (from flag --set)",
        ]
    );
}

#[test]
fn a_missing_file_and_broken_toml_are_reported_with_the_path() {
    let missing = std::path::Path::new("/nonexistent/aetherv.toml");
    match Loader::new().file(missing).load::<InventoryConfig>() {
        Err(error @ Error::Read { .. }) => {
            assert!(error.to_string().contains("/nonexistent/aetherv.toml"))
        }
        other => panic!("expected a read error, got {other:?}"),
    }
    let broken = file_with("[inventory\nlabel = 1");
    match Loader::new().file(broken.path()).load::<InventoryConfig>() {
        Err(error @ Error::Parse { .. }) => {
            assert!(
                error
                    .to_string()
                    .contains(&broken.path().display().to_string())
            )
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn secrets_load_but_never_print() {
    let config = load(Loader::new().env([("AETHERV_INVENTORY__PASSWORD", "hunter2")]));
    assert_eq!(config.password.expose(), "hunter2");
    assert!(!format!("{config:?}").contains("hunter2"));
}
