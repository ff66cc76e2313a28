//! Domain records → `aetherv.inventory.v1` messages. Nothing here decides anything.

use std::time::Duration;

use aetherv_hyperv as agent;
use aetherv_proto::inventory::v1 as pb;
use time::OffsetDateTime;

use crate::domain::changes::Change;
use crate::domain::model::{Capacity, Cluster, Disk, Host, HostStatus, Nic, OsFamily, Vm, VmState};

/// A wall-clock time as a protobuf timestamp.
pub fn timestamp(at: OffsetDateTime) -> prost_types::Timestamp {
    let nanos = at.unix_timestamp_nanos();
    prost_types::Timestamp {
        seconds: i64::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(i64::MAX),
        nanos: nanos.rem_euclid(1_000_000_000) as i32,
    }
}

/// A duration as a protobuf duration (saturating).
pub fn duration(value: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(value.as_secs()).unwrap_or(i64::MAX),
        nanos: value.subsec_nanos() as i32,
    }
}

/// The proto host status.
pub fn host_status(status: HostStatus) -> pb::HostStatus {
    match status {
        HostStatus::Unknown => pb::HostStatus::Unknown,
        HostStatus::Reachable => pb::HostStatus::Reachable,
        HostStatus::Unreachable => pb::HostStatus::Unreachable,
    }
}

/// The proto VM state.
pub fn vm_state(state: VmState) -> pb::VmState {
    match state {
        VmState::Running => pb::VmState::Running,
        VmState::Off => pb::VmState::Off,
        VmState::Saved => pb::VmState::Saved,
        VmState::Paused => pb::VmState::Paused,
        VmState::Starting => pb::VmState::Starting,
        VmState::Stopping => pb::VmState::Stopping,
        VmState::Saving => pb::VmState::Saving,
        VmState::Pausing => pb::VmState::Pausing,
        VmState::Resuming => pb::VmState::Resuming,
        VmState::Resetting => pb::VmState::Resetting,
        VmState::Other => pb::VmState::Other,
        VmState::Creating => pb::VmState::Creating,
        VmState::Deleting => pb::VmState::Deleting,
    }
}

fn os_family(family: OsFamily) -> pb::OsFamily {
    match family {
        OsFamily::Unknown => pb::OsFamily::Unspecified,
        OsFamily::Windows => pb::OsFamily::Windows,
        OsFamily::Linux => pb::OsFamily::Linux,
        OsFamily::Other => pb::OsFamily::Other,
    }
}

/// The proto capacity.
pub fn capacity(capacity: &Capacity) -> pb::Capacity {
    pb::Capacity {
        cpu_cores: capacity.cpu_cores,
        vcpus_assigned: capacity.vcpus_assigned,
        vcpus_configured: capacity.vcpus_configured,
        memory_total_bytes: capacity.memory_total_bytes,
        memory_available_bytes: capacity.memory_available_bytes,
        memory_assigned_bytes: capacity.memory_assigned_bytes,
    }
}

/// The proto cluster.
pub fn cluster(cluster: &Cluster) -> pb::Cluster {
    pb::Cluster {
        name: cluster.name.to_string(),
        hosts: cluster.hosts.iter().map(|h| h.to_string()).collect(),
        reachable_hosts: cluster.reachable_hosts,
        vm_count: cluster.vm_count,
        capacity: Some(capacity(&cluster.capacity)),
        revision: cluster.revision,
    }
}

fn switch(switch: &agent::VirtualSwitch) -> pb::VirtualSwitch {
    pb::VirtualSwitch {
        id: switch.id.hyphenated().to_string(),
        name: switch.name.clone(),
        r#type: match switch.switch_type {
            agent::SwitchType::External => pb::SwitchType::External,
            agent::SwitchType::Internal => pb::SwitchType::Internal,
            agent::SwitchType::Private => pb::SwitchType::Private,
        } as i32,
        uplink: switch.uplink.clone().unwrap_or_default(),
    }
}

fn catalogue(resources: &agent::ResourceCatalogue) -> pb::ResourceCatalogue {
    pb::ResourceCatalogue {
        catalogue_path: resources.catalogue_path.clone().unwrap_or_default(),
        storage_classes: resources
            .storage_classes
            .iter()
            .map(|class| pb::StorageClass {
                name: class.name.clone(),
                path: class.path.clone(),
                total_bytes: class.total_bytes,
                free_bytes: class.free_bytes,
            })
            .collect(),
        networks: resources
            .networks
            .iter()
            .map(|network| pb::Network {
                name: network.name.clone(),
                switch_name: network.switch_name.clone(),
                vlan_id: network.vlan_id.map(u32::from),
            })
            .collect(),
        images: resources
            .images
            .iter()
            .map(|image| pb::Image {
                name: image.name.clone(),
                path: image.path.clone(),
                os_family: match image.os_family {
                    agent::OsFamily::Windows => pb::OsFamily::Windows,
                    agent::OsFamily::Linux => pb::OsFamily::Linux,
                } as i32,
                capacity_bytes: image.capacity_bytes,
                file_size_bytes: image.file_size_bytes,
            })
            .collect(),
    }
}

