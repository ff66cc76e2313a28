//! The checks of [`super::Config`] that need no other file: ranges, combinations, host
//! names and endpoints. Each problem names its key (relative to `remote_tasks`).

use std::collections::BTreeMap;
use std::time::Duration;

use aetherv_hyperv::HostId;
use aetherv_runtime::config::Issues;

use super::{CategoryConfig, Config};

/// Largest queue capacity accepted (a bound on memory, not a recommendation).
const MAX_QUEUE: u32 = 1_000_000;
/// Largest in-flight limit accepted.
const MAX_IN_FLIGHT: u32 = 10_000;
/// Longest run timeout accepted.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

pub(super) fn check(config: &Config, issues: &mut Issues) {
    config.server.validate("server", issues);
    if let Err(message) = config.telemetry.check() {
        issues.push("telemetry.filter", message);
    }
    hosts(config, issues);
    winrm(config, issues);
    limits(config, issues);
}

fn hosts(config: &Config, issues: &mut Issues) {
    match (config.hosts.is_empty(), &config.hosts_file) {
        (false, Some(_)) => issues.push(
            "hosts_file",
            "set either hosts or hosts_file, not both",
        ),
        (true, None) => issues.push(
            "hosts",
            "no hosts configured: list [[remote_tasks.hosts]] entries or set remote_tasks.hosts_file",
        ),
        _ => {}
    }
    let mut seen: BTreeMap<HostId, usize> = BTreeMap::new();
    for (index, entry) in config.hosts.iter().enumerate() {
        match HostId::parse(&entry.name) {
            Ok(id) => {
                if let Some(first) = seen.insert(id.clone(), index) {
                    issues.push(
                        &format!("hosts[{index}].name"),
                        format!("host {id} is listed twice (also hosts[{first}])"),
                    );
                }
            }
            Err(error) => issues.push(&format!("hosts[{index}].name"), error.reason),
        }
        if let Some(endpoint) = &entry.endpoint
            && let Err(message) = check_endpoint(endpoint)
        {
            issues.push(&format!("hosts[{index}].endpoint"), message);
        }
    }
}

/// An endpoint must be an http(s) URL with a host and no credentials.
pub(super) fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let url = url::Url::parse(endpoint).map_err(|error| {
        format!("expected a url like \"https://hv01.example:5986/wsman\" ({error})")
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err("the scheme must be http or https".to_string());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".to_string());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials".to_string());
    }
    Ok(())
}

fn winrm(config: &Config, issues: &mut Issues) {
    let winrm = &config.winrm;
    if !winrm.password.is_empty() && winrm.password_file.is_some() {
        issues.push(
            "winrm.password_file",
            "set either the password (environment) or password_file, not both",
        );
    }
    if let Some(username) = &winrm.username
        && username.trim().is_empty()
    {
        issues.push("winrm.username", "must not be empty");
    }
    // Without a hosts file nothing else can supply the credentials.
    if config.hosts_file.is_none() {
        if winrm.username.is_none() {
            issues.push("winrm.username", "is required");
        }
        if winrm.password.is_empty() && winrm.password_file.is_none() {
            issues.push(
                "winrm.password",
                format!(
                    "is required: set the environment variable {} or winrm.password_file",
                    super::PASSWORD_VARIABLE
                ),
            );
        }
    }
    if winrm.connect_timeout.is_zero() || winrm.connect_timeout > Duration::from_secs(300) {
        issues.push("winrm.connect_timeout", "must be between 1ms and 5m");
    }
    if winrm.operation_timeout < Duration::from_secs(1)
        || winrm.operation_timeout > Duration::from_secs(600)
    {
        issues.push("winrm.operation_timeout", "must be between 1s and 10m");
    }
    if !(1..=64).contains(&winrm.pool_size) {
        issues.push("winrm.pool_size", "must be between 1 and 64");
    }
}

fn limits(config: &Config, issues: &mut Issues) {
    let limits = &config.limits;
    if !(1..=MAX_IN_FLIGHT).contains(&limits.global_in_flight) {
        issues.push(
            "limits.global_in_flight",
            format!("must be between 1 and {MAX_IN_FLIGHT}"),
        );
    }
    if !(1..=MAX_IN_FLIGHT).contains(&limits.per_host_in_flight) {
        issues.push(
            "limits.per_host_in_flight",
            format!("must be between 1 and {MAX_IN_FLIGHT}"),
        );
    }
    if !(1..=MAX_QUEUE).contains(&limits.per_host_queue_capacity) {
        issues.push(
            "limits.per_host_queue_capacity",
            format!("must be between 1 and {MAX_QUEUE}"),
        );
    }
    let categories = [
        ("inventory", &limits.inventory),
        ("control", &limits.control),
        ("io", &limits.io),
        ("deploy", &limits.deploy),
        ("watch", &limits.watch),
    ];
    for (name, category) in categories {
        category_limits(name, category, issues);
    }
}

fn category_limits(name: &str, category: &CategoryConfig, issues: &mut Issues) {
    let key = |field: &str| format!("limits.{name}.{field}");
    if !(1..=MAX_IN_FLIGHT).contains(&category.in_flight) {
        issues.push(
            &key("in_flight"),
            format!("must be between 1 and {MAX_IN_FLIGHT}"),
        );
    }
    if !(1..=MAX_IN_FLIGHT).contains(&category.per_host_in_flight) {
        issues.push(
            &key("per_host_in_flight"),
            format!("must be between 1 and {MAX_IN_FLIGHT}"),
        );
    }
    if !(1..=MAX_QUEUE).contains(&category.queue_capacity) {
        issues.push(
            &key("queue_capacity"),
            format!("must be between 1 and {MAX_QUEUE}"),
        );
    }
    if category.max_timeout.is_zero() || category.max_timeout > MAX_TIMEOUT {
        issues.push(&key("max_timeout"), "must be between 1ms and 24h");
    }
    if category.default_timeout.is_zero() || category.default_timeout > category.max_timeout {
        issues.push(
            &key("default_timeout"),
            format!("must be more than zero and at most limits.{name}.max_timeout"),
        );
    }
}
