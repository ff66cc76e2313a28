use aetherv_hyperv::{AgentErrorCode, ErrorDetails, PowerAction, ScarceResource, VmState};

use super::*;
use crate::model::power::{self, PowerPlan, ZERO_MAC};
use crate::model::state::durations;
use crate::model::{nic_ops, vm_ops};

fn begin(m: &mut HostModel, t: SimInstant, id: VmId, action: PowerAction) -> PowerPlan {
    ok(power::begin(
        m,
        t,
        id,
        action,
        durations::SHUTDOWN_WAIT_DEFAULT,
    ))
}

fn state(m: &mut HostModel, t: SimInstant, id: VmId) -> VmState {
    m.settle(t);
    m.vm(id).map(|v| v.state).unwrap_or(VmState::Other)
}

/// Runs `action` to its end and returns the instant after it.
fn run(m: &mut HostModel, t: SimInstant, id: VmId, action: PowerAction) -> SimInstant {
    match begin(m, t, id, action) {
        PowerPlan::Transition { until, .. } => until,
        PowerPlan::Done { .. } => t,
        PowerPlan::GuestIgnoresShutdown { .. } => panic!("unexpected ignored shutdown"),
    }
}

#[test]
fn every_transition_follows_the_vm_state_rules() {
    let stable = [
        VmState::Off,
        VmState::Running,
        VmState::Saved,
        VmState::Paused,
    ];
    for action in PowerAction::ALL {
        for from in stable {
            let mut m = host();
            let id = vm(&mut m, "t", 2);
            ok(vm_ops::change(
                &mut m,
                at(0),
                id,
                &vm_ops::VmChange {
                    state: Some(from),
                    ..Default::default()
                },
            ));
            let expected = action.transition(from);
            let got = power::begin(&mut m, at(0), id, action, durations::SHUTDOWN_WAIT_DEFAULT);
            match (expected, got) {
                (Err(not_allowed), Err(e)) => {
                    assert_eq!(
                        e.code(),
                        AgentErrorCode::InvalidState,
                        "{action} from {from}"
                    );
                    let ErrorDetails::InvalidState(d) = e.details else {
                        panic!("details")
                    };
                    assert_eq!(d.state, from);
                    assert_eq!(d.allowed_states, not_allowed.allowed_states.to_vec());
                    assert_eq!(
                        state(&mut m, at(0), id),
                        from,
                        "a refused action changes nothing"
                    );
                }
                (
                    Ok(t),
                    Ok(PowerPlan::Transition {
                        previous,
                        via,
                        to,
                        until,
                    }),
                ) => {
                    assert_eq!(
                        (previous, Some(via), to),
                        (t.from, t.via, t.to),
                        "{action} from {from}"
                    );
                    assert_eq!(
                        state(&mut m, at(0), id),
                        via,
                        "{action} from {from} shows {via}"
                    );
                    assert!(until > at(0));
                    assert_eq!(
                        state(&mut m, until.minus(std::time::Duration::from_millis(1)), id),
                        via
                    );
                    assert_eq!(
                        state(&mut m, until, id),
                        to,
                        "{action} from {from} ends {to}"
                    );
                }
                (
                    Ok(t),
                    Ok(PowerPlan::Done {
                        previous,
                        state: now,
                    }),
                ) => {
                    assert_eq!(t.via, None);
                    assert_eq!((previous, now), (t.from, t.to));
                }
                (e, g) => panic!("{action} from {from}: expected {e:?}, got {g:?}"),
            }
        }
    }
}

#[test]
fn no_action_is_allowed_while_a_transition_runs() {
    let mut m = host();
    let id = vm(&mut m, "t", 2);
    let until = run(&mut m, at(0), id, PowerAction::Start);
    assert_eq!(state(&mut m, at(10), id), VmState::Starting);
    for action in PowerAction::ALL {
        assert_eq!(
            code(power::begin(&mut m, at(10), id, action, secs(1))),
            AgentErrorCode::InvalidState
        );
    }
    assert_eq!(state(&mut m, until, id), VmState::Running);
}

#[test]
fn memory_follows_the_running_vms() {
    let mut m = host();
    let free = m.memory_available_bytes();
    assert_eq!(free, 60 * GIB);
    let a = vm(&mut m, "a", 40);
    let b = vm(&mut m, "b", 30);
    let t = run(&mut m, at(0), a, PowerAction::Start);
    assert_eq!(
        m.memory_available_bytes(),
        20 * GIB,
        "memory is taken when the start begins"
    );
    let e = power::begin(&mut m, t, b, PowerAction::Start, secs(1));
    let ErrorDetails::InsufficientResources(d) = details(e) else {
        panic!("details")
    };
    assert_eq!(
        (d.resource, d.required_bytes, d.available_bytes),
        (ScarceResource::Memory, 30 * GIB, 20 * GIB)
    );
    let t = run(&mut m, t, a, PowerAction::Save);
    m.settle(t);
    assert_eq!(
        m.memory_available_bytes(),
        60 * GIB,
        "a saved vm holds no memory"
    );
    let t = run(&mut m, t, b, PowerAction::Start);
    m.settle(t);
    assert_eq!(
        m.vm_snapshot(t, b).map(|v| v.memory_assigned_bytes),
        Some(30 * GIB)
    );
    assert_eq!(
        m.vm_snapshot(t, a).map(|v| v.memory_assigned_bytes),
        Some(0)
    );
}

