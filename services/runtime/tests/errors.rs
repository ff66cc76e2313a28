//! The error table and the `ErrorDetail` carried through `tonic::Status`, including across
//! the HTTP/2 header encoding a real call uses.

use aetherv_proto::common::v1 as pb;
use aetherv_runtime::{ApiError, ErrorCode, detail_of};
use tonic::{Code, Status};

/// The documented table (ARCHITECTURE.md "Error codes").
const TABLE: [(ErrorCode, &str, Code, u16); 12] = [
    (
        ErrorCode::InvalidArgument,
        "INVALID_ARGUMENT",
        Code::InvalidArgument,
        400,
    ),
    (ErrorCode::NotFound, "NOT_FOUND", Code::NotFound, 404),
    (
        ErrorCode::AlreadyExists,
        "ALREADY_EXISTS",
        Code::AlreadyExists,
        409,
    ),
    (
        ErrorCode::FailedPrecondition,
        "FAILED_PRECONDITION",
        Code::FailedPrecondition,
        409,
    ),
    (ErrorCode::Conflict, "CONFLICT", Code::Aborted, 409),
    (
        ErrorCode::ResourceExhausted,
        "RESOURCE_EXHAUSTED",
        Code::ResourceExhausted,
        429,
    ),
    (
        ErrorCode::Unavailable,
        "UNAVAILABLE",
        Code::Unavailable,
        503,
    ),
    (
        ErrorCode::DeadlineExceeded,
        "DEADLINE_EXCEEDED",
        Code::DeadlineExceeded,
        504,
    ),
    (
        ErrorCode::Unauthenticated,
        "UNAUTHENTICATED",
        Code::Unauthenticated,
        401,
    ),
    (
        ErrorCode::PermissionDenied,
        "PERMISSION_DENIED",
        Code::PermissionDenied,
        403,
    ),
    (ErrorCode::Cancelled, "CANCELLED", Code::Cancelled, 499),
    (ErrorCode::Internal, "INTERNAL", Code::Internal, 500),
];

#[test]
fn every_code_maps_to_the_documented_grpc_and_http_status() {
    assert_eq!(ErrorCode::ALL.len(), TABLE.len());
    for (code, name, grpc, http) in TABLE {
        assert_eq!(code.as_str(), name);
        assert_eq!(code.grpc_code(), grpc, "{name}");
        assert_eq!(code.http_status().as_u16(), http, "{name}");
        assert_eq!(ErrorCode::from_name(name), Some(code));
        assert_eq!(ErrorCode::from_proto(code.to_proto()), Some(code));
        // The proto enum's name agrees with the wire name.
        assert_eq!(code.to_proto().as_str_name(), format!("ERROR_CODE_{name}"));
        // A bare status from a peer that sends no detail is classified by its gRPC code.
        assert_eq!(ErrorCode::from_grpc(grpc), code, "{name}");
    }
    assert_eq!(ErrorCode::from_proto(pb::ErrorCode::Unspecified), None);
    assert_eq!(
        ErrorCode::from_grpc(Code::OutOfRange),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        ErrorCode::from_grpc(Code::Unimplemented),
        ErrorCode::Internal
    );
    assert_eq!(ErrorCode::from_grpc(Code::Unknown), ErrorCode::Internal);
}

fn rich_error() -> ApiError {
    ApiError::new(ErrorCode::InvalidArgument, "spec: 2 violations")
        .with_json_violation(
            "/memory_startup_bytes",
            "minimum",
            "must be at least 33554432",
        )
        .with_field_violation("spec_json", "not valid json")
        .with_metadata_violation("x-aetherv-caller", "kind must be \"user\" or \"service\"")
        .with_agent_code("INVALID_REQUEST")
        .with_metadata("host", "hv01.lab.local")
}

#[test]
fn a_status_round_trip_keeps_the_whole_detail() {
    for code in ErrorCode::ALL {
        let error = ApiError {
            code,
            ..rich_error()
        };
        let status = error.to_status();
        assert_eq!(status.code(), code.grpc_code());
        assert_eq!(status.message(), "spec: 2 violations");
        assert_eq!(ApiError::from_status(&status), error);
    }
}

#[test]
fn the_detail_survives_the_wire_encoding_of_a_status() {
    let error = rich_error();
    let response = error.to_status().into_http::<()>();
    let Some(decoded) = Status::from_header_map(response.headers()) else {
        panic!("no grpc-status in {:?}", response.headers());
    };
    assert_eq!(ApiError::from_status(&decoded), error);
    let Some(detail) = detail_of(&decoded) else {
        panic!("no detail")
    };
    assert_eq!(detail.code, pb::ErrorCode::InvalidArgument as i32);
    assert_eq!(detail.violations[0].field, "/memory_startup_bytes");
    assert_eq!(
        detail.violations[0].pointer_kind,
        pb::PointerKind::JsonPointer as i32
    );
    assert_eq!(detail.violations[0].rule, "minimum");
    assert_eq!(
        detail.violations[1].pointer_kind,
        pb::PointerKind::FieldPath as i32
    );
    assert_eq!(
        detail.violations[2].pointer_kind,
        pb::PointerKind::Metadata as i32
    );
}

#[test]
fn a_status_without_detail_is_read_by_its_code() {
    let error = ApiError::from_status(&Status::unavailable("connection refused"));
    assert_eq!(
        error,
        ApiError::new(ErrorCode::Unavailable, "connection refused")
    );
    let garbage = Status::with_details(Code::NotFound, "vm x not found", vec![1, 2, 3].into());
    assert_eq!(ApiError::from_status(&garbage).code, ErrorCode::NotFound);
}

#[test]
fn a_field_error_names_the_field_in_message_and_violation() {
    let status = ApiError::invalid_field("page_size", "must be at most 1000").to_status();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.message(), "page_size: must be at most 1000");
    let Some(detail) = detail_of(&status) else {
        panic!("no detail")
    };
    assert_eq!(detail.violations[0].field, "page_size");
}

#[derive(Debug, thiserror::Error)]
#[error("vm 3f2a not found on host hv01")]
struct VmMissing(#[source] std::io::Error);

impl aetherv_runtime::HasErrorCode for VmMissing {
    fn error_code(&self) -> ErrorCode {
        ErrorCode::NotFound
    }
}

#[test]
fn a_service_error_becomes_a_status_with_its_chain() {
    let error = VmMissing(std::io::Error::other("agent said VM_NOT_FOUND"));
    let status = ApiError::from_error(&error).to_status();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(
        status.message(),
        "vm 3f2a not found on host hv01: agent said VM_NOT_FOUND"
    );
}
