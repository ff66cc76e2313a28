//! The operations of the agent protocol: their wire names, and the link from each typed
//! params struct to its operation and result type ([`OperationParams`]).

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::agent_error::FieldError;
use crate::model::{Disk, Nic, ResourceCatalogue, Vm};
use crate::ops::agent::{AgentInfoParams, AgentInfoResult, NoopParams, NoopResult};
use crate::ops::disk::{DiskCreateParams, DiskDeleteParams, DiskDeleteResult, DiskResizeParams};
use crate::ops::inventory::{
    HostResourcesParams, InventoryCollectParams, InventoryCollectResult, InventoryWatchParams,
    InventoryWatchResult,
};
use crate::ops::nic::{NicCreateParams, NicDeleteParams, NicDeleteResult, NicUpdateParams};
use crate::ops::vm::{
    VmCreateParams, VmDeleteParams, VmDeleteResult, VmPowerParams, VmPowerResult, VmUpdateParams,
};

/// Declares [`Operation`] from (variant, wire name, params type) triples.
macro_rules! operations {
    ($( $(#[$doc:meta])* $variant:ident = $wire:literal ($params:ty); )*) => {
        /// An agent operation. Serialises as its wire name, e.g. `"vm.power"`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        pub enum Operation {
            $( $(#[$doc])* #[serde(rename = $wire)] $variant, )*
        }

        impl Operation {
            /// Every operation, in the schemas' order.
            pub const ALL: &'static [Operation] = &[$( Operation::$variant, )*];

            /// The wire name, e.g. "vm.power".
            pub fn as_str(self) -> &'static str {
                match self { $( Operation::$variant => $wire, )* }
            }

            /// The operation of that wire name.
            pub fn from_wire(name: &str) -> Option<Operation> {
                match name { $( $wire => Some(Operation::$variant), )* _ => None }
            }
        }

        /// The typed params of any operation (for the agent side: the simulator dispatches on it).
        #[derive(Debug, Clone, PartialEq)]
        pub enum Params {
            $( $(#[$doc])* $variant($params), )*
        }

        impl Params {
            /// Parses `params` as the params of `operation`. Validate against the schema
            /// first ([`crate::validate_params`]): this only maps JSON to types.
            pub fn from_value(operation: Operation, params: Value) -> Result<Params, serde_json::Error> {
                Ok(match operation {
                    $( Operation::$variant => Params::$variant(serde_json::from_value(params)?), )*
                })
            }

            /// The operation these params are for.
            pub fn operation(&self) -> Operation {
                match self { $( Params::$variant(_) => Operation::$variant, )* }
            }
        }
    };
}

operations! {
    /// What the agent and its host are.
    AgentInfo = "agent.info" (AgentInfoParams);
    /// Echo the params (round-trip tests).
    Noop = "noop" (NoopParams);
    /// The host and its VMs.
    InventoryCollect = "inventory.collect" (InventoryCollectParams);
    /// Report changes on the host as they happen, for a while.
    InventoryWatch = "inventory.watch" (InventoryWatchParams);
    /// The host's resource catalogue.
    HostResources = "host.resources" (HostResourcesParams);
    /// Change a VM's power state.
    VmPower = "vm.power" (VmPowerParams);
    /// Create a VM.
    VmCreate = "vm.create" (VmCreateParams);
    /// Change a VM's settings.
    VmUpdate = "vm.update" (VmUpdateParams);
    /// Delete a VM.
    VmDelete = "vm.delete" (VmDeleteParams);
    /// Create and attach a disk.
    DiskCreate = "disk.create" (DiskCreateParams);
    /// Grow a disk.
    DiskResize = "disk.resize" (DiskResizeParams);
    /// Detach (and delete) a disk.
    DiskDelete = "disk.delete" (DiskDeleteParams);
    /// Add a network adapter.
    NicCreate = "nic.create" (NicCreateParams);
    /// Change a network adapter.
    NicUpdate = "nic.update" (NicUpdateParams);
    /// Remove a network adapter.
    NicDelete = "nic.delete" (NicDeleteParams);
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Params {
    /// Rules the schema cannot express; each error's pointer is relative to the params.
    pub fn check(&self) -> Vec<FieldError> {
        match self {
            Params::VmCreate(p) => p.check(),
            Params::VmUpdate(p) => p.check(),
            _ => Vec::new(),
        }
    }
}

/// The params of one operation, linked to the operation and its result type.
pub trait OperationParams: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The operation.
    const OPERATION: Operation;
    /// The type of the result's `data`.
    type Result: Serialize + DeserializeOwned + Send + 'static;

    /// The params as a JSON object.
    fn to_params(&self) -> Result<Map<String, Value>, serde_json::Error> {
        match serde_json::to_value(self)? {
            Value::Object(map) => Ok(map),
            _ => Err(serde::ser::Error::custom(
                "params must serialise to an object",
            )),
        }
    }
}

macro_rules! link {
    ($($params:ty => $op:ident, $result:ty;)*) => {
        $( impl OperationParams for $params {
            const OPERATION: Operation = Operation::$op;
            type Result = $result;
        } )*
    };
}

link! {
    AgentInfoParams => AgentInfo, AgentInfoResult;
    NoopParams => Noop, NoopResult;
    InventoryCollectParams => InventoryCollect, InventoryCollectResult;
    InventoryWatchParams => InventoryWatch, InventoryWatchResult;
    HostResourcesParams => HostResources, ResourceCatalogue;
    VmPowerParams => VmPower, VmPowerResult;
    VmCreateParams => VmCreate, Vm;
    VmUpdateParams => VmUpdate, Vm;
    VmDeleteParams => VmDelete, VmDeleteResult;
    DiskCreateParams => DiskCreate, Disk;
    DiskResizeParams => DiskResize, Disk;
    DiskDeleteParams => DiskDelete, DiskDeleteResult;
    NicCreateParams => NicCreate, Nic;
    NicUpdateParams => NicUpdate, Nic;
    NicDeleteParams => NicDelete, NicDeleteResult;
}
