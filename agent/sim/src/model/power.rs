//! Power actions with Hyper-V's rules (`aetherv_hyperv::PowerAction::transition`): the VM
//! shows the transitional state for a plausible time, then reaches the final state when
//! [`HostModel::settle`] passes the end. Memory is taken when a VM starts (refused when the
//! host has too little) and given back when it is off or saved. A transition, once begun,
//! completes even if the command that asked for it is terminated — as Hyper-V does.

use std::time::Duration;

use aetherv_hyperv::{AgentError, PowerAction, ScarceResource, VmId, VmState};

use super::HostModel;
use super::errors;
use super::state::{Transition, durations};
use crate::clock::SimInstant;

/// What the agent does after asking Hyper-V for an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerPlan {
    /// The VM shows `via` until `until`, then `to`.
    Transition {
        /// State before.
        previous: VmState,
        /// The transitional state shown meanwhile.
        via: VmState,
        /// The final state.
        to: VmState,
        /// When it is reached.
        until: SimInstant,
    },
    /// The action took effect at once (turning off a saved VM).
    Done {
        /// State before.
        previous: VmState,
        /// State now.
        state: VmState,
    },
    /// A shutdown the guest ignores: the agent waits `wait`, then gives up or turns it off
    /// ([`finish_ignored_shutdown`]).
    GuestIgnoresShutdown {
        /// State before (and still).
        previous: VmState,
        /// How long the agent waits for the guest.
        wait: Duration,
    },
}

fn what(action: PowerAction) -> String {
    format!("{} ({})", action.as_str(), action.cmdlet())
}

/// Starts `action` on a VM: checks the state (INVALID_STATE with the states that would
/// allow it) and, for a start, the host's free memory (INSUFFICIENT_RESOURCES).
pub fn begin(
    model: &mut HostModel,
    now: SimInstant,
    vm_id: VmId,
    action: PowerAction,
    shutdown_wait: Duration,
) -> Result<PowerPlan, AgentError> {
    model.settle(now);
    let available = model.memory_available_bytes();
    let vm = model.vm_or_not_found(vm_id)?;
    let previous = vm.state;
    let transition = action.transition(previous).map_err(|e| {
        errors::invalid_state(vm_id, previous, e.allowed_states.to_vec(), &what(action))
    })?;
    if action == PowerAction::Shutdown && vm.guest_ignores_shutdown {
        return Ok(PowerPlan::GuestIgnoresShutdown {
            previous,
            wait: shutdown_wait,
        });
    }
    let Some(via) = transition.via else {
        vm.state = transition.to;
        vm.running_since = None;
        return Ok(PowerPlan::Done {
            previous,
            state: vm.state,
        });
    };
    let memory = vm.memory.assigned_bytes();
    if action == PowerAction::Start
        && matches!(previous, VmState::Off | VmState::Saved)
        && memory > available
    {
        return Err(errors::insufficient(
            ScarceResource::Memory,
            memory,
            available,
            None,
        ));
    }
    let duration = match (action, previous) {
        (PowerAction::Start, VmState::Off) => durations::START,
        (PowerAction::Start, VmState::Saved) => durations::save(memory),
        (PowerAction::Start | PowerAction::Resume, _) => durations::RESUME,
        (PowerAction::Shutdown, _) => durations::SHUTDOWN,
        (PowerAction::Stop, _) => durations::TURN_OFF,
        (PowerAction::Reset, _) => durations::RESET,
        (PowerAction::Save, _) => durations::save(memory),
        (PowerAction::Pause, _) => durations::PAUSE,
    };
    let until = now + duration;
    vm.state = via;
    vm.transition = Some(Transition {
        action,
        to: transition.to,
        at: until,
    });
    Ok(PowerPlan::Transition {
        previous,
        via,
        to: transition.to,
        until,
    })
}

/// After waiting for a guest that ignored the shutdown: TIMEOUT and the VM left as it is,
/// or (with `turn_off`) a turn-off begun now.
pub fn finish_ignored_shutdown(
    model: &mut HostModel,
    now: SimInstant,
    vm_id: VmId,
    waited: Duration,
    turn_off: bool,
) -> Result<PowerPlan, AgentError> {
    model.settle(now);
    let vm = model.vm_or_not_found(vm_id)?;
    if !turn_off {
        return Err(errors::timeout(
            "shutdown",
            waited.as_secs(),
            format!(
                "the guest of \"{}\" did not shut down within {} seconds; the virtual machine is left {}",
                vm.name,
                waited.as_secs(),
                vm.state
            ),
        ));
    }
    if PowerAction::Stop.transition(vm.state).is_err() {
        let state = vm.state;
        return Ok(PowerPlan::Done {
            previous: state,
            state,
        });
    }
    begin(model, now, vm_id, PowerAction::Stop, Duration::ZERO)
}

/// Applies the transition of the VM at `index` (its end has passed).
pub(super) fn complete_transition(model: &mut HostModel, index: usize) {
    let Some(vm) = model.vms.get_mut(index) else {
        return;
    };
    let Some(t) = vm.transition.take() else {
        return;
    };
    let resuming = vm.state == VmState::Resuming;
    vm.state = t.to;
    match t.to {
        VmState::Running => {
            if !resuming || vm.running_since.is_none() {
                vm.running_since = Some(t.at);
            }
            let first_start = !vm.ever_started;
            vm.ever_started = true;
            if first_start || vm.nics.iter().any(|n| n.mac_address == ZERO_MAC) {
                assign_macs(model, index);
            }
            assign_guest_ips(model, index);
        }
        VmState::Off | VmState::Saved => vm.running_since = None,
        _ => {}
    }
}

/// A dynamic MAC before the VM first starts.
pub const ZERO_MAC: &str = "000000000000";

/// Gives every dynamic NIC of the VM at `index` that has none a MAC from the host's pool.
pub(super) fn assign_macs(model: &mut HostModel, index: usize) {
    let count = model.vms[index]
        .nics
        .iter()
        .filter(|n| !n.mac_static && n.mac_address == ZERO_MAC)
        .count();
    let macs: Vec<String> = (0..count).map(|_| model.next_mac()).collect();
    let mut macs = macs.into_iter();
    for nic in &mut model.vms[index].nics {
        if !nic.mac_static
            && nic.mac_address == ZERO_MAC
            && let Some(mac) = macs.next()
        {
            nic.mac_address = mac;
        }
    }
}

/// When the VM at `index` runs an OS, gives each connected NIC without an address one
/// (the guest's DHCP lease on the host's subnet for that network).
pub(super) fn assign_guest_ips(model: &mut HostModel, index: usize) {
    if model.vms[index].guest_os.is_none() {
        return;
    }
    let wanted: Vec<(usize, String, Option<u16>)> = model.vms[index]
        .nics
        .iter()
        .enumerate()
        .filter(|(_, n)| n.guest_ips.is_empty())
        .filter_map(|(i, n)| Some((i, n.switch_name.clone()?, n.vlan_id)))
        .collect();
    for (i, switch, vlan) in wanted {
        let ip = model.next_ip(&switch, vlan);
        if let Some(nic) = model.vms[index].nics.get_mut(i) {
            nic.guest_ips.push(std::net::IpAddr::V4(ip));
        }
    }
}
