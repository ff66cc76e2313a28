//! What changed in the model at one revision. A batch holds every change one operation
//! (a host refresh, a new host list) made; all its changes carry the batch's revision.

use std::sync::Arc;

use aetherv_hyperv::{HostId, VmId};

use super::model::{Cluster, ClusterName, Host, Vm};

/// One change, with the whole new record for upserts.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A cluster appeared or changed.
    ClusterUpserted(Arc<Cluster>),
    /// A cluster has no members any more.
    ClusterDeleted(ClusterName),
    /// A host appeared or changed.
    HostUpserted(Arc<Host>),
    /// A host is no longer configured.
    HostDeleted(Arc<HostId>),
    /// A VM appeared or changed.
    VmUpserted(Arc<Vm>),
    /// A VM is gone.
    VmDeleted {
        /// Its id.
        id: VmId,
        /// The host it was on.
        host: Arc<HostId>,
    },
}

/// The changes of one revision.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeBatch {
    /// The revision after these changes.
    pub revision: u64,
    /// In order: VMs, then hosts, then clusters (deletes of a host after its VMs).
    pub changes: Vec<Change>,
}

/// Counts of what a host refresh did to its VMs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VmCounts {
    /// New VMs.
    pub added: u32,
    /// VMs whose data changed (stale marking included).
    pub changed: u32,
    /// VMs no longer on the host.
    pub removed: u32,
}
