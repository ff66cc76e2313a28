//! The JSON of notifications (REST and the `notifications` topic), converted from
//! `aetherv.notifications.v1`: levels and categories as lower-case names, the related
//! entity as `{kind, id}` or `null`, the de-duplication key `null` when there is none.

use aetherv_proto::notifications::v1 as pb;
use serde_json::{Value, json};

use super::jobs::entity_kind_name;
use super::rfc3339;

fn level_name(value: i32) -> &'static str {
    match pb::Level::try_from(value) {
        Ok(pb::Level::Success) => "success",
        Ok(pb::Level::Warning) => "warning",
        Ok(pb::Level::Error) => "error",
        _ => "info",
    }
}

fn category_name(value: i32) -> &'static str {
    match pb::Category::try_from(value) {
        Ok(pb::Category::Host) => "host",
        Ok(pb::Category::Vm) => "vm",
        Ok(pb::Category::Job) => "job",
        Ok(pb::Category::Deployment) => "deployment",
        _ => "system",
    }
}

/// One notification.
pub fn notification_json(notification: &pb::Notification) -> Value {
    let related = notification
        .related
        .as_ref()
        .filter(|related| !related.id.is_empty())
        .map_or(Value::Null, |related| {
            json!({
                "kind": entity_kind_name(related.kind),
                "id": related.id,
                "name": (!related.name.is_empty()).then_some(&related.name),
                "host": (!related.host.is_empty()).then_some(&related.host),
            })
        });
    json!({
        "id": notification.id,
        "level": level_name(notification.level),
        "category": category_name(notification.category),
        "title": notification.title,
        "message": notification.message,
        "related": related,
        "metadata": notification.metadata,
        "dedup_key": (!notification.dedup_key.is_empty()).then_some(&notification.dedup_key),
        "read": notification.read,
        "created_at": rfc3339(notification.created_at.as_ref()),
        "updated_at": rfc3339(notification.updated_at.as_ref()),
        "occurrences": notification.occurrences,
    })
}

/// A notification event as `(kind, data)` for a `/ws` frame; `None` for markers and
/// snapshots.
pub fn event_json(event: &pb::NotificationEvent) -> Option<(&'static str, Value)> {
    use pb::notification_event::Event;
    let unread = event.unread_count;
    Some(match event.event.as_ref()? {
        Event::Created(notification) => (
            "notification_created",
            json!({"notification": notification_json(notification), "unread_count": unread}),
        ),
        Event::Updated(notification) => (
            "notification_updated",
            json!({"notification": notification_json(notification), "unread_count": unread}),
        ),
        Event::Deleted(deleted) => (
            "notification_deleted",
            json!({
                "id": deleted.id,
                "dedup_key": (!deleted.dedup_key.is_empty()).then_some(&deleted.dedup_key),
                "reason": match pb::DeleteReason::try_from(deleted.reason) {
                    Ok(pb::DeleteReason::Retention) => "retention",
                    _ => "requested",
                },
                "unread_count": unread,
            }),
        ),
        Event::AllRead(all) => (
            "notifications_all_read",
            json!({"marked": all.marked, "unread_count": unread}),
        ),
        Event::Snapshot(_) | Event::Resync(_) | Event::Synced(_) | Event::Heartbeat(_) => {
            return None;
        }
    })
}

#[cfg(test)]
mod tests {
    use aetherv_proto::common::v1 as common;

    use super::*;

    #[test]
    fn notifications_have_names_and_nulls() {
        let notification = pb::Notification {
            id: "ntf-1".to_string(),
            level: pb::Level::Error as i32,
            category: pb::Category::Job as i32,
            title: "Job failed".to_string(),
            related: Some(common::EntityRef {
                kind: common::EntityKind::Job as i32,
                id: "job-1".to_string(),
                ..common::EntityRef::default()
            }),
            occurrences: 1,
            ..pb::Notification::default()
        };
        let value = notification_json(&notification);
        assert_eq!(value["level"], "error");
        assert_eq!(value["category"], "job");
        assert_eq!(
            value["related"],
            json!({"kind": "job", "id": "job-1", "name": null, "host": null})
        );
        assert_eq!(value["dedup_key"], Value::Null);
        assert_eq!(value["created_at"], Value::Null);
        let event = pb::NotificationEvent {
            event_id: 9,
            unread_count: 4,
            event: Some(pb::notification_event::Event::Created(notification)),
            ..pb::NotificationEvent::default()
        };
        let Some((kind, data)) = event_json(&event) else {
            panic!("a creation is an event");
        };
        assert_eq!(kind, "notification_created");
        assert_eq!(data["unread_count"], 4);
        assert_eq!(data["notification"]["id"], "ntf-1");
    }
}
