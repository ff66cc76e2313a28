//! The JSON shapes of the REST API and the WebSocket events, converted from the inventory
//! protos (borrowing, so a page of 1,000 VMs is serialized without copying strings): snake
//! case, sizes in bytes, times RFC 3339 UTC, durations in seconds, unknown values `null`,
//! enumerations as lower-case names. `gateway/openapi.json` documents each shape; the tests
//! validate real responses against it. Jobs and notifications have their own modules.

pub mod jobs;
pub mod notifications;
pub mod wire;

use aetherv_hyperv::{PowerAction, VmState as AgentState};
use aetherv_proto::inventory::v1 as pb;
use serde::Serialize;

/// The power actions this API offers, in route order.
pub const API_ACTIONS: [PowerAction; 7] = [
    PowerAction::Start,
    PowerAction::Shutdown,
    PowerAction::Stop,
    PowerAction::Reset,
    PowerAction::Save,
    PowerAction::Pause,
    PowerAction::Resume,
];

/// `(wire name, proto state)` for every VM state the API shows.
pub const VM_STATES: [(&str, pb::VmState); 13] = [
    ("running", pb::VmState::Running),
    ("off", pb::VmState::Off),
    ("saved", pb::VmState::Saved),
    ("paused", pb::VmState::Paused),
    ("starting", pb::VmState::Starting),
    ("stopping", pb::VmState::Stopping),
    ("saving", pb::VmState::Saving),
    ("pausing", pb::VmState::Pausing),
    ("resuming", pb::VmState::Resuming),
    ("resetting", pb::VmState::Resetting),
    ("other", pb::VmState::Other),
    ("creating", pb::VmState::Creating),
    ("deleting", pb::VmState::Deleting),
];

/// `(wire name, proto status)` for every host status.
pub const HOST_STATUSES: [(&str, pb::HostStatus); 3] = [
    ("unknown", pb::HostStatus::Unknown),
    ("reachable", pb::HostStatus::Reachable),
    ("unreachable", pb::HostStatus::Unreachable),
];

/// The wire name of a proto VM state (`other` for values outside the list).
pub fn state_name(value: i32) -> &'static str {
    VM_STATES
        .iter()
        .find(|(_, state)| *state as i32 == value)
        .map_or("other", |(name, _)| name)
}

/// The wire name of a proto host status (`unknown` for values outside the list).
pub fn host_status_name(value: i32) -> &'static str {
    HOST_STATUSES
        .iter()
        .find(|(_, status)| *status as i32 == value)
        .map_or("unknown", |(name, _)| name)
}

/// The agent protocol's state for a proto state: the power rules live there
/// (`aetherv_hyperv::PowerAction::allowed_from`). States inventory sets itself, and
/// unknown ones, allow nothing.
pub fn agent_state(value: i32) -> AgentState {
    match pb::VmState::try_from(value) {
        Ok(pb::VmState::Running) => AgentState::Running,
        Ok(pb::VmState::Off) => AgentState::Off,
        Ok(pb::VmState::Saved) => AgentState::Saved,
        Ok(pb::VmState::Paused) => AgentState::Paused,
        Ok(pb::VmState::Starting) => AgentState::Starting,
        Ok(pb::VmState::Stopping) => AgentState::Stopping,
        Ok(pb::VmState::Saving) => AgentState::Saving,
        Ok(pb::VmState::Pausing) => AgentState::Pausing,
        Ok(pb::VmState::Resuming) => AgentState::Resuming,
        Ok(pb::VmState::Resetting) => AgentState::Reset,
        _ => AgentState::Other,
    }
}

/// The wire name of an agent state, as the API writes VM states.
pub fn agent_state_name(state: AgentState) -> &'static str {
    match state {
        AgentState::Running => "running",
        AgentState::Off => "off",
        AgentState::Saved => "saved",
        AgentState::Paused => "paused",
        AgentState::Starting => "starting",
        AgentState::Stopping => "stopping",
        AgentState::Saving => "saving",
        AgentState::Pausing => "pausing",
        AgentState::Resuming => "resuming",
        AgentState::Reset => "resetting",
        AgentState::Other => "other",
    }
}

