//! Submitting a job: the request body (a job spec without what the path supplies) is
//! read as a JSON object, the path's values are added, and the spec goes to the jobs
//! service's `Submit`, which validates it against its schema and pre-checks it (the
//! gateway does not: no business logic here). The answer is a 202 with the job and a
//! `Location` to it; a refusal keeps the service's violations, by JSON pointer, naming the
//! path or query parameter a value came from (an invalid spec is a 422).

use aetherv_proto::inventory::v1 as inventory;
use aetherv_proto::jobs::v1 as pb;
use aetherv_runtime::ErrorCode;
use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::app::{AppState, RequestContext};
use crate::error::{Dependency, FieldNames, HttpError};
use crate::model::jobs::{job_json, job_type_name};

/// The header that makes a mutation safe to repeat.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// Submit's request fields as the REST API names them.
const SUBMIT_FIELDS: &[(&str, &str)] = &[
    ("spec_json", "body"),
    ("request_id", "Idempotency-Key"),
    ("type", "type"),
];

/// One job to submit.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The type.
    pub job_type: pb::JobType,
    /// The whole spec.
    pub spec: Map<String, Value>,
    /// Pointers of spec values that came from the path or query: `(pointer, parameter)`.
    pub fields: FieldNames,
    /// The idempotency key.
    pub request_id: Option<String>,
}

/// An invalid spec value found before the service saw it (the body is not an object, or
/// it repeats a value of the path): a 422 in the service's shape.
pub fn spec_violation(
    pointer: &str,
    rule: &str,
    message: &str,
    parameter: Option<&str>,
) -> HttpError {
    let shown = if pointer.is_empty() { "/" } else { pointer };
    HttpError::new(ErrorCode::InvalidArgument, format!("{shown}: {message}"))
        .with_detail(
            "violations",
            json!([{"pointer": pointer, "parameter": parameter, "rule": rule, "message": message, "allowed": []}]),
        )
        .with_status(StatusCode::UNPROCESSABLE_ENTITY)
}

/// The request body as a JSON object (empty: `{}`). Unreadable or malformed JSON is a 400
/// naming `body`; JSON that is not an object, or an object holding one of `from_path`
/// (`(key, parameter)`: values the path or query supplies), is a 422.
pub fn body_object(
    body: Result<Bytes, BytesRejection>,
    from_path: &[(&str, &str)],
) -> Result<Map<String, Value>, HttpError> {
    let body = body.map_err(|rejection| HttpError::bad_parameter("body", rejection.body_text()))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_slice(&body).map_err(|error| {
        HttpError::bad_parameter("body", format!("is not valid json ({error})"))
    })?;
    let Value::Object(object) = value else {
        return Err(spec_violation(
            "",
            "type",
            "the body must be a json object",
            None,
        ));
    };
    if let Some((key, parameter)) = from_path.iter().find(|(key, _)| object.contains_key(*key)) {
        return Err(spec_violation(
            &format!("/{key}"),
            "from_path",
            &format!("comes from the {parameter} parameter; leave it out of the body"),
            Some(parameter),
        ));
    }
    Ok(object)
}

/// The `Idempotency-Key` header, checked as the jobs service wants it.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, HttpError> {
    let Some(value) = headers.get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key)
            if (1..=128).contains(&key.len())
                && key.bytes().all(|b| (0x21..=0x7e).contains(&b)) =>
        {
            Ok(Some(key.to_string()))
        }
        _ => Err(HttpError::bad_parameter(
            "Idempotency-Key",
            "must be 1 to 128 printable ascii characters without spaces",
        )),
    }
}

/// Reads the VM a route names (404 naming it when inventory does not know it).
pub async fn vm(
    state: &AppState,
    context: &RequestContext,
    id: String,
) -> Result<inventory::Vm, HttpError> {
    let upstream = state.upstreams.require(Dependency::Inventory)?;
    upstream
        .call(
            upstream
                .inventory(&context.call)
                .get_vm(upstream.request(inventory::GetVmRequest { vm_id: id })),
            &[("vm_id", "id")],
        )
        .await
}

