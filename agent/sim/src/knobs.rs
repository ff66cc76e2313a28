//! Fault and behaviour knobs of one host: added latency, responsiveness (answer, hang,
//! refuse), failing the next operations with an agent error, and malformed output. The
//! JSON/TOML forms ([`KnobsPatch`], [`KnobsView`]) are shared by the control API and the
//! scenario file.

use std::collections::BTreeMap;
use std::time::Duration;

use aetherv_hyperv::{AgentErrorCode, Operation};
use serde::{Deserialize, Deserializer, Serialize};

/// How the host's endpoints treat connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Responsiveness {
    /// Answer normally.
    #[default]
    Normal,
    /// Accept TCP connections and never answer (existing connections go silent too).
    Unresponsive,
    /// Refuse connections (the listener is closed; existing connections are cut).
    Refuse,
}

/// Fail the next `count` operations (of `operation` only, when given) with `code`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailNext {
    /// How many operations to fail (at least 1).
    pub count: u32,
    /// Only this operation; any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
    /// The agent error code to answer.
    pub code: AgentErrorCode,
    /// The error message.
    #[serde(default = "default_message")]
    pub message: String,
}

fn default_message() -> String {
    "injected failure (aetherv-hvsim fault knob)".to_owned()
}

/// Ways of breaking the output protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MalformedMode {
    /// Log lines, then no result line (exit code 0).
    NoResult,
    /// The result line twice.
    TwoResults,
    /// A line that is not JSON before the result.
    NonJsonLine,
    /// A result that fails its schema (an unknown field in `data`; an unknown code in `error`).
    InvalidResult,
}

impl MalformedMode {
    /// The snake_case name, as the JSON forms spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            MalformedMode::NoResult => "no_result",
            MalformedMode::TwoResults => "two_results",
            MalformedMode::NonJsonLine => "non_json_line",
            MalformedMode::InvalidResult => "invalid_result",
        }
    }
}

/// Malformed output for the next `count` operations (all while set when `count` is absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Malformed {
    /// How to break it.
    pub mode: MalformedMode,
    /// Only this operation; any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
    /// How many operations; every one while set when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

/// The knobs of a host (responsiveness lives in a watch channel beside it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Knobs {
    /// Added to every operation (real time, not scaled).
    pub latency: Duration,
    /// Added to one operation on top of `latency`.
    pub operation_latency: BTreeMap<Operation, Duration>,
    /// Pending failures, consumed in order.
    pub fail_next: Vec<FailNext>,
    /// Malformed output.
    pub malformed: Option<Malformed>,
}

impl Knobs {
    /// The latency of one operation.
    pub fn latency_of(&self, operation: Option<Operation>) -> Duration {
        let extra = operation
            .and_then(|o| self.operation_latency.get(&o).copied())
            .unwrap_or_default();
        self.latency + extra
    }

    /// Takes one failure for this operation, if any is pending.
    pub fn take_failure(&mut self, operation: Operation) -> Option<FailNext> {
        let index = self
            .fail_next
            .iter()
            .position(|f| f.count > 0 && f.operation.is_none_or(|o| o == operation))?;
        let rule = &mut self.fail_next[index];
        rule.count -= 1;
        let taken = rule.clone();
        if rule.count == 0 {
            self.fail_next.remove(index);
        }
        Some(taken)
    }

    /// Takes the malformed mode for this operation, if set.
    pub fn take_malformed(&mut self, operation: Option<Operation>) -> Option<MalformedMode> {
        let m = self.malformed.as_mut()?;
        if m.operation.is_some_and(|only| operation != Some(only)) {
            return None;
        }
        let mode = m.mode;
        match m.count {
            Some(0) => {
                self.malformed = None;
                return None;
            }
            Some(1) => self.malformed = None,
            Some(n) => m.count = Some(n - 1),
            None => {}
        }
        Some(mode)
    }
}

fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A change of knobs (control API body, scenario file entry). Absent fields stay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnobsPatch {
    /// Latency added to every operation, milliseconds.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Latency added to particular operations, milliseconds (replaces the whole map).
    #[serde(default)]
    pub operation_latency_ms: Option<BTreeMap<Operation, u64>>,
    /// Responsiveness.
    #[serde(default)]
    pub responsiveness: Option<Responsiveness>,
    /// Failures to append.
    #[serde(default)]
    pub fail_next: Option<Vec<FailNext>>,
    /// Malformed output; null clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub malformed: Option<Option<Malformed>>,
    /// Per-VM "guest ignores shutdown", by VM name or id.
    #[serde(default)]
    pub guest_ignores_shutdown: Option<BTreeMap<String, bool>>,
}

/// An invalid knob value; `field` names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid knob `{field}`: {reason}")]
pub struct KnobError {
    /// The field.
    pub field: String,
    /// Why.
    pub reason: String,
}

/// The longest latency accepted (one hour).
pub const MAX_LATENCY_MS: u64 = 3_600_000;

