//! Proto requests → domain inputs, refused at the edge with INVALID_ARGUMENT naming each
//! field.

use aetherv_proto::notifications::v1 as pb;
use aetherv_proto::notifications::v1::delete_notification_request::Target as PbTarget;
use aetherv_runtime::{ApiError, ErrorCode};

use super::convert;
use crate::domain::{
    Checked, DedupKey, DraftInput, NotificationId, RelatedInput, Target, Violation,
};

/// List's default page size.
pub const DEFAULT_LIMIT: usize = 100;
/// List's largest page size.
pub const MAX_LIMIT: u32 = 1000;

/// INVALID_ARGUMENT listing every violation.
pub fn invalid(what: &str, violations: &[Violation]) -> ApiError {
    let summary = violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ");
    violations.iter().fold(
        ApiError::new(ErrorCode::InvalidArgument, format!("{what}: {summary}")),
        |error, v| error.with_field_violation(&v.field, &v.description),
    )
}

/// A Publish, validated and scrubbed.
pub fn publish(request: pb::PublishRequest) -> Result<Checked, ApiError> {
    let input = DraftInput {
        level: convert::level_from(request.level),
        category: convert::category_from(request.category),
        title: request.title,
        message: request.message,
        related: request.related.map(|related| RelatedInput {
            kind: convert::kind_from(related.kind),
            id: related.id,
            name: related.name,
            host: related.host,
        }),
        metadata: request.metadata.into_iter().collect(),
        dedup_key: request.dedup_key,
    };
    crate::domain::check(input)
        .map_err(|violations| invalid("invalid publish request", &violations))
}

/// A notification id from `field`.
pub fn notification_id(field: &str, text: &str) -> Result<NotificationId, ApiError> {
    NotificationId::parse(text).map_err(|problem| ApiError::invalid_field(field, &problem))
}

/// List's page size.
pub fn limit(limit: u32) -> Result<usize, ApiError> {
    match limit {
        0 => Ok(DEFAULT_LIMIT),
        n if n > MAX_LIMIT => Err(ApiError::invalid_field(
            "limit",
            &format!("must be at most {MAX_LIMIT}, got {n}"),
        )),
        n => Ok(n as usize),
    }
}

/// Delete's target.
pub fn target(request: pb::DeleteNotificationRequest) -> Result<Target, ApiError> {
    match request.target {
        Some(PbTarget::Id(id)) => notification_id("id", &id).map(Target::Id),
        Some(PbTarget::DedupKey(key)) => DedupKey::parse(&key)
            .map(Target::Key)
            .map_err(|problem| ApiError::invalid_field("dedup_key", &problem)),
        None => Err(ApiError::invalid_field(
            "target",
            "required: set id or dedup_key",
        )),
    }
}
