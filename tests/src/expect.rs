//! What the gateway's REST API must show for the simulator's model, field by field, as
//! `gateway/API.md` documents it — worked out here from the simulator's own records (the
//! agent protocol's JSON shape), independently of the services' conversions. Each
//! `compare_*` returns every difference, one line each.

use std::net::IpAddr;

use serde_json::{Value, json};

/// Seconds two uptimes may differ by: inventory treats start times within 5 s as the same
/// start (so running VMs do not churn), and both sides round.
pub const UPTIME_SLACK_SECONDS: f64 = 7.0;

/// API.md's state name for an agent-protocol state (`"Reset"` → `"resetting"`).
pub fn state(agent_state: &str) -> String {
    match agent_state {
        "Reset" => "resetting".to_string(),
        other => other.to_lowercase(),
    }
}

/// The power actions API.md allows from a state, in its order (start, shutdown, stop,
/// reset, save, pause, resume).
pub fn power_actions(state: &str) -> Vec<&'static str> {
    let allowed: [(&str, &[&str]); 7] = [
        ("start", &["off", "saved", "paused"]),
        ("shutdown", &["running"]),
        ("stop", &["running", "paused", "saved"]),
        ("reset", &["running"]),
        ("save", &["running", "paused"]),
        ("pause", &["running"]),
        ("resume", &["paused"]),
    ];
    allowed
        .iter()
        .filter(|(_, from)| from.contains(&state))
        .map(|(action, _)| *action)
        .collect()
}

/// The OS family API.md derives from the guest OS name.
pub fn os_family(os_name: Option<&str>) -> &'static str {
    const LINUX: &[&str] = &[
        "linux", "ubuntu", "debian", "centos", "rhel", "red hat", "fedora", "suse", "rocky",
        "alma", "oracle", "arch", "alpine", "mint",
    ];
    let Some(name) = os_name.map(str::trim).filter(|n| !n.is_empty()) else {
        return "unknown";
    };
    let lower = name.to_lowercase();
    if lower.contains("windows") {
        "windows"
    } else if LINUX.iter().any(|word| lower.contains(word)) {
        "linux"
    } else {
        "other"
    }
}

/// The addresses inventory keeps: no IPv6 link-local ones, no duplicates, in order.
pub fn routable(ips: &Value) -> Value {
    let mut kept: Vec<String> = Vec::new();
    for ip in ips
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let link_local = matches!(ip.parse::<IpAddr>(), Ok(IpAddr::V6(v6)) if (v6.segments()[0] & 0xffc0) == 0xfe80);
        if !link_local && !kept.iter().any(|k| k == ip) {
            kept.push(ip.to_string());
        }
    }
    json!(kept)
}

/// The primary address: the first IPv4, else the first.
pub fn primary_ip(ips: &Value) -> Value {
    let list: Vec<&str> = ips
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    list.iter()
        .find(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok())
        .or_else(|| list.first())
        .map_or(Value::Null, |ip| json!(ip))
}

/// An RFC 3339 time as whole seconds since the epoch.
pub fn unix_seconds(text: &Value) -> Option<i64> {
    let text = text.as_str()?;
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
}