impl KnobsPatch {
    /// Checks the values' ranges.
    pub fn validate(&self) -> Result<(), KnobError> {
        let bad = |field: String, reason: &str| {
            Err(KnobError {
                field,
                reason: reason.to_owned(),
            })
        };
        if self.latency_ms.is_some_and(|l| l > MAX_LATENCY_MS) {
            return bad("latency_ms".into(), "must be at most 3600000");
        }
        for (op, ms) in self.operation_latency_ms.iter().flatten() {
            if *ms > MAX_LATENCY_MS {
                return bad(
                    format!("operation_latency_ms.{op}"),
                    "must be at most 3600000",
                );
            }
        }
        for (i, f) in self.fail_next.iter().flatten().enumerate() {
            if f.count == 0 || f.count > 1_000_000 {
                return bad(
                    format!("fail_next[{i}].count"),
                    "must be between 1 and 1000000",
                );
            }
            if f.message.len() > 4096 {
                return bad(
                    format!("fail_next[{i}].message"),
                    "must be at most 4096 bytes",
                );
            }
        }
        if let Some(Some(Malformed { count: Some(0), .. })) = &self.malformed {
            return bad(
                "malformed.count".into(),
                "must be at least 1 (omit it for every operation)",
            );
        }
        Ok(())
    }
}

/// The knobs as the control API shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KnobsView {
    /// Latency added to every operation, milliseconds.
    pub latency_ms: u64,
    /// Latency added to particular operations, milliseconds.
    pub operation_latency_ms: BTreeMap<Operation, u64>,
    /// Responsiveness.
    pub responsiveness: Responsiveness,
    /// Pending failures.
    pub fail_next: Vec<FailNext>,
    /// Malformed output.
    pub malformed: Option<Malformed>,
}

impl KnobsView {
    /// The view of `knobs` with `responsiveness`.
    pub fn new(knobs: &Knobs, responsiveness: Responsiveness) -> KnobsView {
        KnobsView {
            latency_ms: knobs.latency.as_millis() as u64,
            operation_latency_ms: knobs
                .operation_latency
                .iter()
                .map(|(o, d)| (*o, d.as_millis() as u64))
                .collect(),
            responsiveness,
            fail_next: knobs.fail_next.clone(),
            malformed: knobs.malformed.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_taken_in_order_and_by_operation() {
        let mut k = Knobs::default();
        k.fail_next.push(FailNext {
            count: 1,
            operation: Some(Operation::VmPower),
            code: AgentErrorCode::OperationFailed,
            message: "a".into(),
        });
        k.fail_next.push(FailNext {
            count: 2,
            operation: None,
            code: AgentErrorCode::Internal,
            message: "b".into(),
        });
        assert_eq!(
            k.take_failure(Operation::Noop).map(|f| f.code),
            Some(AgentErrorCode::Internal)
        );
        assert_eq!(
            k.take_failure(Operation::VmPower).map(|f| f.code),
            Some(AgentErrorCode::OperationFailed)
        );
        assert_eq!(
            k.take_failure(Operation::VmPower).map(|f| f.code),
            Some(AgentErrorCode::Internal)
        );
        assert_eq!(k.take_failure(Operation::VmPower), None);
    }

    #[test]
    fn malformed_counts_down_and_filters() {
        let mut k = Knobs {
            malformed: Some(Malformed {
                mode: MalformedMode::TwoResults,
                operation: Some(Operation::InventoryCollect),
                count: Some(2),
            }),
            ..Knobs::default()
        };
        assert_eq!(k.take_malformed(Some(Operation::Noop)), None);
        assert_eq!(
            k.take_malformed(Some(Operation::InventoryCollect)),
            Some(MalformedMode::TwoResults)
        );
        assert_eq!(
            k.take_malformed(Some(Operation::InventoryCollect)),
            Some(MalformedMode::TwoResults)
        );
        assert_eq!(k.take_malformed(Some(Operation::InventoryCollect)), None);
        assert!(k.malformed.is_none());
    }

    #[test]
    fn patches_parse_and_validate_naming_the_field() {
        let p: KnobsPatch = serde_json::from_str(
            r#"{"latency_ms":200,"fail_next":[{"count":1,"operation":"vm.power","code":"TIMEOUT"}],"malformed":null}"#,
        )
        .expect("valid patch");
        assert_eq!(p.latency_ms, Some(200));
        assert_eq!(p.malformed, Some(None));
        assert!(p.validate().is_ok());
        let bad: KnobsPatch =
            serde_json::from_str(r#"{"fail_next":[{"count":0,"code":"TIMEOUT"}]}"#)
                .expect("parses");
        assert_eq!(
            bad.validate().map_err(|e| e.field),
            Err("fail_next[0].count".to_owned())
        );
        assert!(serde_json::from_str::<KnobsPatch>(r#"{"latency":1}"#).is_err());
        assert!(
            serde_json::from_str::<KnobsPatch>(r#"{"fail_next":[{"count":1,"code":"NOPE"}]}"#)
                .is_err()
        );
    }
}
