//! Builders of agent `inventory.collect` results, for domain tests and the bench:
//! `HostData::new("hv01").cluster("Cluster-A").vm(VmData::new(1, 1).name("web-01"))`.
//! Ids are derived from (host number, VM number) so they are stable across refreshes.

#![allow(dead_code)] // each test binary uses a different part

use std::net::IpAddr;

use aetherv_hyperv::ops::inventory::{HostInventory, InventoryCollectResult};
use aetherv_hyperv::{
    ControllerType, Disk, DiskId, DiskType, Generation, Image, Network, Nic, NicId, OsFamily,
    ResourceCatalogue, SecureBootTemplate, StorageClass, StorageLocation, SwitchType, Timestamp,
    VirtualSwitch, Vm, VmId, VmState, Warning,
};
use time::OffsetDateTime;
use uuid::Uuid;

/// The VM id of VM `vm` on host `host`.
pub fn vm_id(host: u32, vm: u32) -> VmId {
    VmId::from_uuid(Uuid::from_u128(
        0x0f8f_ad5b_d9cb_469f_a165_0000_0000_0000 | (u128::from(host) << 24) | u128::from(vm),
    ))
}

fn parse<T, E: std::fmt::Debug>(result: Result<T, E>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("fixture {what}: {error:?}"),
    }
}

/// One VM of a fixture host.
#[derive(Debug, Clone)]
pub struct VmData(pub Vm);

impl VmData {
    /// A running generation-2 VM with one NIC, two disks and dynamic memory.
    pub fn new(host: u32, number: u32) -> VmData {
        let id = vm_id(host, number);
        let upper = id.to_string().to_uppercase();
        let nic_id = parse(
            NicId::parse(&format!(
                "Microsoft:{upper}\\{}",
                Uuid::from_u128(u128::from(host) << 32 | u128::from(number))
                    .hyphenated()
                    .to_string()
                    .to_uppercase()
            )),
            "nic id",
        );
        let disk = |location: u8, size: u64| Disk {
            id: parse(
                DiskId::parse(&format!(
                    "Microsoft:{upper}\\83F8638B-8DCA-4152-9EDA-2CA8B33039B4\\0\\{location}\\D"
                )),
                "disk id",
            ),
            name: format!("vm-{host}-{number}-{location}.vhdx"),
            path: format!(
                "C:\\ClusterStorage\\Volume1\\vm-{host}-{number}\\vm-{host}-{number}-{location}.vhdx"
            ),
            disk_type: Some(DiskType::Dynamic),
            capacity_bytes: Some(size),
            file_size_bytes: Some(size / 4),
            controller_type: ControllerType::Scsi,
            controller_number: 0,
            controller_location: location,
        };
        let ip: IpAddr = parse(
            format!("10.{}.{}.{}", host % 250, number / 250, number % 250 + 1).parse(),
            "ip",
        );
        VmData(Vm {
            id,
            name: format!("vm-{host:04}-{number:03}"),
            state: VmState::Running,
            generation: Generation::Two,
            configuration_version: "10.0".to_string(),
            cpu_count: 2 + number % 4,
            memory_assigned_bytes: 4 << 30,
            memory_startup_bytes: 4 << 30,
            dynamic_memory_enabled: true,
            memory_minimum_bytes: Some(1 << 30),
            memory_maximum_bytes: Some(8 << 30),
            secure_boot_enabled: Some(true),
            secure_boot_template: Some(SecureBootTemplate::MicrosoftWindows),
            notes: String::new(),
            guest_os_name: Some("Windows Server 2022 Datacenter".to_string()),
            creation_time: Timestamp::new(
                OffsetDateTime::UNIX_EPOCH + time::Duration::days(19_000 + i64::from(number)),
            ),
            uptime_seconds: 3600 + u64::from(number),
            clustered: false,
            configuration_path: format!("C:\\ClusterStorage\\Volume1\\vm-{host}-{number}"),
            ip_addresses: vec![ip],
            nics: vec![Nic {
                id: nic_id,
                name: "Network Adapter".to_string(),
                switch_name: Some("vSwitch-Prod".to_string()),
                vlan_id: Some(120),
                mac_address: format!("00155D{:02X}{:04X}", host % 256, number % 65536),
                mac_address_static: false,
                ip_addresses: vec![ip],
                network_name: Some("prod-120".to_string()),
            }],
            disks: vec![disk(0, 64 << 30), disk(1, 128 << 30)],
        })
    }

