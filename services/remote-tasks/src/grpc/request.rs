//! Edge validation of a `RunRequest` into the domain's [`RunInput`]: every field is
//! checked and every problem reported at once, each naming its field.

use std::time::Duration;

use aetherv_hyperv::{CorrelationId, HostId, Operation};
use aetherv_proto::remotetasks::v1 as pb;
use aetherv_runtime::{ApiError, ErrorCode};
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::domain::{Category, RunInput, TaskId};

/// Largest `params_json` accepted.
pub const MAX_PARAMS_BYTES: usize = 1024 * 1024;

/// The domain category of a proto category value.
pub fn category(value: i32) -> Result<Category, String> {
    match pb::Category::try_from(value) {
        Ok(pb::Category::Inventory) => Ok(Category::Inventory),
        Ok(pb::Category::Control) => Ok(Category::Control),
        Ok(pb::Category::Io) => Ok(Category::Io),
        Ok(pb::Category::Deploy) => Ok(Category::Deploy),
        Ok(pb::Category::Watch) => Ok(Category::Watch),
        Ok(pb::Category::Unspecified) => {
            Err("is required: one of CATEGORY_INVENTORY, CATEGORY_CONTROL, CATEGORY_IO, CATEGORY_DEPLOY, CATEGORY_WATCH".to_string())
        }
        Err(_) => Err(format!("unknown category value {value}")),
    }
}

/// Checks every field of `request`; `deadline` is the call's gRPC deadline.
pub fn run_input(request: pb::RunRequest, deadline: Option<Instant>) -> Result<RunInput, ApiError> {
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    let host = if request.host.is_empty() {
        problems.push(("host", "is required".to_string()));
        None
    } else {
        HostId::parse(&request.host)
            .map_err(|error| problems.push(("host", error.reason.to_string())))
            .ok()
    };
    let operation = if request.operation.is_empty() {
        problems.push(("operation", "is required".to_string()));
        None
    } else {
        let found = Operation::from_wire(&request.operation);
        if found.is_none() {
            let known: Vec<&str> = Operation::ALL.iter().map(|o| o.as_str()).collect();
            problems.push((
                "operation",
                format!("unknown operation (known: {})", known.join(", ")),
            ));
        }
        found
    };
    let params = params(&request.params_json)
        .map_err(|message| problems.push(("params_json", message)))
        .ok();
    let category = category(request.category)
        .map_err(|message| problems.push(("category", message)))
        .ok();
    let timeout = match request.timeout {
        None => Ok(None),
        Some(timeout) => duration(timeout).map(Some),
    }
    .map_err(|message| problems.push(("timeout", message)))
    .ok()
    .flatten();
    let correlation_id = if request.correlation_id.is_empty() {
        None
    } else {
        CorrelationId::parse(&request.correlation_id)
            .map_err(|error| problems.push(("correlation_id", error.reason.to_string())))
            .ok()
    };
    // A watch runs outside the limits the other categories share: only inventory.watch
    // may run there, and inventory.watch only there.
    if let (Some(operation), Some(category)) = (operation, category)
        && (operation == Operation::InventoryWatch) != (category == Category::Watch)
    {
        problems.push((
            "category",
            "inventory.watch runs in CATEGORY_WATCH, and CATEGORY_WATCH runs only inventory.watch"
                .to_string(),
        ));
    }
    match (host, operation, params, category) {
        (Some(host), Some(operation), Some(params), Some(category)) if problems.is_empty() => {
            Ok(RunInput {
                host,
                operation,
                params,
                category,
                timeout,
                correlation_id,
                deadline,
            })
        }
        _ => Err(invalid(&problems)),
    }
}

