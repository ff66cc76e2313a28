//! VM states and power actions, with Hyper-V's transition rules: which action is allowed
//! from which state, the transitional state it passes through, and where it ends.
//! The simulator moves its VMs by these rules and the services check requests against
//! them, so both agree with each other and with Hyper-V.
//!
//! | action   | from                 | via (transitional) | to      | cmdlet                       |
//! |----------|----------------------|--------------------|---------|------------------------------|
//! | start    | Off, Saved           | Starting           | Running | `Start-VM`                   |
//! | start    | Paused               | Resuming           | Running | `Start-VM`                   |
//! | shutdown | Running              | Stopping           | Off     | `Stop-VM -Force`             |
//! | stop     | Running, Paused      | Stopping           | Off     | `Stop-VM -TurnOff -Force`    |
//! | stop     | Saved                | –                  | Off     | `Stop-VM -TurnOff -Force`    |
//! | reset    | Running              | Reset              | Running | `Restart-VM -Force`          |
//! | save     | Running, Paused      | Saving             | Saved   | `Save-VM`                    |
//! | pause    | Running              | Pausing            | Paused  | `Suspend-VM`                 |
//! | resume   | Paused               | Resuming           | Running | `Resume-VM`                  |
//!
//! No action is allowed from a transitional state or from `Other`: Hyper-V refuses state
//! changes while one is in progress. Turning off a Saved VM discards its saved state,
//! which Hyper-V does at once, without a transitional state.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A VM's state, as the protocol carries it (strings, never Hyper-V's numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum VmState {
    /// The VM is running.
    Running,
    /// The VM is turned off.
    Off,
    /// The VM's memory is saved to disk; starting it restores it.
    Saved,
    /// The VM is paused in memory.
    Paused,
    /// Transitional: Off or Saved to Running.
    Starting,
    /// Transitional: to Off, on shutdown or turn-off.
    Stopping,
    /// Transitional: Running or Paused to Saved.
    Saving,
    /// Transitional: Running to Paused.
    Pausing,
    /// Transitional: Paused to Running.
    Resuming,
    /// Transitional: a hard reset of a running VM, back to Running.
    Reset,
    /// Any state Hyper-V reports that is none of the above.
    Other,
}

impl VmState {
    /// Every state, in the schema's order.
    pub const ALL: [VmState; 11] = [
        VmState::Running,
        VmState::Off,
        VmState::Saved,
        VmState::Paused,
        VmState::Starting,
        VmState::Stopping,
        VmState::Saving,
        VmState::Pausing,
        VmState::Resuming,
        VmState::Reset,
        VmState::Other,
    ];

    /// The wire string ("Running", "Off", …).
    pub fn as_str(self) -> &'static str {
        match self {
            VmState::Running => "Running",
            VmState::Off => "Off",
            VmState::Saved => "Saved",
            VmState::Paused => "Paused",
            VmState::Starting => "Starting",
            VmState::Stopping => "Stopping",
            VmState::Saving => "Saving",
            VmState::Pausing => "Pausing",
            VmState::Resuming => "Resuming",
            VmState::Reset => "Reset",
            VmState::Other => "Other",
        }
    }

    /// Maps any Hyper-V `VMState` name (Get-VM .State.ToString()) to a protocol state:
    /// the eleven names map to themselves; FastSaved and Hibernated to Saved; FastSaving
    /// to Saving; ForceShutdown to Stopping; ForceReboot to Reset; each `*Critical` name to
    /// its base state; anything else to Other.
    pub fn from_hyperv(name: &str) -> VmState {
        let base = name.strip_suffix("Critical").unwrap_or(name);
        match base {
            "FastSaved" | "Hibernated" => VmState::Saved,
            "FastSaving" => VmState::Saving,
            "ForceShutdown" => VmState::Stopping,
            "ForceReboot" => VmState::Reset,
            _ => VmState::ALL
                .into_iter()
                .find(|s| s.as_str() == base)
                .unwrap_or(VmState::Other),
        }
    }

    /// Whether the VM is between two stable states.
    pub fn is_transitional(self) -> bool {
        matches!(
            self,
            VmState::Starting
                | VmState::Stopping
                | VmState::Saving
                | VmState::Pausing
                | VmState::Resuming
                | VmState::Reset
        )
    }

    /// The power actions allowed from this state, in [`PowerAction::ALL`] order.
    pub fn allowed_actions(self) -> Vec<PowerAction> {
        PowerAction::ALL
            .into_iter()
            .filter(|action| action.allowed_from().contains(&self))
            .collect()
    }
}

