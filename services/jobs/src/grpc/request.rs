//! Checks of request fields at the edge, each refusal naming the field: job ids, the
//! Submit fields, list filters and page tokens.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::SystemTime;

use aetherv_hyperv::{HostId, VmId};
use aetherv_proto::common::v1 as common;
use aetherv_proto::jobs::v1 as pb;
use aetherv_runtime::ApiError;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::convert;
use crate::domain::model::JobId;
use crate::domain::store::Filter;
use crate::spec::{JobType, MAX_SPEC_BYTES};

/// Default and largest page sizes of List.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// The largest page.
pub const MAX_PAGE_SIZE: usize = 1000;

/// A required job id.
pub fn job_id(text: &str) -> Result<JobId, ApiError> {
    if text.is_empty() {
        return Err(ApiError::invalid_field("job_id", "is required"));
    }
    JobId::parse(text).ok_or_else(|| {
        ApiError::invalid_field("job_id", "must be \"job-\" followed by a lower-case uuid")
    })
}

/// The checked fields of a Submit.
pub struct Submit {
    /// The type.
    pub job_type: JobType,
    /// The idempotency key.
    pub request_id: Option<String>,
}

/// Checks a Submit's type, spec size and request id (the spec itself is checked against
/// its schema by the engine).
pub fn submit(request: &pb::SubmitRequest) -> Result<Submit, ApiError> {
    let job_type = match convert::job_type_from(request.r#type) {
        Some(job_type) => job_type,
        None if request.r#type == 0 => return Err(ApiError::invalid_field("type", "is required")),
        None => return Err(ApiError::invalid_field("type", "is not a known job type")),
    };
    if request.spec_json.trim().is_empty() {
        return Err(ApiError::invalid_field("spec_json", "is required"));
    }
    if request.spec_json.len() > MAX_SPEC_BYTES {
        return Err(ApiError::invalid_field(
            "spec_json",
            &format!("must be at most {MAX_SPEC_BYTES} bytes"),
        ));
    }
    let request_id = match request.request_id.as_str() {
        "" => None,
        key if key.len() <= 128 && key.bytes().all(|b| (0x21..=0x7e).contains(&b)) => {
            Some(key.to_owned())
        }
        _ => {
            return Err(ApiError::invalid_field(
                "request_id",
                "must be 1 to 128 printable ascii characters without spaces",
            ));
        }
    };
    Ok(Submit {
        job_type,
        request_id,
    })
}

/// A List request's filter, page size and the seq its page continues below.
pub struct List {
    /// The filter.
    pub filter: Filter,
    /// Page size.
    pub size: usize,
    /// Continue below this seq.
    pub before: Option<u64>,
}

fn fingerprint(filter: &Filter) -> u64 {
    let mut hasher = DefaultHasher::new();
    format!("{filter:?}").hash(&mut hasher);
    hasher.finish()
}

/// The next page's token.
pub fn page_token(filter: &Filter, before: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{before}:{:x}", fingerprint(filter)))
}

fn timestamp(field: &str, value: &prost_types::Timestamp) -> Result<SystemTime, ApiError> {
    SystemTime::try_from(*value)
        .map_err(|_| ApiError::invalid_field(field, "is not a valid timestamp"))
}

/// Checks a List request.
pub fn list(request: &pb::ListJobsRequest) -> Result<List, ApiError> {
    let mut filter = Filter::default();
    for value in &request.states {
        let state = convert::state_from(*value).ok_or_else(|| {
            ApiError::invalid_field("states", "holds an unknown or unspecified state")
        })?;
        filter.states.push(state);
    }
    for value in &request.types {
        let job_type = convert::job_type_from(*value).ok_or_else(|| {
            ApiError::invalid_field("types", "holds an unknown or unspecified type")
        })?;
        filter.types.push(job_type);
    }
    if !request.host.is_empty() {
        filter.host = Some(
            HostId::parse(&request.host)
                .map_err(|error| ApiError::invalid_field("host", &error.to_string()))?,
        );
    }
    if !request.vm_id.is_empty() {
        filter.vm_id = Some(
            VmId::parse(&request.vm_id.to_ascii_lowercase())
                .map_err(|error| ApiError::invalid_field("vm_id", &error.to_string()))?,
        );
    }
    if let Some(range) = &request.created {
        if let Some(start) = &range.start {
            filter.created_from = Some(timestamp("created.start", start)?);
        }
        if let Some(end) = &range.end {
            filter.created_before = Some(timestamp("created.end", end)?);
        }
    }
    if !request.requester.is_empty() {
        if request.requester.len() > 128 {
            return Err(ApiError::invalid_field(
                "requester",
                "must be at most 128 characters",
            ));
        }
        filter.requester = Some(request.requester.clone());
    }
    let page = request.page.clone().unwrap_or_default();
    let size = match page.page_size as usize {
        0 => DEFAULT_PAGE_SIZE,
        size if size > MAX_PAGE_SIZE => {
            return Err(ApiError::invalid_field(
                "page.page_size",
                "must be at most 1000",
            ));
        }
        size => size,
    };
    let before = match page.page_token.as_str() {
        "" => None,
        token => Some(decode_token(token, &filter)?),
    };
    Ok(List {
        filter,
        size,
        before,
    })
}

fn decode_token(token: &str, filter: &Filter) -> Result<u64, ApiError> {
    let invalid = || {
        ApiError::invalid_field(
            "page.page_token",
            "is not a token of this list (tokens are valid only with the same filters)",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (before, print) = text.split_once(':').ok_or_else(invalid)?;
    if print != format!("{:x}", fingerprint(filter)) {
        return Err(invalid());
    }
    before.parse().map_err(|_| invalid())
}

/// The page facts of a response.
pub fn page_response(
    filter: &Filter,
    next_before: Option<u64>,
    total: usize,
) -> common::PageResponse {
    common::PageResponse {
        next_page_token: next_before.map_or_else(String::new, |before| page_token(filter, before)),
        total_size: total as u64,
    }
}
