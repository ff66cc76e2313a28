//! `nic.create`, `nic.update` and `nic.delete`. Adapters connect to a catalogue network
//! (its switch and VLAN) or straight to a switch; generation 1 VMs take and lose adapters
//! only while Off; a MAC changes only while the VM is Off. Dynamic MACs come from the
//! host's pool (`00155D…`) when the VM runs, and read all zeros until it first does.

use aetherv_hyperv::ops::nic::{
    NicCreateParams, NicDeleteParams, NicDeleteResult, NicUpdateParams,
};
use aetherv_hyperv::{AgentError, Generation, Nic, NicId, ObjectKind, VmId, VmState};

use super::HostModel;
use super::errors;
use super::power::{ZERO_MAC, assign_guest_ips, assign_macs};
use super::state::{SimNic, guest_reports, holds_memory, vm_view};
use super::vm_ops::new_guid;
use crate::clock::SimInstant;

/// The name Add-VMNetworkAdapter gives when none is asked for.
pub const DEFAULT_ADAPTER_NAME: &str = "Network Adapter";

fn check_generation(model: &HostModel, vm_id: VmId, what: &str) -> Result<(), AgentError> {
    let vm = model.vm(vm_id).ok_or_else(|| errors::vm_not_found(vm_id))?;
    if vm.generation == Generation::One && vm.state != VmState::Off {
        return Err(errors::invalid_state(
            vm_id,
            vm.state,
            vec![VmState::Off],
            &format!("{what} a network adapter of a generation 1 virtual machine"),
        ));
    }
    Ok(())
}

/// A catalogue network's switch and VLAN.
fn resolve_network(model: &HostModel, name: &str) -> Result<(String, Option<u16>), AgentError> {
    let catalogue = model.catalogue();
    let Some(network) = catalogue.networks.iter().find(|n| n.name == name) else {
        let available = catalogue.networks.iter().map(|n| n.name.clone()).collect();
        return Err(errors::not_found(ObjectKind::Network, name, available));
    };
    let switch = resolve_switch(model, &network.switch_name)?;
    Ok((switch, network.vlan_id))
}

/// The switch's name as the host spells it.
fn resolve_switch(model: &HostModel, name: &str) -> Result<String, AgentError> {
    model
        .switches()
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(name))
        .map(|s| s.name.clone())
        .ok_or_else(|| {
            let available = model.switches().iter().map(|s| s.name.clone()).collect();
            errors::not_found(ObjectKind::Switch, name, available)
        })
}

fn vm_index(model: &HostModel, vm_id: VmId) -> Result<usize, AgentError> {
    model
        .vms()
        .iter()
        .position(|v| v.id == vm_id)
        .ok_or_else(|| errors::vm_not_found(vm_id))
}

fn nic_view(
    model: &HostModel,
    now: SimInstant,
    vm_index: usize,
    nic: usize,
) -> Result<Nic, AgentError> {
    let vm = &model.vms()[vm_index];
    vm_view(vm, now, model)
        .nics
        .into_iter()
        .nth(nic)
        .ok_or_else(|| {
            errors::operation_failed("Get-VMNetworkAdapter", "the adapter vanished", None)
        })
}

fn find_nic(model: &HostModel, vm: usize, nic_id: &NicId) -> Result<usize, AgentError> {
    let v = &model.vms()[vm];
    v.nic_index(nic_id).ok_or_else(|| {
        let available = v
            .nics
            .iter()
            .filter_map(|n| v.nic_id(n).map(|id| id.as_str().to_owned()))
            .collect();
        errors::not_found(ObjectKind::Nic, nic_id.as_str(), available)
    })
}

