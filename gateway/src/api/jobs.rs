//! `/api/v1/jobs` (list with filters and pages, one job with its output, cancel, retry)
//! and `GET /api/v1/deployments` (the list of managed deployments), through the jobs
//! service. Pages use the gateway's tokens ([`crate::paging`]), so they go back as well
//! as forward.

use aetherv_proto::common::v1 as common;
use aetherv_proto::jobs::v1 as pb;
use aetherv_runtime::ErrorCode;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::submit;
use crate::app::{AppState, RequestContext};
use crate::error::{Dependency, FieldNames, HttpError};
use crate::model::jobs::{JOB_STATES, JOB_TYPES, job_json, job_state_name};
use crate::paging::{Paging, fingerprint};
use crate::query::{Params, check_vm_id};
use crate::upstream::Upstream;

/// List's field paths, as REST parameters.
const LIST_FIELDS: FieldNames = &[
    ("states", "state"),
    ("types", "type"),
    ("host", "host"),
    ("vm_id", "vm_id"),
    ("requester", "requester"),
    ("created.start", "created_after"),
    ("created.end", "created_before"),
    ("page.page_size", "page_size"),
    ("page.page_token", "page_token"),
];

const JOB_FIELDS: FieldNames = &[("job_id", "id")];

/// The parameters of a job list (`type` only where the route takes it).
const LIST_PARAMETERS: [&str; 9] = [
    "state",
    "type",
    "host",
    "vm_id",
    "requester",
    "created_after",
    "created_before",
    "page_size",
    "page_token",
];

/// Checks a job id from the path and lower-cases it.
pub fn check_job_id(parameter: &str, value: &str) -> Result<String, HttpError> {
    let valid = value
        .strip_prefix("job-")
        .is_some_and(|uuid| uuid.len() == 36 && uuid::Uuid::try_parse(uuid).is_ok());
    if valid {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(HttpError::bad_parameter(
            parameter,
            "must be a job id (job- followed by a uuid)",
        ))
    }
}

fn time(params: &Params, name: &str) -> Result<Option<prost_types::Timestamp>, HttpError> {
    let Some(text) = params.text(name, 64)? else {
        return Ok(None);
    };
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            HttpError::bad_parameter(name, "must be an rfc 3339 time (2026-11-26T13:27:05Z)")
        })?;
    Ok(Some(prost_types::Timestamp {
        seconds: parsed.unix_timestamp(),
        nanos: i32::try_from(parsed.nanosecond()).unwrap_or(0),
    }))
}

fn list_request(
    params: &Params,
    only: Option<pb::JobType>,
) -> Result<pb::ListJobsRequest, HttpError> {
    let types = match only {
        Some(kind) => vec![kind as i32],
        None => params
            .choices("type", &JOB_TYPES)?
            .into_iter()
            .map(|kind| kind as i32)
            .collect(),
    };
    let created_after = time(params, "created_after")?;
    let created_before = time(params, "created_before")?;
    Ok(pb::ListJobsRequest {
        states: params
            .choices("state", &JOB_STATES)?
            .into_iter()
            .map(|state| state as i32)
            .collect(),
        types,
        host: params.name("host", &[])?.unwrap_or_default(),
        vm_id: match params.text("vm_id", 64)? {
            Some(id) => check_vm_id("vm_id", id)?,
            None => String::new(),
        },
        created: (created_after.is_some() || created_before.is_some()).then_some(
            common::TimeRange {
                start: created_after,
                end: created_before,
            },
        ),
        requester: params.text("requester", 128)?.unwrap_or("").to_string(),
        page: None,
    })
}

async fn list_page(
    upstream: &Upstream,
    context: &RequestContext,
    mut request: pb::ListJobsRequest,
    size: u32,
    token: String,
) -> Result<pb::ListJobsResponse, HttpError> {
    request.page = Some(common::PageRequest {
        page_size: size,
        page_token: token,
    });
    upstream
        .call(
            upstream.jobs(&context.call).list(upstream.request(request)),
            LIST_FIELDS,
        )
        .await
}

async fn list(
    state: &AppState,
    context: &RequestContext,
    query: Option<&str>,
    only: Option<pb::JobType>,
) -> Result<Response, HttpError> {
    let allowed: Vec<&str> = LIST_PARAMETERS
        .iter()
        .copied()
        .filter(|name| only.is_none() || *name != "type")
        .collect();
    let params = Params::parse(query, &allowed)?;
    let request = list_request(&params, only)?;
    let page_size = params.integer("page_size", 1, 1000)?.unwrap_or(100);
    let mut paging = Paging::parse(
        "page_token",
        params.text("page_token", 4096)?,
        fingerprint(&format!("jobs:{request:?}")),
    )?;
    let upstream = state.upstreams.require(Dependency::Jobs)?;
    // The topic's position before the read: subscribing after it misses nothing.
    let cursor = state.hub.head("jobs").map(|cursor| cursor.to_string());
    let start = paging
        .start(u64::from(page_size), |token, count| {
            let request = request.clone();
            async move {
                let page = list_page(
                    upstream,
                    context,
                    request,
                    u32::try_from(count).unwrap_or(1000),
                    token,
                )
                .await?;
                let next = page.page.map(|p| p.next_page_token).unwrap_or_default();
                Ok((!next.is_empty()).then_some(next))
            }
        })
        .await?;
    let (jobs, total, next) = match start {
        Some(token) => {
            let page = list_page(upstream, context, request, page_size, token).await?;
            let info = page.page.unwrap_or_default();
            (page.jobs, info.total_size, info.next_page_token)
        }
        None => (Vec::new(), 0, String::new()),
    };
    let (next_page_token, prev_page_token) =
        paging.links(u64::from(page_size), jobs.len(), Some(&next));
    let jobs: Vec<Value> = jobs.iter().map(|job| job_json(job, false)).collect();
    Ok(Json(json!({
        "total_size": total,
        "offset": paging.offset,
        "next_page_token": next_page_token,
        "prev_page_token": prev_page_token,
        "cursor": cursor,
        "jobs": jobs,
    }))
    .into_response())
}