    /// Renames it.
    pub fn name(mut self, name: &str) -> VmData {
        self.0.name = name.to_string();
        self
    }

    /// Sets its state (an Off VM has no uptime and no assigned memory).
    pub fn state(mut self, state: VmState) -> VmData {
        self.0.state = state;
        if state == VmState::Off {
            self.0.uptime_seconds = 0;
            self.0.memory_assigned_bytes = 0;
        }
        self
    }

    /// Changes it in place.
    pub fn with(mut self, change: impl FnOnce(&mut Vm)) -> VmData {
        change(&mut self.0);
        self
    }
}

/// A fixture host's collection result.
#[derive(Debug, Clone)]
pub struct HostData(pub InventoryCollectResult);

impl HostData {
    /// A standalone host with 64 logical processors and 512 GiB, no VMs.
    pub fn new(name: &str) -> HostData {
        HostData(InventoryCollectResult {
            host: HostInventory {
                computer_name: name.split('.').next().unwrap_or(name).to_uppercase(),
                fqdn: format!("{name}.lab.local"),
                cluster_name: None,
                logical_processor_count: 64,
                memory_total_bytes: 512 << 30,
                memory_available_bytes: 300 << 30,
                virtual_switches: vec![VirtualSwitch {
                    id: Uuid::from_u128(0x5a1e),
                    name: "vSwitch-Prod".to_string(),
                    switch_type: SwitchType::External,
                    uplink: Some("Mellanox ConnectX-4 Lx".to_string()),
                }],
                storage_locations: vec![StorageLocation {
                    path: "C:\\ClusterStorage\\Volume1".to_string(),
                    total_bytes: 4 << 40,
                    free_bytes: 1 << 40,
                }],
                resources: ResourceCatalogue {
                    catalogue_path: Some(
                        "C:\\ProgramData\\Aether-V\\hostresources.json".to_string(),
                    ),
                    storage_classes: vec![StorageClass {
                        name: "fast".to_string(),
                        path: "C:\\ClusterStorage\\Volume1".to_string(),
                        total_bytes: Some(4 << 40),
                        free_bytes: Some(1 << 40),
                    }],
                    networks: vec![Network {
                        name: "prod-120".to_string(),
                        switch_name: "vSwitch-Prod".to_string(),
                        vlan_id: Some(120),
                    }],
                    images: vec![Image {
                        name: "ws2022".to_string(),
                        path: "C:\\Images\\ws2022.vhdx".to_string(),
                        os_family: OsFamily::Windows,
                        capacity_bytes: Some(127 << 30),
                        file_size_bytes: Some(14 << 30),
                    }],
                },
                collected_at: Timestamp::now(),
            },
            vms: Vec::new(),
            warnings: Vec::new(),
        })
    }

    /// Puts it in a failover cluster.
    pub fn cluster(mut self, name: &str) -> HostData {
        self.0.host.cluster_name = Some(name.to_string());
        self
    }

    /// Adds a VM.
    pub fn vm(mut self, vm: VmData) -> HostData {
        self.0.vms.push(vm.0);
        self
    }

    /// Adds `count` generated VMs numbered from 1 for host number `host`.
    pub fn vms(mut self, host: u32, count: u32) -> HostData {
        for number in 1..=count {
            self.0.vms.push(VmData::new(host, number).0);
        }
        self
    }

    /// Adds a warning.
    pub fn warning(mut self, source: &str, message: &str, vm: Option<VmId>) -> HostData {
        self.0.warnings.push(Warning {
            source: source.to_string(),
            message: message.to_string(),
            vm_id: vm,
        });
        self
    }

    /// Changes the VM with this id.
    pub fn change_vm(mut self, id: VmId, change: impl FnOnce(&mut Vm)) -> HostData {
        if let Some(vm) = self.0.vms.iter_mut().find(|vm| vm.id == id) {
            change(vm);
        }
        self
    }

    /// Removes the VM with this id.
    pub fn remove_vm(mut self, id: VmId) -> HostData {
        self.0.vms.retain(|vm| vm.id != id);
        self
    }
}
