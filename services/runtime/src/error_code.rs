//! The closed list of error codes and the one table that maps each to a gRPC status code
//! and an HTTP status. Services classify their errors with [`ErrorCode`]; the gateway turns a
//! `tonic::Status` into HTTP with [`ErrorCode::http_status`].

use aetherv_proto::common::v1 as pb;
use tonic::Code;

/// What kind of failure an error is, independent of transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCode {
    /// The request is malformed or a field is out of range (400).
    InvalidArgument,
    /// The named entity does not exist (404).
    NotFound,
    /// The entity to create exists already (409).
    AlreadyExists,
    /// The system is not in a state that allows the request, e.g. the VM's state (409).
    FailedPrecondition,
    /// A concurrent change won; the caller may retry after re-reading (409).
    Conflict,
    /// A bounded queue or quota is full (429).
    ResourceExhausted,
    /// A dependency or host cannot be reached, or the service is shutting down (503).
    Unavailable,
    /// The operation did not finish in time (504).
    DeadlineExceeded,
    /// The caller is not authenticated (401).
    Unauthenticated,
    /// The caller may not do this (403).
    PermissionDenied,
    /// The operation was cancelled by the caller (499).
    Cancelled,
    /// A bug or an unexpected failure (500).
    Internal,
}

/// One row of the table: code, wire name, gRPC code, HTTP status, proto enum value.
struct Row {
    code: ErrorCode,
    name: &'static str,
    grpc: Code,
    http: u16,
    proto: pb::ErrorCode,
}

/// The table. Every other mapping in this module reads it.
const TABLE: [Row; 12] = [
    row(
        ErrorCode::InvalidArgument,
        "INVALID_ARGUMENT",
        Code::InvalidArgument,
        400,
        pb::ErrorCode::InvalidArgument,
    ),
    row(
        ErrorCode::NotFound,
        "NOT_FOUND",
        Code::NotFound,
        404,
        pb::ErrorCode::NotFound,
    ),
    row(
        ErrorCode::AlreadyExists,
        "ALREADY_EXISTS",
        Code::AlreadyExists,
        409,
        pb::ErrorCode::AlreadyExists,
    ),
    row(
        ErrorCode::FailedPrecondition,
        "FAILED_PRECONDITION",
        Code::FailedPrecondition,
        409,
        pb::ErrorCode::FailedPrecondition,
    ),
    row(
        ErrorCode::Conflict,
        "CONFLICT",
        Code::Aborted,
        409,
        pb::ErrorCode::Conflict,
    ),
    row(
        ErrorCode::ResourceExhausted,
        "RESOURCE_EXHAUSTED",
        Code::ResourceExhausted,
        429,
        pb::ErrorCode::ResourceExhausted,
    ),
    row(
        ErrorCode::Unavailable,
        "UNAVAILABLE",
        Code::Unavailable,
        503,
        pb::ErrorCode::Unavailable,
    ),
    row(
        ErrorCode::DeadlineExceeded,
        "DEADLINE_EXCEEDED",
        Code::DeadlineExceeded,
        504,
        pb::ErrorCode::DeadlineExceeded,
    ),
    row(
        ErrorCode::Unauthenticated,
        "UNAUTHENTICATED",
        Code::Unauthenticated,
        401,
        pb::ErrorCode::Unauthenticated,
    ),
    row(
        ErrorCode::PermissionDenied,
        "PERMISSION_DENIED",
        Code::PermissionDenied,
        403,
        pb::ErrorCode::PermissionDenied,
    ),
    row(
        ErrorCode::Cancelled,
        "CANCELLED",
        Code::Cancelled,
        499,
        pb::ErrorCode::Cancelled,
    ),
    row(
        ErrorCode::Internal,
        "INTERNAL",
        Code::Internal,
        500,
        pb::ErrorCode::Internal,
    ),
];

const fn row(
    code: ErrorCode,
    name: &'static str,
    grpc: Code,
    http: u16,
    proto: pb::ErrorCode,
) -> Row {
    Row {
        code,
        name,
        grpc,
        http,
        proto,
    }
}

impl ErrorCode {
    /// Every code, in table order.
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::InvalidArgument,
        ErrorCode::NotFound,
        ErrorCode::AlreadyExists,
        ErrorCode::FailedPrecondition,
        ErrorCode::Conflict,
        ErrorCode::ResourceExhausted,
        ErrorCode::Unavailable,
        ErrorCode::DeadlineExceeded,
        ErrorCode::Unauthenticated,
        ErrorCode::PermissionDenied,
        ErrorCode::Cancelled,
        ErrorCode::Internal,
    ];

    fn row(self) -> &'static Row {
        // The table has one row per variant, in declaration order.
        &TABLE[self as usize]
    }

    /// The wire name, e.g. `"NOT_FOUND"` (the gateway's `error.code`).
    pub fn as_str(self) -> &'static str {
        self.row().name
    }

    /// The gRPC status code.
    pub fn grpc_code(self) -> Code {
        self.row().grpc
    }

    /// The HTTP status the gateway answers with.
    pub fn http_status(self) -> http::StatusCode {
        // Every number in the table is a valid status (100..=999).
        http::StatusCode::from_u16(self.row().http)
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The `aetherv.common.v1.ErrorCode` value.
    pub fn to_proto(self) -> pb::ErrorCode {
        self.row().proto
    }

    /// The code for an `aetherv.common.v1.ErrorCode`; `None` for `UNSPECIFIED`.
    pub fn from_proto(value: pb::ErrorCode) -> Option<ErrorCode> {
        TABLE
            .iter()
            .find(|row| row.proto == value)
            .map(|row| row.code)
    }

    /// The code for a wire name (`"NOT_FOUND"`).
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        TABLE
            .iter()
            .find(|row| row.name == name)
            .map(|row| row.code)
    }

    /// The code a bare gRPC status (one without an `ErrorDetail`) stands for. gRPC codes
    /// outside the table map to their nearest meaning: `ABORTED` → Conflict,
    /// `OUT_OF_RANGE` → InvalidArgument, everything else unexpected → Internal.
    pub fn from_grpc(code: Code) -> ErrorCode {
        if let Some(row) = TABLE.iter().find(|row| row.grpc == code) {
            return row.code;
        }
        match code {
            Code::OutOfRange => ErrorCode::InvalidArgument,
            _ => ErrorCode::Internal,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Implemented by every service error enum: which code an error is.
pub trait HasErrorCode: std::error::Error {
    /// The code of this error.
    fn error_code(&self) -> ErrorCode;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_follow_the_declaration_order() {
        for (index, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(TABLE[index].code, *code);
            assert_eq!(*code as usize, index);
        }
    }
}
