//! The fleet's figures for GetSummary: hosts by status, VMs by state, clusters, stale VMs,
//! and CPU and memory assigned against available for the fleet, each host and each cluster.

use std::sync::Arc;

use super::fleet::Fleet;
use super::model::{Capacity, Cluster, Host, HostStatus, VmState};

/// Counts and capacity of the whole fleet.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The model's revision.
    pub revision: u64,
    /// Configured hosts.
    pub hosts_total: u32,
    /// Hosts per status (only statuses that have hosts), in status order.
    pub hosts_by_status: Vec<(HostStatus, u32)>,
    /// VMs, stale ones included.
    pub vms_total: u32,
    /// VMs per state (only states that have VMs), in state order.
    pub vms_by_state: Vec<(VmState, u32)>,
    /// Hosts without a cluster.
    pub standalone_hosts: u32,
    /// VMs whose data is stale.
    pub stale_vms: u32,
    /// Whole fleet.
    pub capacity: Capacity,
    /// Every host (for per-host capacity), sorted by id.
    pub hosts: Vec<Arc<Host>>,
    /// Every cluster, sorted by name.
    pub clusters: Vec<Arc<Cluster>>,
}

/// Computes the summary.
pub fn summarize(fleet: &Fleet) -> Summary {
    let hosts: Vec<Arc<Host>> = fleet.hosts().cloned().collect();
    let clusters: Vec<Arc<Cluster>> = fleet.clusters().cloned().collect();
    let mut by_status = [0u32; HostStatus::ALL.len()];
    let mut capacity = Capacity::default();
    let mut standalone_hosts = 0;
    for host in &hosts {
        by_status[host.status as usize] += 1;
        capacity.add(&host.capacity);
        if host.cluster.is_none() {
            standalone_hosts += 1;
        }
    }
    let mut by_state = [0u32; VmState::ALL.len()];
    let mut stale_vms = 0;
    for (_, vm) in fleet.vms().iter() {
        by_state[vm.data.state.ordinal()] += 1;
        if vm.stale {
            stale_vms += 1;
        }
    }
    Summary {
        revision: fleet.revision(),
        hosts_total: hosts.len() as u32,
        hosts_by_status: HostStatus::ALL
            .into_iter()
            .zip(by_status)
            .filter(|(_, count)| *count > 0)
            .collect(),
        vms_total: fleet.vms().len() as u32,
        vms_by_state: VmState::ALL
            .into_iter()
            .zip(by_state)
            .filter(|(_, count)| *count > 0)
            .collect(),
        standalone_hosts,
        stale_vms,
        capacity,
        hosts,
        clusters,
    }
}