#[test]
fn uptime_counts_from_the_start_and_stops_when_off() {
    let mut m = host();
    let id = vm(&mut m, "t", 2);
    let t = run(&mut m, at(0), id, PowerAction::Start);
    assert_eq!(
        m.vm_snapshot(t + secs(100), id).map(|v| v.uptime_seconds),
        Some(100)
    );
    let t2 = run(&mut m, t + secs(100), id, PowerAction::Pause);
    assert!(
        m.vm_snapshot(t2, id)
            .is_some_and(|v| v.uptime_seconds >= 100)
    );
    let t3 = run(&mut m, t2, id, PowerAction::Stop);
    assert_eq!(m.vm_snapshot(t3, id).map(|v| v.uptime_seconds), Some(0));
    let t4 = run(&mut m, t3, id, PowerAction::Start);
    assert_eq!(
        m.vm_snapshot(t4 + secs(5), id).map(|v| v.uptime_seconds),
        Some(5)
    );
}

#[test]
fn stopping_a_saved_vm_is_immediate() {
    let mut m = host();
    let id = vm(&mut m, "t", 2);
    let t = run(&mut m, at(0), id, PowerAction::Start);
    let t = run(&mut m, t, id, PowerAction::Save);
    assert_eq!(state(&mut m, t, id), VmState::Saved);
    assert_eq!(
        begin(&mut m, t, id, PowerAction::Stop),
        PowerPlan::Done {
            previous: VmState::Saved,
            state: VmState::Off
        }
    );
    assert_eq!(m.vm(id).map(|v| v.state), Some(VmState::Off));
}

#[test]
fn durations_are_plausible() {
    let mut m = host();
    let id = vm(&mut m, "t", 8);
    let start = run(&mut m, at(0), id, PowerAction::Start);
    assert_eq!(start, at(0) + durations::START);
    let save = run(&mut m, start, id, PowerAction::Save);
    assert_eq!(save.saturating_since(start), durations::save(8 * GIB));
    assert!(
        durations::save(64 * GIB) > durations::save(8 * GIB),
        "saving takes longer with more memory"
    );
}

#[test]
fn a_guest_that_ignores_shutdown_times_out_or_is_turned_off() {
    let mut m = host();
    let id = vm(&mut m, "t", 2);
    let t = run(&mut m, at(0), id, PowerAction::Start);
    m.settle(t);
    ok(vm_ops::change(
        &mut m,
        t,
        id,
        &vm_ops::VmChange {
            guest_ignores_shutdown: Some(true),
            ..Default::default()
        },
    ));
    let plan = ok(power::begin(&mut m, t, id, PowerAction::Shutdown, secs(30)));
    assert_eq!(
        plan,
        PowerPlan::GuestIgnoresShutdown {
            previous: VmState::Running,
            wait: secs(30)
        }
    );
    assert_eq!(
        state(&mut m, t + secs(30), id),
        VmState::Running,
        "the guest ignored it"
    );
    let e = power::finish_ignored_shutdown(&mut m, t + secs(30), id, secs(30), false);
    let ErrorDetails::Timeout(d) = details(e) else {
        panic!("details")
    };
    assert_eq!((d.step.as_str(), d.waited_seconds), ("shutdown", 30));
    assert_eq!(state(&mut m, t + secs(30), id), VmState::Running);
    let plan = ok(power::finish_ignored_shutdown(
        &mut m,
        t + secs(30),
        id,
        secs(30),
        true,
    ));
    let PowerPlan::Transition { via, to, until, .. } = plan else {
        panic!("a turn-off")
    };
    assert_eq!((via, to), (VmState::Stopping, VmState::Off));
    assert_eq!(state(&mut m, until, id), VmState::Off);
}

#[test]
fn dynamic_macs_are_assigned_at_the_first_start() {
    let mut m = host();
    let id = vm(&mut m, "t", 2);
    let nic = ok(nic_ops::create(
        &mut m,
        at(0),
        &aetherv_hyperv::ops::nic::NicCreateParams {
            vm_id: id,
            network: Some("Production".into()),
            switch_name: None,
            vlan_id: None,
            name: None,
            mac_address: None,
        },
    ));
    assert_eq!(nic.mac_address, ZERO_MAC);
    let t = run(&mut m, at(0), id, PowerAction::Start);
    let vm = m.vm_snapshot(t, id).expect("vm");
    assert!(
        vm.nics[0].mac_address.starts_with("00155D"),
        "{}",
        vm.nics[0].mac_address
    );
    assert_ne!(vm.nics[0].mac_address, ZERO_MAC);
    assert!(!vm.nics[0].mac_address_static);
    assert!(vm.ip_addresses.is_empty(), "no OS, no guest addresses");
}