/// Differences between a REST `Vm` and the simulator's VM (`sim`: the agent protocol's
/// JSON of it) on `host` in `cluster`.
pub fn compare_vm(rest: &Value, sim: &Value, host: &str, cluster: Option<&str>) -> Vec<String> {
    let mut wrong = Vec::new();
    let name = sim["name"].as_str().unwrap_or("?").to_string();
    let mut check = |field: &str, got: &Value, want: Value| {
        if *got != want {
            wrong.push(format!("vm {name} {field}: api {got}, simulator {want}"));
        }
    };
    let state = state(sim["state"].as_str().unwrap_or_default());
    check(
        "id",
        &rest["id"],
        json!(sim["id"].as_str().map(str::to_lowercase)),
    );
    check("name", &rest["name"], sim["name"].clone());
    check("host", &rest["host"], json!(host));
    check(
        "cluster",
        &rest["cluster"],
        json!(cluster.map(str::to_lowercase)),
    );
    check("state", &rest["state"], json!(state));
    check(
        "power_actions",
        &rest["power_actions"],
        json!(power_actions(&state)),
    );
    for field in [
        "cpu_count",
        "memory_assigned_bytes",
        "memory_startup_bytes",
        "memory_minimum_bytes",
        "memory_maximum_bytes",
        "dynamic_memory_enabled",
        "generation",
        "configuration_version",
        "notes",
        "clustered",
    ] {
        check(field, &rest[field], sim[field].clone());
    }
    check("os_name", &rest["os_name"], sim["guest_os_name"].clone());
    check(
        "os_family",
        &rest["os_family"],
        json!(os_family(sim["guest_os_name"].as_str())),
    );
    check(
        "creation_time",
        &json!(unix_seconds(&rest["creation_time"])),
        json!(unix_seconds(&sim["creation_time"])),
    );
    let ips = routable(&sim["ip_addresses"]);
    check("primary_ip", &rest["primary_ip"], primary_ip(&ips));
    check("ip_addresses", &rest["ip_addresses"], ips);
    check("stale", &rest["stale"], json!(false));
    let got_uptime = rest["uptime_seconds"].as_f64().unwrap_or(-1.0);
    let want_uptime = sim["uptime_seconds"].as_f64().unwrap_or(-1.0);
    if (got_uptime - want_uptime).abs() > UPTIME_SLACK_SECONDS {
        wrong.push(format!(
            "vm {name} uptime_seconds: api {got_uptime}, simulator {want_uptime}"
        ));
    }
    if unix_seconds(&rest["observed_at"]).is_none() {
        wrong.push(format!("vm {name} observed_at: {}", rest["observed_at"]));
    }
    if rest["revision"].as_u64().unwrap_or(0) == 0 {
        wrong.push(format!("vm {name} revision: {}", rest["revision"]));
    }
    wrong.extend(compare_list(
        &name,
        "nics",
        &rest["nics"],
        &sim["nics"],
        compare_nic,
    ));
    wrong.extend(compare_list(
        &name,
        "disks",
        &rest["disks"],
        &sim["disks"],
        compare_disk,
    ));
    wrong
}

fn compare_list(
    vm: &str,
    what: &str,
    rest: &Value,
    sim: &Value,
    compare: fn(&Value, &Value) -> Vec<String>,
) -> Vec<String> {
    let got = rest.as_array().cloned().unwrap_or_default();
    let want = sim.as_array().cloned().unwrap_or_default();
    if got.len() != want.len() {
        return vec![format!(
            "vm {vm} {what}: api has {}, simulator {}",
            got.len(),
            want.len()
        )];
    }
    let mut wrong = Vec::new();
    for want in &want {
        match got.iter().find(|g| g["id"] == want["id"]) {
            Some(got) => wrong.extend(
                compare(got, want)
                    .into_iter()
                    .map(|w| format!("vm {vm} {what} {}: {w}", want["id"])),
            ),
            None => wrong.push(format!("vm {vm} {what}: {} missing", want["id"])),
        }
    }
    wrong
}

fn field_differences(rest: &Value, wants: &[(&str, Value)]) -> Vec<String> {
    wants
        .iter()
        .filter(|(field, want)| rest[*field] != *want)
        .map(|(field, want)| format!("{field}: api {}, simulator {want}", rest[*field]))
        .collect()
}

fn compare_nic(rest: &Value, sim: &Value) -> Vec<String> {
    field_differences(
        rest,
        &[
            ("name", sim["name"].clone()),
            ("switch_name", sim["switch_name"].clone()),
            ("vlan_id", sim["vlan_id"].clone()),
            ("mac_address", sim["mac_address"].clone()),
            ("ip_addresses", routable(&sim["ip_addresses"])),
            ("network_name", sim["network_name"].clone()),
        ],
    )
}