/// `GET /api/v1/jobs`.
pub async fn list_jobs(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    list(&state, &context, query.as_deref(), None).await
}

/// `GET /api/v1/deployments`.
pub async fn list_deployments(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    list(
        &state,
        &context,
        query.as_deref(),
        Some(pb::JobType::ManagedDeployment),
    )
    .await
}

async fn get(
    state: &AppState,
    context: &RequestContext,
    job_id: String,
    include_output: bool,
) -> Result<pb::Job, HttpError> {
    let upstream = state.upstreams.require(Dependency::Jobs)?;
    upstream
        .call(
            upstream
                .jobs(&context.call)
                .get(upstream.request(pb::GetJobRequest {
                    job_id,
                    include_output,
                })),
            JOB_FIELDS,
        )
        .await
}

/// `GET /api/v1/jobs/{id}?output=`.
pub async fn get_job(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let id = check_job_id("id", &super::path_param("id", path)?)?;
    let params = Params::parse(query.as_deref(), &["output"])?;
    let output = params.boolean("output")?.unwrap_or(true);
    let job = get(&state, &context, id, output).await?;
    Ok(Json(job_json(&job, output)).into_response())
}

/// Cancel or retry.
#[derive(Debug, Clone, Copy)]
enum Change {
    Cancel,
    Retry,
}

async fn change(
    state: &AppState,
    context: &RequestContext,
    path: Result<Path<String>, PathRejection>,
    query: Option<&str>,
    change: Change,
) -> Result<Response, HttpError> {
    let id = check_job_id("id", &super::path_param("id", path)?)?;
    Params::parse(query, &[])?;
    let upstream = state.upstreams.require(Dependency::Jobs)?;
    let mut client = upstream.jobs(&context.call);
    let answer = match change {
        Change::Cancel => {
            upstream
                .call(
                    client.cancel(upstream.request(pb::CancelJobRequest { job_id: id.clone() })),
                    JOB_FIELDS,
                )
                .await
        }
        Change::Retry => {
            upstream
                .call(
                    client.retry(upstream.request(pb::RetryJobRequest { job_id: id.clone() })),
                    JOB_FIELDS,
                )
                .await
        }
    };
    let job = match answer {
        Ok(job) => job,
        Err(error) if error.code == ErrorCode::FailedPrecondition => {
            // Say which state refused it.
            let error = error.with_detail("job_id", id.clone());
            return Err(match get(state, context, id, false).await {
                Ok(job) => error.with_detail("job_state", job_state_name(job.state)),
                Err(_) => error,
            });
        }
        Err(error) => return Err(error),
    };
    let what = match change {
        Change::Cancel => "cancel",
        Change::Retry => "retry",
    };
    tracing::info!(
        request_id = context.request_id,
        job_id = job.id,
        what,
        "job changed"
    );
    let message = match change {
        Change::Cancel => format!("cancel of {} requested", job.id),
        Change::Retry => format!("{} queued again (attempt {})", job.id, job.attempt),
    };
    Ok(submit::accepted_with(
        &job.id,
        json!({"status": "accepted", "job_id": job.id, "message": message, "job": job_json(&job, false)}),
    ))
}

/// `POST /api/v1/jobs/{id}/cancel`.
pub async fn cancel_job(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    change(&state, &context, path, query.as_deref(), Change::Cancel).await
}

/// `POST /api/v1/jobs/{id}/retry`.
pub async fn retry_job(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    change(&state, &context, path, query.as_deref(), Change::Retry).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_are_checked_and_lower_cased() {
        assert_eq!(
            check_job_id("id", "job-3F2A9C1E-0B4D-4E8F-9A51-6C2D7E8F9A01")
                .ok()
                .as_deref(),
            Some("job-3f2a9c1e-0b4d-4e8f-9a51-6c2d7e8f9a01")
        );
        assert!(check_job_id("id", "3f2a9c1e-0b4d-4e8f-9a51-6c2d7e8f9a01").is_err());
        assert!(check_job_id("id", "job-x").is_err());
    }

    #[test]
    fn filters_are_typed_and_named() {
        let params = Params::parse(
            Some("state=running,failed&type=stop_vm&created_after=2026-01-02T03:04:05Z"),
            &LIST_PARAMETERS,
        );
        let Ok(params) = params else {
            panic!("valid filters refused");
        };
        let request = list_request(&params, None);
        let Ok(request) = request else {
            panic!("valid filters refused");
        };
        assert_eq!(
            request.states,
            [pb::JobState::Running as i32, pb::JobState::Failed as i32]
        );
        assert_eq!(request.types, [pb::JobType::StopVm as i32]);
        assert_eq!(
            request.created.and_then(|c| c.start).map(|t| t.seconds),
            Some(1_767_323_045)
        );
        let bad = Params::parse(Some("created_before=yesterday"), &LIST_PARAMETERS)
            .and_then(|p| list_request(&p, None));
        assert_eq!(
            bad.err().and_then(|e| e.details.get("parameter").cloned()),
            Some("created_before".into())
        );
    }
}
