//! `/api/v1/notifications`: list (limit, unread only), mark one or all read, delete,
//! through the notifications service.

use aetherv_proto::notifications::v1 as pb;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::app::{AppState, RequestContext};
use crate::error::{Dependency, HttpError};
use crate::model::notifications::notification_json;
use crate::query::Params;

/// Checks a notification id from the path.
fn check_id(value: &str) -> Result<String, HttpError> {
    let valid = (1..=64).contains(&value.len())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(HttpError::bad_parameter(
            "id",
            "must be a notification id (ntf- followed by a uuid)",
        ))
    }
}

/// `GET /api/v1/notifications?limit=&unread=`.
pub async fn list(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let params = Params::parse(query.as_deref(), &["limit", "unread"])?;
    let request = pb::ListNotificationsRequest {
        limit: params.integer("limit", 1, 1000)?.unwrap_or(100),
        unread_only: params.boolean("unread")?.unwrap_or(false),
    };
    let upstream = state.upstreams.require(Dependency::Notifications)?;
    let cursor = state.hub.head("notifications").map(|c| c.to_string());
    let answer = upstream
        .call(
            upstream
                .notifications(&context.call)
                .list(upstream.request(request)),
            &[("limit", "limit"), ("unread_only", "unread")],
        )
        .await?;
    let notifications: Vec<Value> = answer.notifications.iter().map(notification_json).collect();
    Ok(Json(json!({
        "total_count": answer.total_count,
        "unread_count": answer.unread_count,
        "cursor": cursor,
        "notifications": notifications,
    }))
    .into_response())
}

/// `POST /api/v1/notifications/{id}/read`.
pub async fn mark_read(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let id = check_id(&super::path_param("id", path)?)?;
    Params::parse(query.as_deref(), &[])?;
    let upstream = state.upstreams.require(Dependency::Notifications)?;
    let answer = upstream
        .call(
            upstream
                .notifications(&context.call)
                .mark_read(upstream.request(pb::MarkReadRequest { id })),
            &[("id", "id")],
        )
        .await?;
    let notification = answer
        .notification
        .as_ref()
        .map_or(Value::Null, notification_json);
    Ok(
        Json(json!({"notification": notification, "unread_count": answer.unread_count}))
            .into_response(),
    )
}

/// `POST /api/v1/notifications/read-all`.
pub async fn mark_all_read(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    Params::parse(query.as_deref(), &[])?;
    let upstream = state.upstreams.require(Dependency::Notifications)?;
    let answer = upstream
        .call(
            upstream
                .notifications(&context.call)
                .mark_all_read(upstream.request(pb::MarkAllReadRequest {})),
            &[],
        )
        .await?;
    tracing::info!(
        request_id = context.request_id,
        marked = answer.marked,
        "notifications marked read"
    );
    Ok(Json(json!({"marked": answer.marked, "unread_count": answer.unread_count})).into_response())
}

/// `DELETE /api/v1/notifications/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let id = check_id(&super::path_param("id", path)?)?;
    Params::parse(query.as_deref(), &[])?;
    let upstream = state.upstreams.require(Dependency::Notifications)?;
    let request = pb::DeleteNotificationRequest {
        target: Some(pb::delete_notification_request::Target::Id(id)),
    };
    let answer = upstream
        .call(
            upstream
                .notifications(&context.call)
                .delete(upstream.request(request)),
            &[("id", "id")],
        )
        .await?;
    Ok(Json(json!({"unread_count": answer.unread_count})).into_response())
}
