//! Agent `inventory.collect` data → model → proto: every field arrives, derived fields
//! (OS family, primary IP, uptime, capacity) are computed, and data the model cannot
//! accept fails the refresh with the field named.

mod support;

use std::net::IpAddr;
use std::time::Duration;

use aetherv_hyperv::{HostId, VmState as AgentState};
use aetherv_inventory::domain::fleet::{Applied, Attempt, FleetSettings};
use aetherv_inventory::domain::model::{HostStatus, OsFamily};
use aetherv_inventory::domain::store::{Store, StoreSettings};
use aetherv_inventory::grpc::convert;
use aetherv_proto::inventory::v1 as pb;
use support::agent_data::{HostData, VmData, vm_id};
use time::OffsetDateTime;

fn store() -> Store {
    Store::new(
        StoreSettings {
            fleet: FleetSettings::default(),
            history: 10_000,
            watch_buffer: 64,
        },
        1_000,
    )
}

fn host(name: &str) -> HostId {
    match HostId::parse(name) {
        Ok(id) => id,
        Err(error) => panic!("host id {name}: {error}"),
    }
}

fn attempt(at: OffsetDateTime) -> Attempt {
    Attempt {
        at,
        duration: Duration::from_millis(250),
    }
}

#[test]
fn every_field_of_the_agent_data_reaches_the_proto_records() {
    let store = store();
    let id = host("hv01");
    store.set_configured_hosts(std::slice::from_ref(&id));
    let vm = VmData::new(1, 7).name("SQL-Prod-01").with(|vm| {
        vm.notes = "owner: dba\nticket 42".to_string();
        vm.clustered = true;
        vm.ip_addresses = vec![
            "fe80::1".parse().unwrap_or(IpAddr::from([0; 4])),
            "2001:db8::7".parse().unwrap_or(IpAddr::from([0; 4])),
            "10.1.0.7".parse().unwrap_or(IpAddr::from([0; 4])),
        ];
        vm.nics[0].mac_address_static = true;
        vm.disks[1].disk_type = None;
        vm.disks[1].capacity_bytes = None;
        vm.disks[1].file_size_bytes = None;
    });
    let data = HostData::new("hv01")
        .cluster("Cluster-A")
        .vm(vm.clone())
        .warning(
            "Msvm_KvpExchangeComponent",
            "kvp query failed",
            Some(vm.0.id),
        );
    let received = OffsetDateTime::now_utc();
    let Some(ticket) = store.begin_refresh(&id) else {
        panic!("host is configured")
    };
    let applied = store.apply(&ticket, Ok(&data.0), attempt(received));
    assert!(applied.error.is_none(), "{:?}", applied.error);
    let Applied::Done {
        host: record,
        counts,
        ..
    } = applied.applied
    else {
        panic!("applied: {:?}", applied.applied)
    };
    assert_eq!(counts.added, 1);
    assert_eq!(record.status, HostStatus::Reachable);

    // The host, in proto form.
    let host = convert::host(&record);
    assert_eq!(host.host, "hv01");
    assert_eq!(host.fqdn, "hv01.lab.local");
    assert_eq!(host.computer_name, "HV01");
    assert_eq!(host.cluster, "cluster-a");
    assert_eq!(host.status, pb::HostStatus::Reachable as i32);
    assert_eq!(host.status_reason, "");
    assert!(host.last_seen.is_some() && host.last_refresh.is_some());
    assert_eq!(
        host.last_refresh_duration,
        Some(prost_types::Duration {
            seconds: 0,
            nanos: 250_000_000
        })
    );
    assert!(!host.slow && !host.stale);
    assert_eq!(host.cpu_cores, 64);
    assert_eq!(host.memory_total_bytes, 512 << 30);
    assert_eq!(host.memory_available_bytes, 300 << 30);
    assert_eq!(host.vm_count, 1);
    let switch = &host.virtual_switches[0];
    assert_eq!(switch.name, "vSwitch-Prod");
    assert_eq!(switch.r#type, pb::SwitchType::External as i32);
    assert_eq!(switch.uplink, "Mellanox ConnectX-4 Lx");
    assert_eq!(switch.id, "00000000-0000-0000-0000-000000005a1e");
    assert_eq!(
        host.storage_locations[0].path,
        "C:\\ClusterStorage\\Volume1"
    );
    assert_eq!(host.storage_locations[0].total_bytes, 4 << 40);
    assert_eq!(host.storage_locations[0].free_bytes, 1 << 40);
    let Some(resources) = &host.resources else {
        panic!("catalogue missing")
    };
    assert_eq!(
        resources.catalogue_path,
        "C:\\ProgramData\\Aether-V\\hostresources.json"
    );
    assert_eq!(resources.storage_classes[0].name, "fast");
    assert_eq!(resources.storage_classes[0].free_bytes, Some(1 << 40));
    assert_eq!(resources.networks[0].vlan_id, Some(120));
    assert_eq!(resources.images[0].os_family, pb::OsFamily::Windows as i32);
    assert_eq!(resources.images[0].capacity_bytes, Some(127 << 30));
    assert_eq!(host.warnings.len(), 1);
    assert_eq!(host.warnings[0].source, "Msvm_KvpExchangeComponent");
    assert_eq!(host.warnings[0].vm_id, vm.0.id.to_string());
    let capacity = host.capacity.unwrap_or_default();
    assert_eq!(capacity.cpu_cores, 64);
    assert_eq!(capacity.vcpus_assigned, vm.0.cpu_count);
    assert_eq!(capacity.vcpus_configured, vm.0.cpu_count);
    assert_eq!(capacity.memory_assigned_bytes, 4 << 30);

    // The VM, in proto form.
    let record = store.read(|fleet| fleet.vms().by_id(&vm.0.id).cloned());
    let Some(record) = record else {
        panic!("vm missing")
    };
    assert_eq!(record.data.os_family, OsFamily::Windows);
    let now = received + Duration::from_secs(60);
    let out = convert::vm(&record, now);
    assert_eq!(out.id, vm_id(1, 7).to_string());
    assert_eq!(out.name, "SQL-Prod-01");
    assert_eq!(out.host, "hv01");
    assert_eq!(out.cluster, "cluster-a");
    assert_eq!(out.state, pb::VmState::Running as i32);
    assert_eq!(out.cpu_count, vm.0.cpu_count);
    assert_eq!(out.memory_assigned_bytes, 4 << 30);
    assert_eq!(out.memory_startup_bytes, 4 << 30);
    assert_eq!(out.memory_minimum_bytes, Some(1 << 30));
    assert_eq!(out.memory_maximum_bytes, Some(8 << 30));
    assert!(out.dynamic_memory_enabled);
    assert_eq!(out.generation, 2);
    assert_eq!(out.configuration_version, "10.0");
    assert_eq!(out.notes, "owner: dba\nticket 42");
    assert_eq!(out.os_name, "Windows Server 2022 Datacenter");
    assert_eq!(out.os_family, pb::OsFamily::Windows as i32);
    assert_eq!(
        out.creation_time.map(|t| t.seconds),
        Some(vm.0.creation_time.get().unix_timestamp())
    );
    // Uptime: the reported uptime plus the time since the data was received.
    assert_eq!(
        out.uptime.map(|u| u.seconds),
        Some(vm.0.uptime_seconds as i64 + 60)
    );
    assert!(out.clustered);
    assert_eq!(
        out.ip_addresses,
        ["2001:db8::7", "10.1.0.7"],
        "link-local dropped"
    );
    assert_eq!(out.primary_ip, "10.1.0.7", "the first IPv4 address");
    assert!(!out.stale);
    assert!(out.observed_at.is_some());
    assert_eq!(
        out.revision, 1_002,
        "configuring the host was 1001, its refresh 1002"
    );
    assert_eq!(out.secure_boot_enabled, Some(true));
    assert_eq!(out.secure_boot_template, "MicrosoftWindows");
    assert_eq!(
        out.configuration_path,
        "C:\\ClusterStorage\\Volume1\\vm-1-7"
    );
    let nic = &out.nics[0];
    assert_eq!(nic.id, vm.0.nics[0].id.as_str());
    assert_eq!(nic.name, "Network Adapter");
    assert_eq!(nic.switch_name, "vSwitch-Prod");
    assert_eq!(nic.vlan_id, Some(120));
    assert_eq!(nic.mac_address, vm.0.nics[0].mac_address);
    assert!(nic.mac_address_static);
    assert_eq!(nic.ip_addresses, ["10.1.0.8"]);
    assert_eq!(nic.network_name, "prod-120");
    let disk = &out.disks[0];
    assert_eq!(disk.id, vm.0.disks[0].id.as_str());
    assert_eq!(disk.name, "vm-1-7-0.vhdx");
    assert_eq!(disk.path, vm.0.disks[0].path);
    assert_eq!(disk.r#type, pb::DiskType::Dynamic as i32);
    assert_eq!(disk.capacity_bytes, 64 << 30);
    assert_eq!(disk.file_size_bytes, 16 << 30);
    assert_eq!(disk.controller_type, pb::ControllerType::Scsi as i32);
    assert_eq!((disk.controller_number, disk.controller_location), (0, 0));
    let unreadable = &out.disks[1];
    assert_eq!(unreadable.r#type, pb::DiskType::Unspecified as i32);
    assert_eq!(
        (unreadable.capacity_bytes, unreadable.file_size_bytes),
        (0, 0)
    );
    assert_eq!(unreadable.controller_location, 1);
}

#[test]
fn os_families_states_and_missing_values_are_mapped() {
    let store = store();
    let id = host("hv02");
    store.set_configured_hosts(std::slice::from_ref(&id));
    let data = HostData::new("hv02")
        .vm(VmData::new(2, 1).with(|vm| vm.guest_os_name = Some("Ubuntu 22.04.4 LTS".into())))
        .vm(VmData::new(2, 2).state(AgentState::Off).with(|vm| {
            vm.guest_os_name = None;
            vm.generation = aetherv_hyperv::Generation::One;
            vm.secure_boot_enabled = None;
            vm.secure_boot_template = None;
            vm.dynamic_memory_enabled = false;
            vm.memory_minimum_bytes = None;
            vm.memory_maximum_bytes = None;
            vm.nics.clear();
            vm.ip_addresses.clear();
        }))
        .vm(VmData::new(2, 3)
            .state(AgentState::Reset)
            .with(|vm| vm.guest_os_name = Some("FreeBSD 14".into())));
    let Some(ticket) = store.begin_refresh(&id) else {
        panic!("configured")
    };
    let applied = store.apply(&ticket, Ok(&data.0), attempt(OffsetDateTime::now_utc()));
    assert!(applied.error.is_none());
    let now = OffsetDateTime::now_utc();
    let vms: Vec<pb::Vm> = store.read(|fleet| {
        [1, 2, 3]
            .into_iter()
            .filter_map(|n| {
                fleet
                    .vms()
                    .by_id(&vm_id(2, n))
                    .map(|vm| convert::vm(vm, now))
            })
            .collect()
    });
    assert_eq!(vms.len(), 3);
    assert_eq!(vms[0].os_family, pb::OsFamily::Linux as i32);
    assert_eq!(vms[1].os_family, pb::OsFamily::Unspecified as i32);
    assert_eq!(vms[1].state, pb::VmState::Off as i32);
    assert_eq!(vms[1].uptime.map(|u| u.seconds), Some(0));
    assert_eq!(vms[1].generation, 1);
    assert_eq!(vms[1].secure_boot_enabled, None);
    assert_eq!(vms[1].secure_boot_template, "");
    assert_eq!(vms[1].memory_minimum_bytes, None);
    assert_eq!(vms[1].primary_ip, "");
    assert!(vms[1].nics.is_empty());
    assert_eq!(vms[2].state, pb::VmState::Resetting as i32);
    assert_eq!(vms[2].os_family, pb::OsFamily::Other as i32);
    // An Off VM holds no resources: only the two others count as assigned.
    let host = store.read(|fleet| fleet.host(&id).cloned());
    let Some(host) = host else { panic!("host") };
    assert_eq!(
        host.capacity.vcpus_assigned,
        data.0.vms[0].cpu_count + data.0.vms[2].cpu_count
    );
    assert_eq!(
        host.capacity.vcpus_configured,
        data.0.vms.iter().map(|vm| vm.cpu_count).sum::<u32>()
    );
}

#[test]
fn unusable_data_fails_the_refresh_naming_the_field() {
    let store = store();
    let id = host("hv03");
    store.set_configured_hosts(std::slice::from_ref(&id));
    let twice = HostData::new("hv03")
        .vm(VmData::new(3, 1))
        .vm(VmData::new(3, 1));
    let Some(ticket) = store.begin_refresh(&id) else {
        panic!("configured")
    };
    let applied = store.apply(&ticket, Ok(&twice.0), attempt(OffsetDateTime::now_utc()));
    let Some(reason) = applied.error else {
        panic!("duplicate ids accepted")
    };
    assert!(reason.contains("vms[1].id"), "{reason}");
    let record = store.read(|fleet| fleet.host(&id).cloned());
    let Some(record) = record else { panic!("host") };
    assert_eq!(record.status, HostStatus::Unreachable);
    assert_eq!(&*record.status_reason, reason.as_str());

    let bad_mac = HostData::new("hv03")
        .vm(VmData::new(3, 2).with(|vm| vm.nics[0].mac_address = "00-15-5D".into()));
    let Some(ticket) = store.begin_refresh(&id) else {
        panic!("configured")
    };
    let applied = store.apply(&ticket, Ok(&bad_mac.0), attempt(OffsetDateTime::now_utc()));
    let Some(reason) = applied.error else {
        panic!("bad mac accepted")
    };
    assert!(reason.contains("vms[0].nics[0].mac_address"), "{reason}");
    assert_eq!(
        store.read(|fleet| fleet.vms().len()),
        0,
        "nothing half-applied"
    );
}
