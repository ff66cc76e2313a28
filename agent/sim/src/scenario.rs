//! The scenario file (`--scenario file.toml`): knobs set at start, per host. Each
//! `[[hosts]]` entry names its host (`host`: FQDN or computer name, or `"*"` for every
//! host) and carries the same fields as the control API's knob patch:
//!
//! ```toml
//! [[hosts]]
//! host = "*"
//! latency_ms = 20
//!
//! [[hosts]]
//! host = "hv-ams-c1-n02.corp.example"
//! responsiveness = "unresponsive"              # normal | unresponsive | refuse
//! operation_latency_ms = { "inventory.collect" = 500 }
//! fail_next = [{ count = 2, operation = "vm.power", code = "OPERATION_FAILED", message = "Start-VM failed" }]
//! malformed = { mode = "two_results", count = 1 }   # no_result | two_results | non_json_line | invalid_result
//! guest_ignores_shutdown = { "web-prod-001" = true }
//! ```

use std::path::Path;

use serde::Deserialize;

use crate::error::Error;
use crate::knobs::KnobsPatch;

/// Knobs for the hosts `host` matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioEntry {
    /// FQDN, computer name, or `*`.
    pub host: String,
    /// The knobs.
    pub knobs: KnobsPatch,
}

/// A scenario: entries applied in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scenario {
    /// The entries.
    pub hosts: Vec<ScenarioEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    hosts: Vec<toml::Table>,
}

impl Scenario {
    /// Parses the TOML text; errors name the entry and the field.
    pub fn parse(text: &str) -> Result<Scenario, Error> {
        let raw: Raw =
            toml::from_str(text).map_err(|e| Error::invalid("scenario", e.message().to_owned()))?;
        let mut hosts = Vec::new();
        for (i, mut table) in raw.hosts.into_iter().enumerate() {
            let field = |name: &str| format!("hosts[{i}].{name}");
            let host = match table.remove("host") {
                Some(toml::Value::String(h)) => h,
                Some(_) => return Err(Error::invalid(field("host"), "must be a string")),
                None => {
                    return Err(Error::invalid(
                        field("host"),
                        "is required (a host name or \"*\")",
                    ));
                }
            };
            let knobs: KnobsPatch = toml::Value::Table(table)
                .try_into()
                .map_err(|e| Error::invalid(format!("hosts[{i}]"), e.message().to_owned()))?;
            knobs
                .validate()
                .map_err(|e| Error::invalid(field(&e.field), e.reason))?;
            hosts.push(ScenarioEntry { host, knobs });
        }
        Ok(Scenario { hosts })
    }

    /// Reads and parses a file.
    pub fn read(path: &Path) -> Result<Scenario, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::File {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
        Scenario::parse(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knobs::{MalformedMode, Responsiveness};
    use aetherv_hyperv::{AgentErrorCode, Operation};

    #[test]
    fn parses_every_knob() {
        let s = Scenario::parse(
            r#"
[[hosts]]
host = "*"
latency_ms = 20

[[hosts]]
host = "HV-AMS-C1-N02"
responsiveness = "unresponsive"
operation_latency_ms = { "inventory.collect" = 500 }
fail_next = [{ count = 2, operation = "vm.power", code = "OPERATION_FAILED", message = "x" }]
malformed = { mode = "two_results", count = 1 }
guest_ignores_shutdown = { "web-prod-001" = true }
"#,
        )
        .expect("valid scenario");
        assert_eq!(s.hosts.len(), 2);
        assert_eq!(s.hosts[0].knobs.latency_ms, Some(20));
        let k = &s.hosts[1].knobs;
        assert_eq!(k.responsiveness, Some(Responsiveness::Unresponsive));
        assert_eq!(
            k.operation_latency_ms
                .as_ref()
                .and_then(|m| m.get(&Operation::InventoryCollect)),
            Some(&500)
        );
        assert_eq!(
            k.fail_next.as_ref().map(|f| f[0].code),
            Some(AgentErrorCode::OperationFailed)
        );
        assert_eq!(
            k.malformed.clone().flatten().map(|m| m.mode),
            Some(MalformedMode::TwoResults)
        );
    }

    #[test]
    fn errors_name_the_entry_and_field() {
        let e = Scenario::parse("[[hosts]]\nlatency_ms = 1\n").map_err(|e| e.to_string());
        assert!(
            e.as_ref().is_err_and(|m| m.contains("hosts[0].host")),
            "{e:?}"
        );
        let e = Scenario::parse("[[hosts]]\nhost='*'\nlatencyms = 1\n").map_err(|e| e.to_string());
        assert!(
            e.as_ref()
                .is_err_and(|m| m.contains("hosts[0]") && m.contains("latencyms")),
            "{e:?}"
        );
        let e = Scenario::parse("[[hosts]]\nhost='*'\nfail_next=[{count=0,code='TIMEOUT'}]\n")
            .map_err(|e| e.to_string());
        assert!(
            e.as_ref()
                .is_err_and(|m| m.contains("hosts[0].fail_next[0].count")),
            "{e:?}"
        );
    }
}