impl std::fmt::Display for VmState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A power action on a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PowerAction {
    /// Start-VM: from Off or Saved (via Starting), or from Paused (via Resuming), to Running.
    Start,
    /// Stop-VM -Force: asks the guest to shut down, Running via Stopping to Off.
    Shutdown,
    /// Stop-VM -TurnOff -Force: turns the VM off at once, to Off.
    Stop,
    /// Restart-VM -Force: hard reset, Running via Reset to Running.
    Reset,
    /// Save-VM: Running or Paused via Saving to Saved.
    Save,
    /// Suspend-VM: Running via Pausing to Paused.
    Pause,
    /// Resume-VM: Paused via Resuming to Running.
    Resume,
}

/// One step of Hyper-V's state machine: a VM in `from` given an action passes through
/// `via` (if any) and ends in `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerTransition {
    /// The state the action starts from.
    pub from: VmState,
    /// The transitional state shown while the action runs; None when Hyper-V goes
    /// straight to `to`.
    pub via: Option<VmState>,
    /// The state the action ends in.
    pub to: VmState,
}

/// An action that is not allowed from the VM's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a vm that is {state}")]
pub struct NotAllowed {
    /// The refused action.
    pub action: PowerAction,
    /// The VM's state.
    pub state: VmState,
    /// The states the action is allowed from.
    pub allowed_states: &'static [VmState],
}

impl PowerAction {
    /// Every action, in the schema's order.
    pub const ALL: [PowerAction; 7] = [
        PowerAction::Start,
        PowerAction::Shutdown,
        PowerAction::Stop,
        PowerAction::Reset,
        PowerAction::Save,
        PowerAction::Pause,
        PowerAction::Resume,
    ];

    /// The wire string ("start", "shutdown", …).
    pub fn as_str(self) -> &'static str {
        match self {
            PowerAction::Start => "start",
            PowerAction::Shutdown => "shutdown",
            PowerAction::Stop => "stop",
            PowerAction::Reset => "reset",
            PowerAction::Save => "save",
            PowerAction::Pause => "pause",
            PowerAction::Resume => "resume",
        }
    }

    /// The states this action is allowed from.
    pub fn allowed_from(self) -> &'static [VmState] {
        use VmState::*;
        match self {
            PowerAction::Start => &[Off, Saved, Paused],
            PowerAction::Shutdown => &[Running],
            PowerAction::Stop => &[Running, Paused, Saved],
            PowerAction::Reset => &[Running],
            PowerAction::Save => &[Running, Paused],
            PowerAction::Pause => &[Running],
            PowerAction::Resume => &[Paused],
        }
    }

    /// The state the action ends in.
    pub fn target_state(self) -> VmState {
        match self {
            PowerAction::Start | PowerAction::Reset | PowerAction::Resume => VmState::Running,
            PowerAction::Shutdown | PowerAction::Stop => VmState::Off,
            PowerAction::Save => VmState::Saved,
            PowerAction::Pause => VmState::Paused,
        }
    }

    /// The transition from `from`, or why the action is not allowed.
    pub fn transition(self, from: VmState) -> Result<PowerTransition, NotAllowed> {
        use VmState::*;
        if !self.allowed_from().contains(&from) {
            return Err(NotAllowed {
                action: self,
                state: from,
                allowed_states: self.allowed_from(),
            });
        }
        let via = match (self, from) {
            (PowerAction::Start, Paused) | (PowerAction::Resume, _) => Some(Resuming),
            (PowerAction::Start, _) => Some(Starting),
            (PowerAction::Stop, Saved) => None,
            (PowerAction::Shutdown | PowerAction::Stop, _) => Some(Stopping),
            (PowerAction::Reset, _) => Some(Reset),
            (PowerAction::Save, _) => Some(Saving),
            (PowerAction::Pause, _) => Some(Pausing),
        };
        Ok(PowerTransition {
            from,
            via,
            to: self.target_state(),
        })
    }

    /// The Hyper-V cmdlet (with its switches) that performs the action.
    pub fn cmdlet(self) -> &'static str {
        match self {
            PowerAction::Start => "Start-VM",
            PowerAction::Shutdown => "Stop-VM -Force",
            PowerAction::Stop => "Stop-VM -TurnOff -Force",
            PowerAction::Reset => "Restart-VM -Force",
            PowerAction::Save => "Save-VM",
            PowerAction::Pause => "Suspend-VM",
            PowerAction::Resume => "Resume-VM",
        }
    }
}

impl std::fmt::Display for PowerAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
