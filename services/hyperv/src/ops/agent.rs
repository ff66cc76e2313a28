//! `agent.info` and `noop`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::Timestamp;

/// Params of `agent.info`: none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentInfoParams {}

/// Result of `agent.info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentInfoResult {
    /// The agent bundle's version.
    pub agent_version: String,
    /// SHA-256 of the running bundle, lower-case hex.
    pub agent_sha256: String,
    /// Protocol versions spoken.
    pub protocol_versions: Vec<u32>,
    /// Operations implemented (wire names).
    pub operations: Vec<String>,
    /// $PSVersionTable.PSVersion.
    pub powershell_version: String,
    /// Windows version, e.g. "10.0.20348".
    pub os_version: String,
    /// Windows edition.
    pub os_caption: String,
    /// NetBIOS name.
    pub computer_name: String,
    /// DNS name.
    pub fqdn: String,
    /// Whether the Hyper-V module is installed.
    pub hyperv_module_present: bool,
    /// The Hyper-V module's version.
    pub hyperv_module_version: Option<String>,
    /// Whether the vmms service exists.
    pub hyperv_service_present: bool,
    /// Whether vmms is running.
    pub hyperv_service_running: bool,
    /// Cluster the host belongs to.
    pub cluster_name: Option<String>,
    /// The host's clock.
    pub time_utc: Timestamp,
}

/// Params of `noop`: any object, echoed back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct NoopParams(pub Map<String, Value>);

/// Result of `noop`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoopResult {
    /// The params, unchanged.
    pub echo: Map<String, Value>,
    /// The request's correlation id.
    pub correlation_id: String,
}