/// The proto host.
pub fn host(host: &Host) -> pb::Host {
    let facts = host.facts.as_ref();
    pb::Host {
        host: host.id.to_string(),
        fqdn: facts.map(|f| f.fqdn.to_string()).unwrap_or_default(),
        cluster: host
            .cluster
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_default(),
        status: host_status(host.status) as i32,
        status_reason: host.status_reason.to_string(),
        last_seen: host.last_seen.map(timestamp),
        last_refresh: host.last_refresh.map(timestamp),
        last_refresh_duration: host.last_refresh_duration.map(duration),
        slow: host.slow,
        cpu_cores: facts.map_or(0, |f| f.cpu_cores),
        memory_total_bytes: facts.map_or(0, |f| f.memory_total_bytes),
        memory_available_bytes: facts.map_or(0, |f| f.memory_available_bytes),
        virtual_switches: facts
            .map(|f| f.virtual_switches.iter().map(switch).collect())
            .unwrap_or_default(),
        storage_locations: facts
            .map(|f| {
                f.storage_locations
                    .iter()
                    .map(|location| pb::StorageLocation {
                        path: location.path.clone(),
                        total_bytes: location.total_bytes,
                        free_bytes: location.free_bytes,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        stale: host.stale,
        vm_count: host.vm_count,
        capacity: Some(capacity(&host.capacity)),
        revision: host.revision,
        computer_name: facts
            .map(|f| f.computer_name.to_string())
            .unwrap_or_default(),
        resources: facts.map(|f| catalogue(&f.resources)),
        warnings: facts
            .map(|f| {
                f.warnings
                    .iter()
                    .map(|warning| pb::CollectionWarning {
                        source: warning.source.clone(),
                        message: warning.message.clone(),
                        vm_id: warning.vm_id.map(|id| id.to_string()).unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn nic(nic: &Nic) -> pb::Nic {
    pb::Nic {
        id: nic.id.to_string(),
        name: nic.name.to_string(),
        switch_name: nic.switch_name.as_deref().unwrap_or_default().to_string(),
        vlan_id: nic.vlan_id.map(u32::from),
        mac_address: nic.mac_text(),
        ip_addresses: nic.ip_addresses.iter().map(ToString::to_string).collect(),
        network_name: nic.network_name.as_deref().unwrap_or_default().to_string(),
        mac_address_static: nic.mac_address_static,
    }
}

fn disk(disk: &Disk) -> pb::Disk {
    pb::Disk {
        id: disk.id.to_string(),
        name: disk.name.to_string(),
        path: disk.path.to_string(),
        r#type: match disk.disk_type {
            None => pb::DiskType::Unspecified,
            Some(agent::DiskType::Dynamic) => pb::DiskType::Dynamic,
            Some(agent::DiskType::Fixed) => pb::DiskType::Fixed,
            Some(agent::DiskType::Differencing) => pb::DiskType::Differencing,
        } as i32,
        capacity_bytes: disk.capacity_bytes.unwrap_or(0),
        file_size_bytes: disk.file_size_bytes.unwrap_or(0),
        controller_type: match disk.controller_type {
            agent::ControllerType::Scsi => pb::ControllerType::Scsi,
            agent::ControllerType::Ide => pb::ControllerType::Ide,
        } as i32,
        controller_number: u32::from(disk.controller_number),
        controller_location: u32::from(disk.controller_location),
    }
}

/// The proto VM, its uptime as of `now`.
pub fn vm(vm: &Vm, now: OffsetDateTime) -> pb::Vm {
    let data = &vm.data;
    pb::Vm {
        id: vm.id.to_string(),
        name: data.name.to_string(),
        host: vm.host.to_string(),
        cluster: vm
            .cluster
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_default(),
        state: vm_state(data.state) as i32,
        cpu_count: data.cpu_count,
        memory_assigned_bytes: data.memory_assigned_bytes,
        memory_startup_bytes: data.memory_startup_bytes,
        memory_minimum_bytes: data.memory_minimum_bytes,
        memory_maximum_bytes: data.memory_maximum_bytes,
        dynamic_memory_enabled: data.dynamic_memory_enabled,
        generation: u32::from(data.generation),
        configuration_version: data.configuration_version.to_string(),
        notes: data.notes.to_string(),
        os_name: data.os_name.as_deref().unwrap_or_default().to_string(),
        os_family: os_family(data.os_family) as i32,
        creation_time: data.creation_time.map(timestamp),
        uptime: Some(duration(vm.uptime(now))),
        clustered: data.clustered,
        ip_addresses: data.ip_addresses.iter().map(ToString::to_string).collect(),
        primary_ip: vm.primary_ip().map(|ip| ip.to_string()).unwrap_or_default(),
        nics: data.nics.iter().map(nic).collect(),
        disks: data.disks.iter().map(disk).collect(),
        stale: vm.stale,
        observed_at: Some(timestamp(vm.observed_at)),
        revision: vm.revision,
        secure_boot_enabled: data.secure_boot_enabled,
        secure_boot_template: data
            .secure_boot_template
            .as_deref()
            .unwrap_or_default()
            .to_string(),
        configuration_path: data.configuration_path.to_string(),
    }
}

/// One change as a Watch event at `revision`.
pub fn change(change: &Change, revision: u64, now: OffsetDateTime) -> pb::WatchEvent {
    use pb::watch_event::Event;
    let event = match change {
        Change::ClusterUpserted(record) => Event::ClusterUpserted(cluster(record)),
        Change::ClusterDeleted(name) => Event::ClusterDeleted(pb::ClusterDeleted {
            name: name.to_string(),
        }),
        Change::HostUpserted(record) => Event::HostUpserted(host(record)),
        Change::HostDeleted(id) => Event::HostDeleted(pb::HostDeleted {
            host: id.to_string(),
        }),
        Change::VmUpserted(record) => Event::VmUpserted(vm(record, now)),
        Change::VmDeleted { id, host } => Event::VmDeleted(pb::VmDeleted {
            id: id.to_string(),
            host: host.to_string(),
        }),
    };
    pb::WatchEvent {
        revision,
        event: Some(event),
    }
}
