//! Request checks at the edge: each proto request becomes a domain value, or an
//! INVALID_ARGUMENT naming the field.

use aetherv_hyperv::{HostId, VmId};
use aetherv_proto::common::v1::SortDirection;
use aetherv_proto::inventory::v1 as pb;
use aetherv_runtime::ApiError;

use crate::domain::model::{HostStatus, VmState};
use crate::domain::order::SortField;
use crate::domain::query::{
    ClusterFilter, DEFAULT_PAGE_SIZE, MAX_NAME_FILTER_CHARS, MAX_PAGE_SIZE, TokenError, VmFilter,
    VmQuery, decode_token, fold_name,
};

/// A required host id.
pub fn host_id(field: &str, text: &str) -> Result<HostId, ApiError> {
    if text.is_empty() {
        return Err(ApiError::invalid_field(field, "is required"));
    }
    HostId::parse(text).map_err(|error| ApiError::invalid_field(field, &error.to_string()))
}

/// A required VM id; upper-case and braced GUIDs are accepted and normalized.
pub fn vm_id(field: &str, text: &str) -> Result<VmId, ApiError> {
    if text.is_empty() {
        return Err(ApiError::invalid_field(field, "is required"));
    }
    let trimmed = text.trim().trim_start_matches('{').trim_end_matches('}');
    VmId::parse(&trimmed.to_ascii_lowercase())
        .map_err(|error| ApiError::invalid_field(field, &error.to_string()))
}

/// A cluster filter: empty for any, "-" for standalone, else a cluster name.
pub fn cluster_filter(field: &str, text: &str) -> Result<ClusterFilter, ApiError> {
    match text {
        "" => Ok(ClusterFilter::Any),
        "-" => Ok(ClusterFilter::Standalone),
        name if name.len() > 253 || name.chars().any(char::is_control) => Err(
            ApiError::invalid_field(field, "must be a cluster name of at most 253 characters"),
        ),
        name => Ok(ClusterFilter::Named(name.to_lowercase())),
    }
}

/// Host statuses of a filter.
pub fn host_statuses(field: &str, values: &[i32]) -> Result<Vec<HostStatus>, ApiError> {
    values
        .iter()
        .enumerate()
        .map(|(index, value)| match pb::HostStatus::try_from(*value) {
            Ok(pb::HostStatus::Unknown) => Ok(HostStatus::Unknown),
            Ok(pb::HostStatus::Reachable) => Ok(HostStatus::Reachable),
            Ok(pb::HostStatus::Unreachable) => Ok(HostStatus::Unreachable),
            _ => Err(ApiError::invalid_field(
                &format!("{field}[{index}]"),
                "must be UNKNOWN, REACHABLE or UNREACHABLE",
            )),
        })
        .collect()
}

fn vm_states(values: &[i32]) -> Result<Vec<VmState>, ApiError> {
    values
        .iter()
        .enumerate()
        .map(|(index, value)| {
            let state = pb::VmState::try_from(*value)
                .ok()
                .filter(|state| *state != pb::VmState::Unspecified)
                .and_then(|state| {
                    VmState::ALL
                        .into_iter()
                        .find(|s| super::convert::vm_state(*s) == state)
                });
            state.ok_or_else(|| {
                ApiError::invalid_field(
                    &format!("states[{index}]"),
                    "must be a VmState other than UNSPECIFIED",
                )
            })
        })
        .collect()
}

fn sort_field(value: i32) -> Result<SortField, ApiError> {
    use pb::VmSortField as F;
    let field = match F::try_from(value) {
        Ok(F::Unspecified | F::Name) => SortField::Name,
        Ok(F::Host) => SortField::Host,
        Ok(F::Cluster) => SortField::Cluster,
        Ok(F::State) => SortField::State,
        Ok(F::CpuCount) => SortField::CpuCount,
        Ok(F::MemoryAssigned) => SortField::MemoryAssigned,
        Ok(F::MemoryStartup) => SortField::MemoryStartup,
        Ok(F::CreationTime) => SortField::CreationTime,
        Ok(F::Uptime) => SortField::Uptime,
        Ok(F::PrimaryIp) => SortField::PrimaryIp,
        Err(_) => {
            return Err(ApiError::invalid_field(
                "sort_field",
                "is not a VmSortField",
            ));
        }
    };
    Ok(field)
}

/// A ListVms request as a query.
pub fn vm_query(request: &pb::ListVmsRequest) -> Result<VmQuery, ApiError> {
    let host = match request.host.as_str() {
        "" => None,
        text => Some(host_id("host", text)?),
    };
    let cluster = cluster_filter("cluster", &request.cluster)?;
    let states = vm_states(&request.states)?;
    if request.name_contains.chars().count() > MAX_NAME_FILTER_CHARS {
        return Err(ApiError::invalid_field(
            "name_contains",
            &format!("must be at most {MAX_NAME_FILTER_CHARS} characters"),
        ));
    }
    let sort = sort_field(request.sort_field)?;
    let descending = match SortDirection::try_from(request.sort_direction) {
        Ok(SortDirection::Unspecified | SortDirection::Ascending) => false,
        Ok(SortDirection::Descending) => true,
        Err(_) => {
            return Err(ApiError::invalid_field(
                "sort_direction",
                "is not a SortDirection",
            ));
        }
    };
    let page = request.page.clone().unwrap_or_default();
    let page_size = match page.page_size as usize {
        0 => DEFAULT_PAGE_SIZE,
        size if size > MAX_PAGE_SIZE => {
            return Err(ApiError::invalid_field(
                "page.page_size",
                &format!("must be at most {MAX_PAGE_SIZE}"),
            ));
        }
        size => size,
    };
    let filter = VmFilter {
        host,
        cluster,
        states,
        name_contains: fold_name(&request.name_contains),
    };
    let after = match page.page_token.as_str() {
        "" => None,
        token => Some(
            decode_token(token, &filter, sort, descending).map_err(|error| {
                let description = match error {
                    TokenError::Malformed => "is not a token this service issued",
                    TokenError::OtherQuery => {
                        "was issued for different filters or sort; start again without a token"
                    }
                };
                ApiError::invalid_field("page.page_token", description)
            })?,
        ),
    };
    Ok(VmQuery {
        filter,
        sort,
        descending,
        page_size,
        after,
    })
}