/// The API's actions the VM allows now: none while its host is unreachable (stale data).
pub fn power_actions(vm: &pb::Vm) -> Vec<&'static str> {
    power_action_names(vm.state, vm.stale).collect()
}

/// The API's actions a VM in proto state `state` allows, in route order (none when stale).
pub fn power_action_names(state: i32, stale: bool) -> impl Iterator<Item = &'static str> {
    let state = agent_state(state);
    API_ACTIONS
        .into_iter()
        .filter(move |action| !stale && action.allowed_from().contains(&state))
        .map(PowerAction::as_str)
}

/// The wire name of a proto OS family.
fn os_family_name(value: i32) -> &'static str {
    match pb::OsFamily::try_from(value) {
        Ok(pb::OsFamily::Windows) => "windows",
        Ok(pb::OsFamily::Linux) => "linux",
        Ok(pb::OsFamily::Other) => "other",
        _ => "unknown",
    }
}

/// The wire name of a proto disk type.
fn disk_type_name(value: i32) -> &'static str {
    match pb::DiskType::try_from(value) {
        Ok(pb::DiskType::Dynamic) => "dynamic",
        Ok(pb::DiskType::Fixed) => "fixed",
        Ok(pb::DiskType::Differencing) => "differencing",
        _ => "unknown",
    }
}

/// The wire name of a proto controller type.
fn controller_type_name(value: i32) -> &'static str {
    match pb::ControllerType::try_from(value) {
        Ok(pb::ControllerType::Scsi) => "scsi",
        Ok(pb::ControllerType::Ide) => "ide",
        _ => "unknown",
    }
}

/// RFC 3339 UTC with `Z`, whole seconds; `None` for an absent or out-of-range time.
pub fn rfc3339(timestamp: Option<&prost_types::Timestamp>) -> Option<String> {
    let timestamp = timestamp?;
    let time = time::OffsetDateTime::from_unix_timestamp(timestamp.seconds).ok()?;
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time.format(&format).ok()
}

/// The current time, RFC 3339 UTC with `Z`.
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let timestamp = prost_types::Timestamp {
        seconds: i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
        nanos: 0,
    };
    rfc3339(Some(&timestamp)).unwrap_or_default()
}

/// Seconds of a proto duration (fractions kept); `None` when absent.
pub fn seconds(duration: Option<&prost_types::Duration>) -> Option<f64> {
    let duration = duration?;
    Some(duration.seconds as f64 + f64::from(duration.nanos) / 1e9)
}

fn non_empty(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

/// `Capacity`.
#[derive(Debug, Serialize)]
pub struct CapacityJson {
    cpu_cores: u32,
    vcpus_assigned: u32,
    vcpus_configured: u32,
    memory_total_bytes: u64,
    memory_available_bytes: u64,
    memory_assigned_bytes: u64,
}

impl CapacityJson {
    /// From the proto; zeros when absent.
    pub fn new(capacity: Option<&pb::Capacity>) -> CapacityJson {
        let c = capacity.cloned().unwrap_or_default();
        CapacityJson {
            cpu_cores: c.cpu_cores,
            vcpus_assigned: c.vcpus_assigned,
            vcpus_configured: c.vcpus_configured,
            memory_total_bytes: c.memory_total_bytes,
            memory_available_bytes: c.memory_available_bytes,
            memory_assigned_bytes: c.memory_assigned_bytes,
        }
    }
}

/// `Cluster`.
#[derive(Debug, Serialize)]
pub struct ClusterJson<'a> {
    name: &'a str,
    hosts: &'a [String],
    host_count: usize,
    reachable_hosts: u32,
    vm_count: u32,
    capacity: CapacityJson,
    revision: u64,
}

impl<'a> ClusterJson<'a> {
    /// From the proto.
    pub fn new(cluster: &'a pb::Cluster) -> ClusterJson<'a> {
        ClusterJson {
            name: &cluster.name,
            hosts: &cluster.hosts,
            host_count: cluster.hosts.len(),
            reachable_hosts: cluster.reachable_hosts,
            vm_count: cluster.vm_count,
            capacity: CapacityJson::new(cluster.capacity.as_ref()),
            revision: cluster.revision,
        }
    }
}

/// `VirtualSwitch`.
#[derive(Debug, Serialize)]
struct SwitchJson<'a> {
    id: &'a str,
    name: &'a str,
    r#type: &'static str,
    uplink: Option<&'a str>,
}

