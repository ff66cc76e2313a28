use aetherv_hyperv::ops::nic::{NicCreateParams, NicDeleteParams, NicUpdateParams};
use aetherv_hyperv::{AgentErrorCode, ErrorDetails, ObjectKind, VmState};

use super::*;
use crate::model::nic_ops;
use crate::model::power::ZERO_MAC;
use crate::model::vm_ops::{self, VmChange};

fn nic(vm_id: VmId) -> NicCreateParams {
    NicCreateParams {
        vm_id,
        network: Some("Production".into()),
        switch_name: None,
        vlan_id: None,
        name: None,
        mac_address: None,
    }
}

#[test]
fn create_connects_to_a_network_or_a_switch() {
    let mut m = host();
    let id = vm(&mut m, "web", 2);
    let a = ok(nic_ops::create(&mut m, at(0), &nic(id)));
    assert_eq!(
        (
            a.switch_name.as_deref(),
            a.vlan_id,
            a.network_name.as_deref()
        ),
        (Some("External-Switch"), Some(100), Some("Production"))
    );
    assert_eq!(
        (
            a.name.as_str(),
            a.mac_address.as_str(),
            a.mac_address_static
        ),
        ("Network Adapter", ZERO_MAC, false)
    );
    let b = ok(nic_ops::create(
        &mut m,
        at(0),
        &NicCreateParams {
            network: None,
            switch_name: Some("private".into()),
            name: Some("Backend".into()),
            mac_address: Some("02AABBCCDDEE".into()),
            ..nic(id)
        },
    ));
    assert_eq!(
        (b.switch_name.as_deref(), b.vlan_id, b.network_name.clone()),
        (Some("Private"), None, None)
    );
    assert_eq!(
        (b.mac_address.as_str(), b.mac_address_static),
        ("02AABBCCDDEE", true)
    );
    assert!(
        a.id.as_str()
            .starts_with(&format!("Microsoft:{}\\", id.to_string().to_uppercase()))
    );

    let e = nic_ops::create(
        &mut m,
        at(0),
        &NicCreateParams {
            network: Some("Nope".into()),
            ..nic(id)
        },
    );
    let ErrorDetails::NotFound(d) = details(e) else {
        panic!()
    };
    assert_eq!(
        (d.kind, d.available.clone()),
        (ObjectKind::Network, vec!["Production".to_owned()])
    );
    let e = nic_ops::create(
        &mut m,
        at(0),
        &NicCreateParams {
            network: None,
            switch_name: Some("Nope".into()),
            ..nic(id)
        },
    );
    let ErrorDetails::NotFound(d) = details(e) else {
        panic!()
    };
    assert_eq!((d.kind, d.available.len()), (ObjectKind::Switch, 2));
}

#[test]
fn a_running_vm_gets_a_mac_at_once_and_generation_1_needs_off() {
    let mut m = host();
    let id = vm(&mut m, "web", 2);
    ok(vm_ops::change(
        &mut m,
        at(0),
        id,
        &VmChange {
            state: Some(VmState::Running),
            guest_os_name: Some(Some("Ubuntu".into())),
            ..Default::default()
        },
    ));
    let a = ok(nic_ops::create(&mut m, at(0), &nic(id)));
    assert!(a.mac_address.starts_with("00155D") && a.mac_address != ZERO_MAC);
    assert_eq!(a.ip_addresses.len(), 1, "the guest leases an address");
    let mut p = params("old", 2, 2);
    p.generation = Generation::One;
    p.secure_boot_enabled = None;
    p.secure_boot_template = None;
    let old = ok(vm_ops::create(&mut m, at(0), Timestamp::now(), &p));
    ok(nic_ops::create(&mut m, at(0), &nic(old)));
    ok(vm_ops::change(
        &mut m,
        at(0),
        old,
        &VmChange {
            state: Some(VmState::Running),
            ..Default::default()
        },
    ));
    let ErrorDetails::InvalidState(d) = details(nic_ops::create(&mut m, at(0), &nic(old))) else {
        panic!()
    };
    assert_eq!(d.allowed_states, vec![VmState::Off]);
    let nic_id = m.vm_snapshot(at(0), old).expect("vm").nics[0].id.clone();
    assert_eq!(
        code(nic_ops::delete(
            &mut m,
            at(0),
            &NicDeleteParams { vm_id: old, nic_id }
        )),
        AgentErrorCode::InvalidState
    );
}

#[test]
fn update_changes_switch_and_vlan_while_running_but_the_mac_only_when_off() {
    let mut m = host();
    let id = vm(&mut m, "web", 2);
    let a = ok(nic_ops::create(&mut m, at(0), &nic(id)));
    let mut p = NicUpdateParams::new(id, a.id.clone());
    p.mac_address = Some(Some("02AABBCCDDEE".into()));
    p.name = Some("Front".into());
    let u = ok(nic_ops::update(&mut m, at(0), &p));
    assert_eq!(
        (
            u.mac_address.as_str(),
            u.mac_address_static,
            u.name.as_str()
        ),
        ("02AABBCCDDEE", true, "Front")
    );
    ok(vm_ops::change(
        &mut m,
        at(0),
        id,
        &VmChange {
            state: Some(VmState::Running),
            ..Default::default()
        },
    ));
    let mut p = NicUpdateParams::new(id, a.id.clone());
    p.mac_address = Some(None);
    let ErrorDetails::InvalidState(d) = details(nic_ops::update(&mut m, at(0), &p)) else {
        panic!()
    };
    assert_eq!(d.state, VmState::Running);
    let mut p = NicUpdateParams::new(id, a.id.clone());
    p.vlan_id = Some(None);
    let u = ok(nic_ops::update(&mut m, at(0), &p));
    assert_eq!(
        (u.vlan_id, u.network_name.clone()),
        (None, None),
        "untagged matches no catalogue network"
    );
    let mut p = NicUpdateParams::new(id, a.id.clone());
    p.network = Some("Production".into());
    let u = ok(nic_ops::update(&mut m, at(0), &p));
    assert_eq!(
        (u.vlan_id, u.network_name.as_deref()),
        (Some(100), Some("Production"))
    );
    let mut p = NicUpdateParams::new(id, a.id.clone());
    p.switch_name = Some("Private".into());
    let u = ok(nic_ops::update(&mut m, at(0), &p));
    assert_eq!(
        (u.switch_name.as_deref(), u.vlan_id),
        (Some("Private"), Some(100)),
        "switch alone keeps the vlan"
    );

    let gone = ok(nic_ops::delete(
        &mut m,
        at(0),
        &NicDeleteParams {
            vm_id: id,
            nic_id: a.id.clone(),
        },
    ));
    assert_eq!(gone.nic_id, a.id);
    let e = nic_ops::update(&mut m, at(0), &NicUpdateParams::new(id, a.id.clone()));
    let ErrorDetails::NotFound(d) = details(e) else {
        panic!()
    };
    assert_eq!(d.kind, ObjectKind::Nic);
}