/// `nic.create`.
pub fn create(
    model: &mut HostModel,
    now: SimInstant,
    p: &NicCreateParams,
) -> Result<Nic, AgentError> {
    model.settle(now);
    let index = vm_index(model, p.vm_id)?;
    check_generation(model, p.vm_id, "add")?;
    let (switch, vlan) = match (&p.network, &p.switch_name) {
        (Some(network), _) => resolve_network(model, network)?,
        (None, Some(switch)) => (resolve_switch(model, switch)?, p.vlan_id),
        (None, None) => {
            return Err(errors::invalid_request(
                "/params",
                "needs one of: network, switch_name",
            ));
        }
    };
    let guid = new_guid(model);
    let (mac_address, mac_static) = match &p.mac_address {
        Some(mac) => (mac.clone(), true),
        None => (ZERO_MAC.to_owned(), false),
    };
    let vm = &mut model.vms[index];
    vm.nics.push(SimNic {
        guid,
        name: p
            .name
            .clone()
            .unwrap_or_else(|| DEFAULT_ADAPTER_NAME.to_owned()),
        switch_name: Some(switch),
        vlan_id: vlan,
        mac_address,
        mac_static,
        guest_ips: Vec::new(),
    });
    let nic = vm.nics.len() - 1;
    if holds_memory(vm.state) {
        assign_macs(model, index);
    }
    if guest_reports(model.vms[index].state) {
        assign_guest_ips(model, index);
    }
    nic_view(model, now, index, nic)
}

/// `nic.update`.
pub fn update(
    model: &mut HostModel,
    now: SimInstant,
    p: &NicUpdateParams,
) -> Result<Nic, AgentError> {
    model.settle(now);
    let index = vm_index(model, p.vm_id)?;
    let nic = find_nic(model, index, &p.nic_id)?;
    let connection = match (&p.network, &p.switch_name) {
        (Some(network), _) => Some(resolve_network(model, network)?),
        (None, Some(switch)) => {
            let vlan = match p.vlan_id {
                Some(v) => v,
                None => model.vms[index].nics[nic].vlan_id,
            };
            Some((resolve_switch(model, switch)?, vlan))
        }
        (None, None) => None,
    };
    let vm = &model.vms[index];
    let current = &vm.nics[nic];
    let mac_changes = match &p.mac_address {
        Some(Some(mac)) => !(current.mac_static && &current.mac_address == mac),
        Some(None) => current.mac_static,
        None => false,
    };
    if mac_changes && vm.state != VmState::Off {
        return Err(errors::invalid_state(
            p.vm_id,
            vm.state,
            vec![VmState::Off],
            "change the MAC address of a network adapter (Set-VMNetworkAdapter)",
        ));
    }
    let vm = &mut model.vms[index];
    let adapter = &mut vm.nics[nic];
    let before = (adapter.switch_name.clone(), adapter.vlan_id);
    match connection {
        Some((switch, vlan)) => {
            adapter.switch_name = Some(switch);
            adapter.vlan_id = vlan;
        }
        None => {
            if let Some(vlan) = p.vlan_id {
                adapter.vlan_id = vlan;
            }
        }
    }
    if let Some(name) = &p.name {
        adapter.name = name.clone();
    }
    if mac_changes {
        match &p.mac_address {
            Some(Some(mac)) => {
                adapter.mac_address = mac.clone();
                adapter.mac_static = true;
            }
            _ => {
                adapter.mac_address = ZERO_MAC.to_owned();
                adapter.mac_static = false;
            }
        }
    }
    if (adapter.switch_name.clone(), adapter.vlan_id) != before {
        adapter.guest_ips.clear();
        if guest_reports(vm.state) {
            assign_guest_ips(model, index);
        }
    }
    nic_view(model, now, index, nic)
}

/// `nic.delete`.
pub fn delete(
    model: &mut HostModel,
    now: SimInstant,
    p: &NicDeleteParams,
) -> Result<NicDeleteResult, AgentError> {
    model.settle(now);
    let index = vm_index(model, p.vm_id)?;
    let nic = find_nic(model, index, &p.nic_id)?;
    check_generation(model, p.vm_id, "remove")?;
    model.vms[index].nics.remove(nic);
    Ok(NicDeleteResult {
        vm_id: p.vm_id,
        nic_id: p.nic_id.clone(),
    })
}
