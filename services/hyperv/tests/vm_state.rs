//! Hyper-V's power transitions, written out as a table and checked against the rules in
//! the crate for every (state, action) pair.

use aetherv_hyperv::{PowerAction, PowerTransition, VmState};

use PowerAction::*;
use VmState::*;

/// (action, from, via, to) — every allowed transition, from Hyper-V's behaviour.
const ALLOWED: &[(PowerAction, VmState, Option<VmState>, VmState)] = &[
    (Start, Off, Some(Starting), Running),
    (Start, Saved, Some(Starting), Running),
    (Start, Paused, Some(Resuming), Running),
    (Shutdown, Running, Some(Stopping), Off),
    (PowerAction::Stop, Running, Some(Stopping), Off),
    (PowerAction::Stop, Paused, Some(Stopping), Off),
    (PowerAction::Stop, Saved, None, Off),
    (PowerAction::Reset, Running, Some(VmState::Reset), Running),
    (Save, Running, Some(Saving), Saved),
    (Save, Paused, Some(Saving), Saved),
    (Pause, Running, Some(Pausing), Paused),
    (Resume, Paused, Some(Resuming), Running),
];

#[test]
fn every_state_and_action_follows_the_table() {
    let mut allowed = 0;
    for action in PowerAction::ALL {
        for state in VmState::ALL {
            let expected = ALLOWED
                .iter()
                .find(|(a, from, _, _)| *a == action && *from == state)
                .map(|&(_, from, via, to)| PowerTransition { from, via, to });
            match (action.transition(state), expected) {
                (Ok(got), Some(want)) => {
                    assert_eq!(got, want, "{action} from {state}");
                    allowed += 1;
                }
                (Err(refused), None) => {
                    assert_eq!(refused.state, state);
                    assert_eq!(refused.action, action);
                    assert_eq!(refused.allowed_states, action.allowed_from());
                    assert_eq!(
                        refused.to_string(),
                        format!("cannot {action} a vm that is {state}")
                    );
                }
                (got, want) => panic!("{action} from {state}: got {got:?}, want {want:?}"),
            }
        }
    }
    assert_eq!(allowed, ALLOWED.len());
}

#[test]
fn the_transitional_state_is_transitional_and_the_end_is_stable() {
    for &(action, _, via, to) in ALLOWED {
        if let Some(via) = via {
            assert!(via.is_transitional(), "{action} passes through {via}");
        }
        assert!(!to.is_transitional(), "{action} ends in {to}");
        assert_eq!(action.target_state(), to);
    }
}

#[test]
fn nothing_is_allowed_while_a_transition_runs_or_from_other() {
    for state in VmState::ALL {
        if state.is_transitional() || state == Other {
            assert!(state.allowed_actions().is_empty(), "{state}");
        }
    }
    assert_eq!(
        Running.allowed_actions(),
        vec![Shutdown, PowerAction::Stop, PowerAction::Reset, Save, Pause]
    );
    assert_eq!(Off.allowed_actions(), vec![Start]);
    assert_eq!(Saved.allowed_actions(), vec![Start, PowerAction::Stop]);
    assert_eq!(
        Paused.allowed_actions(),
        vec![Start, PowerAction::Stop, Save, Resume]
    );
}

#[test]
fn hyperv_state_names_map_to_protocol_states() {
    let cases = [
        ("Running", Running),
        ("Off", Off),
        ("Saved", Saved),
        ("Paused", Paused),
        ("Starting", Starting),
        ("Stopping", Stopping),
        ("Saving", Saving),
        ("Pausing", Pausing),
        ("Resuming", Resuming),
        ("Reset", VmState::Reset),
        ("Other", Other),
        ("FastSaved", Saved),
        ("Hibernated", Saved),
        ("FastSaving", Saving),
        ("ForceShutdown", Stopping),
        ("ForceReboot", VmState::Reset),
        ("RunningCritical", Running),
        ("OffCritical", Off),
        ("FastSavedCritical", Saved),
        ("ComponentServicing", Other),
        ("running", Other),
        ("", Other),
    ];
    for (name, state) in cases {
        assert_eq!(VmState::from_hyperv(name), state, "{name:?}");
    }
}

#[test]
fn cmdlets() {
    assert_eq!(Start.cmdlet(), "Start-VM");
    assert_eq!(Shutdown.cmdlet(), "Stop-VM -Force");
    assert_eq!(PowerAction::Stop.cmdlet(), "Stop-VM -TurnOff -Force");
    assert_eq!(PowerAction::Reset.cmdlet(), "Restart-VM -Force");
}