/// Submits `submission`; the job as queued.
pub async fn submit(
    state: &AppState,
    context: &RequestContext,
    submission: Submission,
) -> Result<pb::Job, HttpError> {
    let upstream = state.upstreams.require(Dependency::Jobs)?;
    let request = pb::SubmitRequest {
        r#type: submission.job_type as i32,
        spec_json: Value::Object(submission.spec).to_string(),
        request_id: submission.request_id.unwrap_or_default(),
    };
    let answer = upstream
        .call(
            upstream
                .jobs(&context.call)
                .submit(upstream.request(request)),
            SUBMIT_FIELDS,
        )
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        // Violations of the spec name the path's parameters too: map again with the
        // route's table (the service answered once; this only renames).
        Err(error) => return Err(rename(error, submission.fields)),
    };
    answer
        .job
        .ok_or_else(|| HttpError::new(ErrorCode::Internal, "jobs answered submit without the job"))
}

/// Fills in `parameter` of spec violations whose pointer a route took from its path.
fn rename(mut error: HttpError, fields: FieldNames) -> HttpError {
    if let Some(Value::Array(violations)) = error.details.get_mut("violations") {
        for violation in violations {
            let Some(pointer) = violation.get("pointer").and_then(Value::as_str) else {
                continue;
            };
            if let Some((_, parameter)) = fields.iter().find(|(p, _)| *p == pointer) {
                violation["parameter"] = json!(parameter);
            }
        }
    }
    error
}

/// `Location` of a job.
pub fn location(job_id: &str) -> String {
    format!("/api/v1/jobs/{job_id}")
}

/// A 202 with `body` and `Location` to the job.
pub fn accepted_with(job_id: &str, body: Value) -> Response {
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location(job_id)) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The usual 202: `{"status":"accepted","job_id","message","job"}`.
pub fn accepted(job: &pb::Job, what: &str) -> Response {
    let target = match (job.vm_name.as_str(), job.host.as_str()) {
        ("", host) => format!("on {host}"),
        (vm, host) => format!("for vm {vm} on {host}"),
    };
    let message = format!("{what} queued as {} {target}", job.id);
    accepted_with(
        &job.id,
        json!({"status": "accepted", "job_id": job.id, "message": message, "job": job_json(job, false)}),
    )
}

/// A job type's wire name for messages.
pub fn type_name(job_type: pb::JobType) -> &'static str {
    job_type_name(job_type as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_objects_without_the_paths_values() {
        let ok = body_object(Ok(Bytes::from_static(b"  ")), &[]);
        assert_eq!(ok.ok(), Some(Map::new()));
        let not_json = body_object(Ok(Bytes::from_static(b"{")), &[]).err();
        assert_eq!(
            not_json.map(|e| e.http_status()),
            Some(StatusCode::BAD_REQUEST)
        );
        let array = body_object(Ok(Bytes::from_static(b"[1]")), &[]).err();
        assert_eq!(
            array.as_ref().map(|e| e.http_status()),
            Some(StatusCode::UNPROCESSABLE_ENTITY)
        );
        let repeated = body_object(
            Ok(Bytes::from_static(br#"{"vm_id":"x"}"#)),
            &[("vm_id", "id")],
        )
        .err();
        let Some(repeated) = repeated else {
            panic!("vm_id in the body must be refused");
        };
        assert_eq!(repeated.details["violations"][0]["pointer"], "/vm_id");
        assert_eq!(repeated.details["violations"][0]["parameter"], "id");
    }

    #[test]
    fn idempotency_keys_are_printable_ascii() {
        let mut headers = HeaderMap::new();
        assert_eq!(idempotency_key(&headers).ok(), Some(None));
        headers.insert(IDEMPOTENCY_HEADER, HeaderValue::from_static("deploy-42"));
        assert_eq!(
            idempotency_key(&headers).ok(),
            Some(Some("deploy-42".to_string()))
        );
        headers.insert(IDEMPOTENCY_HEADER, HeaderValue::from_static("has space"));
        assert!(idempotency_key(&headers).is_err());
    }
}
