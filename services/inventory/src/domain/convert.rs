//! From the agent's `inventory.collect` result (the host's own data model) to the records
//! of the fleet model. Every field of the result lands somewhere; what the agent's schema
//! cannot promise (unique VM ids, a parsable MAC) is checked here, and a violation is an
//! error naming the field, which fails the host's refresh rather than half-applying it.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use aetherv_hyperv::ops::inventory::InventoryCollectResult;
use aetherv_hyperv::{SecureBootTemplate, VmId};
use time::OffsetDateTime;

use super::intern::Interner;
use super::model::{ClusterName, Disk, HostFacts, Nic, OsFamily, VmData, VmState};

/// Agent data that breaks a rule of the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Two VMs of one result share an id.
    #[error("inventory data: vms[{index}].id {id} appears twice")]
    DuplicateVm {
        /// Position of the second occurrence.
        index: usize,
        /// The id.
        id: VmId,
    },
    /// A MAC address is not 12 hex digits.
    #[error("inventory data: vms[{vm}].nics[{nic}].mac_address is not 12 hex digits")]
    MacAddress {
        /// VM position.
        vm: usize,
        /// NIC position.
        nic: usize,
    },
}

/// One host's converted inventory.
#[derive(Debug, Clone)]
pub struct HostReport {
    /// What the host says about itself.
    pub facts: HostFacts,
    /// Its failover cluster, lower case.
    pub cluster: Option<ClusterName>,
    /// Its VMs, in the agent's order.
    pub vms: Vec<(VmId, VmData)>,
    /// When inventory received the data (its own clock: uptimes become start times on
    /// the clock later used to turn them back into uptimes).
    pub received_at: OffsetDateTime,
}

/// Converts a result received at `received_at`.
pub fn convert(
    result: &InventoryCollectResult,
    received_at: OffsetDateTime,
    interner: &mut Interner,
) -> Result<HostReport, Error> {
    let host = &result.host;
    let mut switches = host.virtual_switches.clone();
    switches.sort_by(|a, b| a.name.cmp(&b.name));
    let facts = HostFacts {
        computer_name: interner.intern(&host.computer_name),
        fqdn: interner.intern(&host.fqdn.to_lowercase()),
        cpu_cores: host.logical_processor_count,
        memory_total_bytes: host.memory_total_bytes,
        memory_available_bytes: host.memory_available_bytes,
        virtual_switches: Arc::from(switches),
        storage_locations: Arc::from(host.storage_locations.clone()),
        resources: Arc::new(host.resources.clone()),
        warnings: Arc::from(result.warnings.clone()),
    };
    let cluster = host
        .cluster_name
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| ClusterName::from_interned(interner.intern_lower(name)));
    let mut seen = HashSet::with_capacity(result.vms.len());
    let mut vms = Vec::with_capacity(result.vms.len());
    for (index, vm) in result.vms.iter().enumerate() {
        if !seen.insert(vm.id) {
            return Err(Error::DuplicateVm { index, id: vm.id });
        }
        vms.push((vm.id, convert_vm(index, vm, received_at, interner)?));
    }
    Ok(HostReport {
        facts,
        cluster,
        vms,
        received_at,
    })
}

fn convert_vm(
    index: usize,
    vm: &aetherv_hyperv::Vm,
    received_at: OffsetDateTime,
    interner: &mut Interner,
) -> Result<VmData, Error> {
    let nics = vm
        .nics
        .iter()
        .enumerate()
        .map(|(position, nic)| {
            let mac = parse_mac(&nic.mac_address).ok_or(Error::MacAddress {
                vm: index,
                nic: position,
            })?;
            Ok(Nic {
                id: Box::from(nic.id.as_str()),
                name: interner.intern(&nic.name),
                switch_name: nic.switch_name.as_deref().map(|s| interner.intern(s)),
                vlan_id: nic.vlan_id,
                mac_address: mac,
                mac_address_static: nic.mac_address_static,
                ip_addresses: routable(&nic.ip_addresses),
                network_name: nic.network_name.as_deref().map(|s| interner.intern(s)),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let mut disks: Vec<Disk> = vm
        .disks
        .iter()
        .map(|disk| Disk {
            id: Box::from(disk.id.as_str()),
            name: Box::from(disk.name.as_str()),
            path: Box::from(disk.path.as_str()),
            disk_type: disk.disk_type,
            capacity_bytes: disk.capacity_bytes,
            file_size_bytes: disk.file_size_bytes,
            controller_type: disk.controller_type,
            controller_number: disk.controller_number,
            controller_location: disk.controller_location,
        })
        .collect();
    disks.sort_by_key(|disk| {
        (
            disk.controller_type as u8,
            disk.controller_number,
            disk.controller_location,
        )
    });
    let os_name = vm
        .guest_os_name
        .as_deref()
        .filter(|name| !name.is_empty())
        .map(|name| interner.intern(name));
    let started_at =
        (vm.uptime_seconds > 0).then(|| received_at - Duration::from_secs(vm.uptime_seconds));
    Ok(VmData {
        name: Box::from(vm.name.as_str()),
        name_folded: Box::from(vm.name.to_lowercase().as_str()),
        state: VmState::from_agent(vm.state),
        cpu_count: vm.cpu_count,
        memory_assigned_bytes: vm.memory_assigned_bytes,
        memory_startup_bytes: vm.memory_startup_bytes,
        memory_minimum_bytes: vm.memory_minimum_bytes,
        memory_maximum_bytes: vm.memory_maximum_bytes,
        dynamic_memory_enabled: vm.dynamic_memory_enabled,
        generation: vm.generation.number(),
        configuration_version: interner.intern(&vm.configuration_version),
        secure_boot_enabled: vm.secure_boot_enabled,
        secure_boot_template: vm
            .secure_boot_template
            .map(|template| interner.intern(template_name(template))),
        notes: Box::from(vm.notes.as_str()),
        os_family: OsFamily::infer(os_name.as_deref()),
        os_name,
        creation_time: Some(vm.creation_time.get()),
        started_at,
        clustered: vm.clustered,
        configuration_path: Box::from(vm.configuration_path.as_str()),
        ip_addresses: routable(&vm.ip_addresses),
        nics: nics.into_boxed_slice(),
        disks: disks.into_boxed_slice(),
    })
}

/// The Secure Boot template as Hyper-V names it.
pub fn template_name(template: SecureBootTemplate) -> &'static str {
    match template {
        SecureBootTemplate::MicrosoftWindows => "MicrosoftWindows",
        SecureBootTemplate::MicrosoftUEFICertificateAuthority => {
            "MicrosoftUEFICertificateAuthority"
        }
        SecureBootTemplate::OpenSourceShieldedVM => "OpenSourceShieldedVM",
    }
}

/// Addresses without link-local IPv6 (fe80::/10), de-duplicated, in reported order.
fn routable(ips: &[IpAddr]) -> Box<[IpAddr]> {
    let mut kept: Vec<IpAddr> = Vec::with_capacity(ips.len());
    for ip in ips {
        let link_local = matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80);
        if !link_local && !kept.contains(ip) {
            kept.push(*ip);
        }
    }
    kept.into_boxed_slice()
}

fn parse_mac(text: &str) -> Option<u64> {
    if text.len() != 12 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(text, 16).ok()
}