/// One INVALID_ARGUMENT naming every field.
fn invalid(problems: &[(&'static str, String)]) -> ApiError {
    let message = problems
        .iter()
        .map(|(field, message)| format!("{field}: {message}"))
        .collect::<Vec<_>>()
        .join("; ");
    problems.iter().fold(
        ApiError::new(ErrorCode::InvalidArgument, message),
        |error, (field, message)| error.with_field_violation(field, message),
    )
}

/// The params object; empty text is `{}`.
fn params(text: &str) -> Result<Map<String, Value>, String> {
    if text.len() > MAX_PARAMS_BYTES {
        return Err(format!("is longer than {MAX_PARAMS_BYTES} bytes"));
    }
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("must be a JSON object".to_string()),
        // The position only: the text may hold secrets.
        Err(error) => Err(format!(
            "is not valid JSON (line {} column {})",
            error.line(),
            error.column()
        )),
    }
}

/// A proto duration as a std one.
fn duration(value: prost_types::Duration) -> Result<Duration, String> {
    if value.seconds < 0 || value.nanos < 0 {
        return Err("must not be negative".to_string());
    }
    if value.nanos >= 1_000_000_000 {
        return Err("nanos must be below 1000000000".to_string());
    }
    Ok(Duration::new(value.seconds as u64, value.nanos as u32))
}

/// The task id of a Cancel request.
pub fn task_id(text: &str) -> Result<TaskId, ApiError> {
    if text.is_empty() {
        return Err(ApiError::invalid_field("task_id", "is required"));
    }
    TaskId::parse(text).map_err(|error| ApiError::invalid_field("task_id", &error.to_string()))
}

/// The call's deadline from the `grpc-timeout` header (`<digits><H|M|S|m|u|n>`).
pub fn deadline(metadata: &tonic::metadata::MetadataMap) -> Option<Instant> {
    let text = metadata.get("grpc-timeout")?.to_str().ok()?;
    let timeout = grpc_timeout(text)?;
    Instant::now().checked_add(timeout)
}

fn grpc_timeout(text: &str) -> Option<Duration> {
    if text.len() < 2 || text.len() > 9 {
        return None;
    }
    let (digits, unit) = text.split_at(text.len() - 1);
    let value: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(value.checked_mul(3600)?),
        "M" => Duration::from_secs(value.checked_mul(60)?),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> pb::RunRequest {
        pb::RunRequest {
            host: "HV01.lab.local".to_string(),
            operation: "vm.power".to_string(),
            params_json: r#"{"vm_id":"0f8fad5b-d9cb-469f-a165-70867728950e","action":"start"}"#
                .to_string(),
            category: pb::Category::Control as i32,
            timeout: None,
            correlation_id: String::new(),
        }
    }

    #[test]
    fn a_good_request_becomes_a_run_input() {
        let input = run_input(request(), None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(input.host.as_str(), "hv01.lab.local");
        assert_eq!(input.operation, Operation::VmPower);
        assert_eq!(input.category, Category::Control);
        assert_eq!(input.params.len(), 2);
        let empty = pb::RunRequest {
            params_json: String::new(),
            operation: "agent.info".to_string(),
            ..request()
        };
        let input = run_input(empty, None).unwrap_or_else(|e| panic!("{e}"));
        assert!(input.params.is_empty());
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = pb::RunRequest {
            host: "not a host".to_string(),
            operation: "vm.explode".to_string(),
            params_json: r#"{"password":"hunter2""#.to_string(),
            category: 0,
            timeout: Some(prost_types::Duration {
                seconds: -1,
                nanos: 0,
            }),
            correlation_id: "has spaces".to_string(),
        };
        let error = match run_input(bad, None) {
            Err(error) => error,
            Ok(_) => panic!("accepted"),
        };
        assert_eq!(error.code, ErrorCode::InvalidArgument);
        let fields: Vec<&str> = error.violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "host",
                "operation",
                "params_json",
                "category",
                "timeout",
                "correlation_id"
            ]
        );
        assert!(!error.message.contains("hunter2"), "{}", error.message);
        let array = pb::RunRequest {
            params_json: "[1]".to_string(),
            ..request()
        };
        assert!(run_input(array, None).is_err());
        let unknown_category = pb::RunRequest {
            category: 42,
            ..request()
        };
        assert!(run_input(unknown_category, None).is_err());
    }

    #[test]
    fn grpc_timeouts_parse() {
        assert_eq!(grpc_timeout("10S"), Some(Duration::from_secs(10)));
        assert_eq!(grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(
            grpc_timeout("99999999n"),
            Some(Duration::from_nanos(99_999_999))
        );
        assert_eq!(grpc_timeout("S"), None);
        assert_eq!(grpc_timeout("10x"), None);
        assert_eq!(grpc_timeout("123456789S"), None);
    }

    #[test]
    fn task_ids_are_checked() {
        assert!(task_id("").is_err());
        assert!(task_id("task-1").is_err());
        let id = TaskId::random();
        assert_eq!(task_id(id.as_str()).ok(), Some(id));
    }
}
