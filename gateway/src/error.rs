//! Every error the gateway answers: `{"error":{"code","message","details"}}` with the HTTP
//! status of the code from the runtime's one table ([`ErrorCode::http_status`]). Errors from
//! a service keep the service's code, message and structured detail; the proto field paths
//! of its violations are renamed to the REST parameters they came from, so a 400 names
//! what the caller typed. Violations of a job spec (JSON pointers) keep their pointer —
//! the request body is the spec — and name the path or query parameter a value came from;
//! an invalid spec is a 422. A service that does not answer is a 503 (or 504 on timeout)
//! naming it in `details.dependency`.

use aetherv_proto::common::v1 as common;
use aetherv_runtime::{ApiError, ErrorCode, detail_of};
use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tonic::Status;

/// A service the gateway calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dependency {
    /// `aetherv-inventory`.
    Inventory,
    /// `aetherv-remote-tasks`.
    RemoteTasks,
    /// `aetherv-jobs`.
    Jobs,
    /// `aetherv-notifications`.
    Notifications,
}

impl Dependency {
    /// The name used in configuration keys, `/readyz` and error details.
    pub fn as_str(self) -> &'static str {
        match self {
            Dependency::Inventory => "inventory",
            Dependency::RemoteTasks => "remote_tasks",
            Dependency::Jobs => "jobs",
            Dependency::Notifications => "notifications",
        }
    }
}

impl std::fmt::Display for Dependency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a request's proto fields are named in the REST API: `(proto field path, parameter)`;
/// entries whose first member is a JSON pointer (`/vm_id`) name the path or query
/// parameter a job spec value came from.
pub type FieldNames = &'static [(&'static str, &'static str)];

/// An error answer.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpError {
    /// The code; decides the status.
    pub code: ErrorCode,
    /// Lower case, naming the input. Never secret.
    pub message: String,
    /// Structured facts (`parameter`, `allowed`, `vm_state`, `dependency`, ...).
    pub details: Map<String, Value>,
    /// A status other than the code's (422 for an invalid job spec).
    pub status: Option<http::StatusCode>,
}

