//! [`ApiError`]: an error code, a message and the structured `ErrorDetail`, and its
//! conversion to and from `tonic::Status`. The detail travels as a `google.rpc.Status` in
//! the `grpc-status-details-bin` trailer whose one detail is a packed
//! `aetherv.common.v1.ErrorDetail`, so grpcurl (through reflection) and any gRPC client
//! can read it.

use std::collections::BTreeMap;

use aetherv_proto::common::v1 as pb;
use prost::Message;
use tonic::Status;

use crate::error_code::{ErrorCode, HasErrorCode};

/// The type URL of a packed `ErrorDetail`.
pub const ERROR_DETAIL_TYPE_URL: &str = "type.googleapis.com/aetherv.common.v1.ErrorDetail";

/// `google.rpc.Status`, the standard container of status details.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

/// An error as every service answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// Its code.
    pub code: ErrorCode,
    /// Operator-readable, lower case, naming the input. Never secret.
    pub message: String,
    /// One entry per invalid input.
    pub violations: Vec<pb::FieldViolation>,
    /// The agent protocol error code, for errors that come from a host.
    pub agent_code: String,
    /// Extra facts (`vm_state`, `host`, ...). Never secret.
    pub metadata: BTreeMap<String, String>,
}

impl ApiError {
    /// An error with a code and a message and no detail.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            violations: Vec::new(),
            agent_code: String::new(),
            metadata: BTreeMap::new(),
        }
    }

    /// INVALID_ARGUMENT for one request field: message `"<field>: <description>"` and one
    /// field-path violation.
    pub fn invalid_field(field: &str, description: &str) -> ApiError {
        ApiError::new(
            ErrorCode::InvalidArgument,
            format!("{field}: {description}"),
        )
        .with_field_violation(field, description)
    }

    /// Adds a violation of a proto field path.
    pub fn with_field_violation(self, field: &str, description: &str) -> ApiError {
        self.with_violation(violation(
            field,
            pb::PointerKind::FieldPath,
            description,
            "",
        ))
    }

    /// Adds a violation at an RFC 6901 JSON pointer of a JSON payload, with the schema rule.
    pub fn with_json_violation(self, pointer: &str, rule: &str, description: &str) -> ApiError {
        self.with_violation(violation(
            pointer,
            pb::PointerKind::JsonPointer,
            description,
            rule,
        ))
    }

    /// Adds a violation of a metadata key.
    pub fn with_metadata_violation(self, key: &str, description: &str) -> ApiError {
        self.with_violation(violation(key, pb::PointerKind::Metadata, description, ""))
    }

    /// Adds a violation.
    pub fn with_violation(mut self, violation: pb::FieldViolation) -> ApiError {
        self.violations.push(violation);
        self
    }

    /// Sets the agent protocol code.
    pub fn with_agent_code(mut self, agent_code: impl Into<String>) -> ApiError {
        self.agent_code = agent_code.into();
        self
    }

    /// Adds a metadata fact.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> ApiError {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// From a service error: its code, and its whole source chain on one line as message.
    pub fn from_error<E: HasErrorCode + 'static>(error: &E) -> ApiError {
        ApiError::new(error.error_code(), crate::chain::display_chain(error))
    }

    /// The `aetherv.common.v1.ErrorDetail` of this error.
    pub fn to_detail(&self) -> pb::ErrorDetail {
        pb::ErrorDetail {
            code: self.code.to_proto() as i32,
            message: self.message.clone(),
            violations: self.violations.clone(),
            agent_code: self.agent_code.clone(),
            metadata: self.metadata.clone().into_iter().collect(),
        }
    }

    /// From an `ErrorDetail`; `None` when its code is unspecified or unknown.
    pub fn from_detail(detail: pb::ErrorDetail) -> Option<ApiError> {
        let code = pb::ErrorCode::try_from(detail.code)
            .ok()
            .and_then(ErrorCode::from_proto)?;
        Some(ApiError {
            code,
            message: detail.message,
            violations: detail.violations,
            agent_code: detail.agent_code,
            metadata: detail.metadata.into_iter().collect(),
        })
    }

    /// The gRPC status: the code's gRPC code, the message, and the detail.
    pub fn to_status(&self) -> Status {
        let grpc = self.code.grpc_code();
        let detail = self.to_detail();
        let rpc_status = RpcStatus {
            code: grpc as i32,
            message: self.message.clone(),
            details: vec![prost_types::Any {
                type_url: ERROR_DETAIL_TYPE_URL.to_string(),
                value: detail.encode_to_vec(),
            }],
        };
        Status::with_details(
            grpc,
            self.message.clone(),
            rpc_status.encode_to_vec().into(),
        )
    }

    /// Reads an error from a status. A status carrying an `ErrorDetail` gives it back
    /// exactly; any other status (from a peer that sends none) gets the code its gRPC code
    /// stands for and its message.
    pub fn from_status(status: &Status) -> ApiError {
        detail_of(status)
            .and_then(ApiError::from_detail)
            .unwrap_or_else(|| ApiError::new(ErrorCode::from_grpc(status.code()), status.message()))
    }
}

/// The `ErrorDetail` packed in a status, if there is one.
pub fn detail_of(status: &Status) -> Option<pb::ErrorDetail> {
    if status.details().is_empty() {
        return None;
    }
    let rpc_status = RpcStatus::decode(status.details()).ok()?;
    rpc_status
        .details
        .into_iter()
        .find(|any| any.type_url == ERROR_DETAIL_TYPE_URL)
        .and_then(|any| pb::ErrorDetail::decode(any.value.as_slice()).ok())
}

fn violation(
    field: &str,
    kind: pb::PointerKind,
    description: &str,
    rule: &str,
) -> pb::FieldViolation {
    pb::FieldViolation {
        field: field.to_string(),
        pointer_kind: kind as i32,
        description: description.to_string(),
        rule: rule.to_string(),
        allowed: Vec::new(),
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl HasErrorCode for ApiError {
    fn error_code(&self) -> ErrorCode {
        self.code
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Status {
        error.to_status()
    }
}

impl From<&Status> for ApiError {
    fn from(status: &Status) -> ApiError {
        ApiError::from_status(status)
    }
}
