//! `nic.create`, `nic.update` and `nic.delete`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{NicId, VmId};

/// Params of `nic.create`: either `network`, or `switch_name` with an optional `vlan_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NicCreateParams {
    /// The VM.
    pub vm_id: VmId,
    /// Catalogue network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub network: Option<String>,
    /// Virtual switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub switch_name: Option<String>,
    /// Access VLAN with switch_name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u16")]
    pub vlan_id: Option<u16>,
    /// Adapter name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub name: Option<String>,
    /// Static MAC address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub mac_address: Option<String>,
}

/// Params of `nic.update`. For `vlan_id` and `mac_address`: None leaves the setting,
/// `Some(None)` clears it (untagged; dynamic MAC), `Some(Some(x))` sets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NicUpdateParams {
    /// The VM.
    pub vm_id: VmId,
    /// The adapter.
    pub nic_id: NicId,
    /// Catalogue network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub network: Option<String>,
    /// Virtual switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub switch_name: Option<String>,
    /// Access VLAN; Some(None) for untagged.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::serde_util::double_option"
    )]
    #[schemars(with = "Option<u16>")]
    pub vlan_id: Option<Option<u16>>,
    /// New adapter name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub name: Option<String>,
    /// Static MAC; Some(None) for a dynamic one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::serde_util::double_option"
    )]
    #[schemars(with = "Option<String>")]
    pub mac_address: Option<Option<String>>,
}

impl NicUpdateParams {
    /// No change yet; set the fields to change.
    pub fn new(vm_id: VmId, nic_id: NicId) -> Self {
        Self {
            vm_id,
            nic_id,
            network: None,
            switch_name: None,
            vlan_id: None,
            name: None,
            mac_address: None,
        }
    }
}

/// Params of `nic.delete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NicDeleteParams {
    /// The VM.
    pub vm_id: VmId,
    /// The adapter.
    pub nic_id: NicId,
}

/// Result of `nic.delete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NicDeleteResult {
    /// The VM.
    pub vm_id: VmId,
    /// The removed adapter.
    pub nic_id: NicId,
}