impl HttpError {
    /// An error without details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> HttpError {
        HttpError {
            code,
            message: message.into(),
            details: Map::new(),
            status: None,
        }
    }

    /// The HTTP status: the code's, unless overridden.
    pub fn http_status(&self) -> http::StatusCode {
        self.status.unwrap_or_else(|| self.code.http_status())
    }

    /// Answers with `status` instead of the code's.
    pub fn with_status(mut self, status: http::StatusCode) -> HttpError {
        self.status = Some(status);
        self
    }

    /// 400 for one query or path parameter: message `"<parameter>: <description>"`.
    pub fn bad_parameter(parameter: &str, description: impl AsRef<str>) -> HttpError {
        HttpError::new(
            ErrorCode::InvalidArgument,
            format!("{parameter}: {}", description.as_ref()),
        )
        .with_detail("parameter", parameter)
    }

    /// 404 for a record: message `"<what> <id>: not found"`.
    pub fn not_found(what: &str, id: &str) -> HttpError {
        HttpError::new(ErrorCode::NotFound, format!("{what} {id:?}: not found"))
    }

    /// 503 for a service that does not answer.
    pub fn unavailable(dependency: Dependency, why: &str) -> HttpError {
        HttpError::new(
            ErrorCode::Unavailable,
            format!("{dependency} is unavailable: {why}"),
        )
        .with_detail("dependency", dependency.as_str())
    }

    /// 504 for a service that did not answer in time.
    pub fn timeout(dependency: Dependency, after: std::time::Duration) -> HttpError {
        HttpError::new(
            ErrorCode::DeadlineExceeded,
            format!("{dependency} did not answer within {after:?}"),
        )
        .with_detail("dependency", dependency.as_str())
    }

    /// Adds one detail.
    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> HttpError {
        self.details.insert(key.to_string(), value.into());
        self
    }

    /// Adds `details.allowed`.
    pub fn with_allowed<S: AsRef<str>>(self, allowed: &[S]) -> HttpError {
        let list: Vec<Value> = allowed.iter().map(|s| json!(s.as_ref())).collect();
        self.with_detail("allowed", list)
    }

    /// The error a service answered with. A status carrying an `ErrorDetail` keeps its
    /// code, message and facts (violation fields renamed through `fields`); a bare status
    /// is a transport failure or a peer without details, classified by its gRPC code.
    pub fn from_status(dependency: Dependency, status: &Status, fields: FieldNames) -> HttpError {
        if detail_of(status).is_some() {
            let api = ApiError::from_status(status);
            return HttpError::from_api(dependency, api, fields);
        }
        match status.code() {
            tonic::Code::Unavailable => HttpError::unavailable(dependency, status.message()),
            tonic::Code::Unknown if is_transport(status) => {
                HttpError::unavailable(dependency, status.message())
            }
            tonic::Code::DeadlineExceeded => HttpError::new(
                ErrorCode::DeadlineExceeded,
                format!("{dependency} did not answer in time"),
            )
            .with_detail("dependency", dependency.as_str()),
            // tonic's own request timeout (the channel's `request_timeout`) surfaces as
            // CANCELLED "Timeout expired": the gateway never cancels a call itself.
            tonic::Code::Cancelled if status.message().contains("Timeout expired") => {
                HttpError::new(
                    ErrorCode::DeadlineExceeded,
                    format!("{dependency} did not answer in time"),
                )
                .with_detail("dependency", dependency.as_str())
            }
            code => HttpError::new(
                ErrorCode::from_grpc(code),
                format!("{dependency}: {}", status.message()),
            )
            .with_detail("dependency", dependency.as_str()),
        }
    }

    /// The error a service stored in a record (a failed job or step), with the same
    /// renaming as an answer.
    pub fn from_detail(dependency: Dependency, detail: common::ErrorDetail) -> HttpError {
        match ApiError::from_detail(detail) {
            Some(api) => HttpError::from_api(dependency, api, &[]),
            None => HttpError::new(ErrorCode::Internal, "an error without a code"),
        }
    }

    fn from_api(dependency: Dependency, api: ApiError, fields: FieldNames) -> HttpError {
        let rename = |field: &str| -> String {
            fields
                .iter()
                .find(|(proto, _)| *proto == field)
                .map_or_else(|| field.to_string(), |(_, rest)| (*rest).to_string())
        };
        let mut message = api.message.clone();
        // A message that starts with a proto field path ("name_contains: ...") names the
        // REST parameter instead.
        if let Some((head, rest)) = api.message.split_once(": ")
            && !head.starts_with('/')
            && let Some((_, parameter)) = fields.iter().find(|(proto, _)| *proto == head)
        {
            message = format!("{parameter}: {rest}");
        }
        let mut error = HttpError::new(api.code, message);
        for (key, value) in api.metadata {
            error.details.insert(key, Value::String(value));
        }
        if !api.agent_code.is_empty() {
            error = error.with_detail("agent_code", api.agent_code);
        }
        let pointer_kind = common::PointerKind::JsonPointer as i32;
        let spec = api
            .violations
            .iter()
            .any(|v| v.pointer_kind == pointer_kind);
        if !api.violations.is_empty() {
            let violations: Vec<Value> = api
                .violations
                .iter()
                .map(|v| {
                    if v.pointer_kind == pointer_kind {
                        let parameter = fields
                            .iter()
                            .find(|(pointer, _)| *pointer == v.field)
                            .map(|(_, parameter)| *parameter);
                        json!({
                            "pointer": v.field,
                            "parameter": parameter,
                            "rule": (!v.rule.is_empty()).then_some(&v.rule),
                            "message": v.description,
                            "allowed": v.allowed,
                        })
                    } else {
                        json!({
                            "field": rename(&v.field),
                            "description": v.description,
                            "rule": (!v.rule.is_empty()).then_some(&v.rule),
                            "allowed": v.allowed,
                        })
                    }
                })
                .collect();
            if let [only] = api.violations.as_slice()
                && only.pointer_kind != pointer_kind
            {
                error = error.with_detail("parameter", rename(&only.field));
                if !only.allowed.is_empty() {
                    error = error.with_allowed(&only.allowed);
                }
            }
            error = error.with_detail("violations", violations);
        }
        if spec && api.code == ErrorCode::InvalidArgument {
            error = error.with_status(http::StatusCode::UNPROCESSABLE_ENTITY);
        }
        if matches!(
            api.code,
            ErrorCode::Unavailable | ErrorCode::DeadlineExceeded
        ) {
            error = error.with_detail("dependency", dependency.as_str());
        }
        error
    }

    /// The `error` member of the body: `{code, message, details}`.
    pub fn error_json(&self) -> Value {
        json!({"code": self.code.as_str(), "message": self.message, "details": self.details})
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({"error": self.error_json()})
    }
}

/// A transport failure (the channel could not reach the peer) rather than an answer.
fn is_transport(status: &Status) -> bool {
    let message = status.message();
    message.contains("transport error")
        || message.contains("connect")
        || message.contains("connection")
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (self.http_status(), Json(self.body())).into_response()
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for HttpError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_keep_their_code_and_name_the_rest_parameter() {
        let status = ApiError::invalid_field("name_contains", "at most 256 characters").to_status();
        let error =
            HttpError::from_status(Dependency::Inventory, &status, &[("name_contains", "q")]);
        assert_eq!(error.code, ErrorCode::InvalidArgument);
        assert_eq!(error.message, "q: at most 256 characters");
        assert_eq!(error.details.get("parameter"), Some(&json!("q")));
        let response = error.into_response();
        assert_eq!(response.status(), 400);
    }

    #[test]
    fn preconditions_keep_their_metadata() {
        let status = ApiError::new(ErrorCode::FailedPrecondition, "vm is running")
            .with_metadata("vm_state", "Running")
            .to_status();
        let error = HttpError::from_status(Dependency::RemoteTasks, &status, &[]);
        assert_eq!(error.code.http_status(), 409);
        assert_eq!(error.details.get("vm_state"), Some(&json!("Running")));
    }

    #[test]
    fn bare_statuses_map_to_unavailable_and_timeouts() {
        let down = Status::unavailable("tcp connect error: connection refused");
        let error = HttpError::from_status(Dependency::Inventory, &down, &[]);
        assert_eq!(error.code.http_status(), 503);
        assert_eq!(error.details.get("dependency"), Some(&json!("inventory")));
        let late = Status::cancelled("Timeout expired");
        let error = HttpError::from_status(Dependency::Inventory, &late, &[]);
        assert_eq!(error.code.http_status(), 504);
        let body = error.body();
        assert_eq!(body["error"]["code"], "DEADLINE_EXCEEDED");
    }
}