fn compare_disk(rest: &Value, sim: &Value) -> Vec<String> {
    let lower =
        |v: &Value, unknown: &str| json!(v.as_str().map_or(unknown.to_string(), str::to_lowercase));
    field_differences(
        rest,
        &[
            ("name", sim["name"].clone()),
            ("path", sim["path"].clone()),
            ("type", lower(&sim["type"], "unknown")),
            (
                "capacity_bytes",
                json!(sim["capacity_bytes"].as_u64().unwrap_or(0)),
            ),
            (
                "file_size_bytes",
                json!(sim["file_size_bytes"].as_u64().unwrap_or(0)),
            ),
            ("controller_type", lower(&sim["controller_type"], "unknown")),
            ("controller_number", sim["controller_number"].clone()),
            ("controller_location", sim["controller_location"].clone()),
        ],
    )
}

/// Differences between a REST `Host` and the simulator's host section (`sim`: the agent
/// protocol's JSON of `inventory.collect`'s `host`), with `vms` its VMs' JSON.
pub fn compare_host(rest: &Value, sim: &Value, name: &str, vms: &[Value]) -> Vec<String> {
    let cluster = sim["cluster_name"].as_str().map(str::to_lowercase);
    let not_off = vms.iter().filter(|vm| vm["state"] != "Off");
    let mut wants = vec![
        ("name", json!(name)),
        ("fqdn", json!(sim["fqdn"].as_str().map(str::to_lowercase))),
        ("cluster", json!(cluster)),
        ("status", json!("reachable")),
        ("status_reason", Value::Null),
        ("stale", json!(false)),
        ("cpu_cores", sim["logical_processor_count"].clone()),
        ("memory_total_bytes", sim["memory_total_bytes"].clone()),
        (
            "memory_available_bytes",
            sim["memory_available_bytes"].clone(),
        ),
        ("vm_count", json!(vms.len())),
    ];
    let capacity = json!({
        "cpu_cores": sim["logical_processor_count"],
        "vcpus_assigned": not_off.map(|vm| vm["cpu_count"].as_u64().unwrap_or(0)).sum::<u64>(),
        "vcpus_configured": vms.iter().map(|vm| vm["cpu_count"].as_u64().unwrap_or(0)).sum::<u64>(),
        "memory_total_bytes": sim["memory_total_bytes"],
        "memory_available_bytes": sim["memory_available_bytes"],
        "memory_assigned_bytes": vms.iter().map(|vm| vm["memory_assigned_bytes"].as_u64().unwrap_or(0)).sum::<u64>(),
    });
    wants.push(("capacity", capacity));
    let storage: Vec<Value> = sim["storage_locations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| json!({"path": s["path"], "total_bytes": s["total_bytes"], "free_bytes": s["free_bytes"]}))
        .collect();
    wants.push(("storage_locations", json!(storage)));
    let mut wrong: Vec<String> = field_differences(rest, &wants)
        .into_iter()
        .map(|w| format!("host {name} {w}"))
        .collect();
    let mut want_switches: Vec<Value> = sim["virtual_switches"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            json!({
                "id": s["id"].as_str().map(str::to_lowercase),
                "name": s["name"],
                "type": s["type"].as_str().map_or("unknown".to_string(), str::to_lowercase),
                "uplink": s["uplink"],
            })
        })
        .collect();
    let mut got_switches = rest["virtual_switches"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let by_id = |v: &Value| v["id"].as_str().unwrap_or_default().to_string();
    want_switches.sort_by_key(by_id);
    got_switches.sort_by_key(by_id);
    if got_switches != want_switches {
        wrong.push(format!(
            "host {name} virtual_switches: api {got_switches:?}, simulator {want_switches:?}"
        ));
    }
    for field in ["last_seen", "last_refresh"] {
        if unix_seconds(&rest[field]).is_none() {
            wrong.push(format!("host {name} {field}: {}", rest[field]));
        }
    }
    wrong
}