/// `StorageLocation`.
#[derive(Debug, Serialize)]
struct StorageJson<'a> {
    path: &'a str,
    total_bytes: u64,
    free_bytes: u64,
}

/// `Host`.
#[derive(Debug, Serialize)]
pub struct HostJson<'a> {
    name: &'a str,
    fqdn: Option<&'a str>,
    cluster: Option<&'a str>,
    status: &'static str,
    status_reason: Option<&'a str>,
    stale: bool,
    slow: bool,
    last_seen: Option<String>,
    last_refresh: Option<String>,
    last_refresh_duration_seconds: Option<f64>,
    cpu_cores: u32,
    memory_total_bytes: u64,
    memory_available_bytes: u64,
    vm_count: u32,
    capacity: CapacityJson,
    virtual_switches: Vec<SwitchJson<'a>>,
    storage_locations: Vec<StorageJson<'a>>,
    revision: u64,
}

impl<'a> HostJson<'a> {
    /// From the proto.
    pub fn new(host: &'a pb::Host) -> HostJson<'a> {
        HostJson {
            name: &host.host,
            fqdn: non_empty(&host.fqdn),
            cluster: non_empty(&host.cluster),
            status: host_status_name(host.status),
            status_reason: non_empty(&host.status_reason),
            stale: host.stale,
            slow: host.slow,
            last_seen: rfc3339(host.last_seen.as_ref()),
            last_refresh: rfc3339(host.last_refresh.as_ref()),
            last_refresh_duration_seconds: seconds(host.last_refresh_duration.as_ref()),
            cpu_cores: host.cpu_cores,
            memory_total_bytes: host.memory_total_bytes,
            memory_available_bytes: host.memory_available_bytes,
            vm_count: host.vm_count,
            capacity: CapacityJson::new(host.capacity.as_ref()),
            virtual_switches: host
                .virtual_switches
                .iter()
                .map(|s| SwitchJson {
                    id: &s.id,
                    name: &s.name,
                    r#type: match pb::SwitchType::try_from(s.r#type) {
                        Ok(pb::SwitchType::External) => "external",
                        Ok(pb::SwitchType::Internal) => "internal",
                        Ok(pb::SwitchType::Private) => "private",
                        _ => "unknown",
                    },
                    uplink: non_empty(&s.uplink),
                })
                .collect(),
            storage_locations: host
                .storage_locations
                .iter()
                .map(|l| StorageJson {
                    path: &l.path,
                    total_bytes: l.total_bytes,
                    free_bytes: l.free_bytes,
                })
                .collect(),
            revision: host.revision,
        }
    }
}

/// `Nic`.
#[derive(Debug, Serialize)]
pub struct NicJson<'a> {
    id: &'a str,
    name: &'a str,
    switch_name: Option<&'a str>,
    vlan_id: Option<u32>,
    mac_address: &'a str,
    ip_addresses: &'a [String],
    network_name: Option<&'a str>,
}

/// `Disk`.
#[derive(Debug, Serialize)]
pub struct DiskJson<'a> {
    id: &'a str,
    name: &'a str,
    path: &'a str,
    r#type: &'static str,
    capacity_bytes: u64,
    file_size_bytes: u64,
    controller_type: &'static str,
    controller_number: u32,
    controller_location: u32,
}

impl<'a> NicJson<'a> {
    /// From the proto.
    pub fn new(n: &'a pb::Nic) -> NicJson<'a> {
        NicJson {
            id: &n.id,
            name: &n.name,
            switch_name: non_empty(&n.switch_name),
            vlan_id: n.vlan_id,
            mac_address: &n.mac_address,
            ip_addresses: &n.ip_addresses,
            network_name: non_empty(&n.network_name),
        }
    }
}

impl<'a> DiskJson<'a> {
    /// From the proto.
    pub fn new(d: &'a pb::Disk) -> DiskJson<'a> {
        DiskJson {
            id: &d.id,
            name: &d.name,
            path: &d.path,
            r#type: disk_type_name(d.r#type),
            capacity_bytes: d.capacity_bytes,
            file_size_bytes: d.file_size_bytes,
            controller_type: controller_type_name(d.controller_type),
            controller_number: d.controller_number,
            controller_location: d.controller_location,
        }
    }
}

/// `Vm`.
#[derive(Debug, Serialize)]
pub struct VmJson<'a> {
    id: &'a str,
    name: &'a str,
    host: &'a str,
    cluster: Option<&'a str>,
    state: &'static str,
    power_actions: Vec<&'static str>,
    cpu_count: u32,
    memory_assigned_bytes: u64,
    memory_startup_bytes: u64,
    memory_minimum_bytes: Option<u64>,
    memory_maximum_bytes: Option<u64>,
    dynamic_memory_enabled: bool,
    generation: u32,
    configuration_version: &'a str,
    notes: &'a str,
    os_name: Option<&'a str>,
    os_family: &'static str,
    creation_time: Option<String>,
    uptime_seconds: f64,
    clustered: bool,
    ip_addresses: &'a [String],
    primary_ip: Option<&'a str>,
    nics: Vec<NicJson<'a>>,
    disks: Vec<DiskJson<'a>>,
    stale: bool,
    observed_at: Option<String>,
    revision: u64,
}

impl<'a> VmJson<'a> {
    /// From the proto.
    pub fn new(vm: &'a pb::Vm) -> VmJson<'a> {
        VmJson {
            id: &vm.id,
            name: &vm.name,
            host: &vm.host,
            cluster: non_empty(&vm.cluster),
            state: state_name(vm.state),
            power_actions: power_actions(vm),
            cpu_count: vm.cpu_count,
            memory_assigned_bytes: vm.memory_assigned_bytes,
            memory_startup_bytes: vm.memory_startup_bytes,
            memory_minimum_bytes: vm.memory_minimum_bytes,
            memory_maximum_bytes: vm.memory_maximum_bytes,
            dynamic_memory_enabled: vm.dynamic_memory_enabled,
            generation: vm.generation,
            configuration_version: &vm.configuration_version,
            notes: &vm.notes,
            os_name: non_empty(&vm.os_name),
            os_family: os_family_name(vm.os_family),
            creation_time: rfc3339(vm.creation_time.as_ref()),
            uptime_seconds: seconds(vm.uptime.as_ref()).unwrap_or(0.0),
            clustered: vm.clustered,
            ip_addresses: &vm.ip_addresses,
            primary_ip: non_empty(&vm.primary_ip),
            nics: vm.nics.iter().map(NicJson::new).collect(),
            disks: vm.disks.iter().map(DiskJson::new).collect(),
            stale: vm.stale,
            observed_at: rfc3339(vm.observed_at.as_ref()),
            revision: vm.revision,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_actions_follow_the_reference_rules() {
        let vm = |state: pb::VmState| pb::Vm {
            state: state as i32,
            ..pb::Vm::default()
        };
        assert_eq!(power_actions(&vm(pb::VmState::Off)), ["start"]);
        assert_eq!(power_actions(&vm(pb::VmState::Saved)), ["start", "stop"]);
        assert_eq!(
            power_actions(&vm(pb::VmState::Paused)),
            ["start", "stop", "save", "resume"]
        );
        assert_eq!(
            power_actions(&vm(pb::VmState::Running)),
            ["shutdown", "stop", "reset", "save", "pause"]
        );
        assert!(power_actions(&vm(pb::VmState::Starting)).is_empty());
        assert!(power_actions(&vm(pb::VmState::Creating)).is_empty());
        let stale = pb::Vm {
            stale: true,
            ..vm(pb::VmState::Running)
        };
        assert!(power_actions(&stale).is_empty());
    }

    #[test]
    fn times_are_rfc3339_utc_and_names_are_lower_case() {
        let time = prost_types::Timestamp {
            seconds: 1_764_163_625,
            nanos: 5,
        };
        assert_eq!(
            rfc3339(Some(&time)).as_deref(),
            Some("2025-11-26T13:27:05Z")
        );
        assert_eq!(rfc3339(None), None);
        assert_eq!(state_name(pb::VmState::Resetting as i32), "resetting");
        assert_eq!(state_name(999), "other");
        assert_eq!(
            host_status_name(pb::HostStatus::Unreachable as i32),
            "unreachable"
        );
    }
}
