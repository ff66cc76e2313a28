//! Domain → proto conversions (and the enum mappings both ways).

use std::time::SystemTime;

use aetherv_proto::common::v1 as common;
use aetherv_proto::notifications::v1 as pb;
use aetherv_proto::notifications::v1::notification_event::Event as Kind;

use crate::domain::{
    Category, Change, DeleteReason, EntityKind, Event, Level, Notification, Related, ResyncReason,
};

/// A protobuf timestamp.
pub fn timestamp(time: SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(time)
}

/// The level of a proto enum number; `None` for unspecified or unknown.
pub fn level_from(value: i32) -> Option<Level> {
    match pb::Level::try_from(value).ok()? {
        pb::Level::Unspecified => None,
        pb::Level::Info => Some(Level::Info),
        pb::Level::Success => Some(Level::Success),
        pb::Level::Warning => Some(Level::Warning),
        pb::Level::Error => Some(Level::Error),
    }
}

/// The category of a proto enum number; `None` for unspecified or unknown.
pub fn category_from(value: i32) -> Option<Category> {
    match pb::Category::try_from(value).ok()? {
        pb::Category::Unspecified => None,
        pb::Category::System => Some(Category::System),
        pb::Category::Host => Some(Category::Host),
        pb::Category::Vm => Some(Category::Vm),
        pb::Category::Job => Some(Category::Job),
        pb::Category::Deployment => Some(Category::Deployment),
    }
}

/// The entity kind of a proto enum number; `None` for unspecified or unknown.
pub fn kind_from(value: i32) -> Option<EntityKind> {
    match common::EntityKind::try_from(value).ok()? {
        common::EntityKind::Unspecified => None,
        common::EntityKind::System => Some(EntityKind::System),
        common::EntityKind::Cluster => Some(EntityKind::Cluster),
        common::EntityKind::Host => Some(EntityKind::Host),
        common::EntityKind::Vm => Some(EntityKind::Vm),
        common::EntityKind::Disk => Some(EntityKind::Disk),
        common::EntityKind::Nic => Some(EntityKind::Nic),
        common::EntityKind::Job => Some(EntityKind::Job),
        common::EntityKind::Deployment => Some(EntityKind::Deployment),
    }
}

fn level(level: Level) -> pb::Level {
    match level {
        Level::Info => pb::Level::Info,
        Level::Success => pb::Level::Success,
        Level::Warning => pb::Level::Warning,
        Level::Error => pb::Level::Error,
    }
}

fn category(category: Category) -> pb::Category {
    match category {
        Category::System => pb::Category::System,
        Category::Host => pb::Category::Host,
        Category::Vm => pb::Category::Vm,
        Category::Job => pb::Category::Job,
        Category::Deployment => pb::Category::Deployment,
    }
}

fn kind(kind: EntityKind) -> common::EntityKind {
    match kind {
        EntityKind::System => common::EntityKind::System,
        EntityKind::Cluster => common::EntityKind::Cluster,
        EntityKind::Host => common::EntityKind::Host,
        EntityKind::Vm => common::EntityKind::Vm,
        EntityKind::Disk => common::EntityKind::Disk,
        EntityKind::Nic => common::EntityKind::Nic,
        EntityKind::Job => common::EntityKind::Job,
        EntityKind::Deployment => common::EntityKind::Deployment,
    }
}

fn related(related: &Related) -> common::EntityRef {
    common::EntityRef {
        kind: kind(related.kind) as i32,
        id: related.id.clone(),
        name: related.name.clone(),
        host: related.host.clone(),
    }
}

/// A notification.
pub fn notification(notification: &Notification) -> pb::Notification {
    pb::Notification {
        id: notification.id.to_string(),
        level: level(notification.level) as i32,
        category: category(notification.category) as i32,
        title: notification.title.clone(),
        message: notification.message.clone(),
        related: notification.related.as_ref().map(related),
        metadata: notification
            .metadata
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
        dedup_key: notification
            .dedup_key
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        read: notification.read,
        created_at: Some(timestamp(notification.created_at)),
        updated_at: Some(timestamp(notification.updated_at)),
        occurrences: notification.occurrences,
    }
}

/// The proto resync reason.
pub fn resync_reason(reason: ResyncReason) -> pb::ResyncReason {
    match reason {
        ResyncReason::Initial => pb::ResyncReason::Initial,
        ResyncReason::TooOld => pb::ResyncReason::TooOld,
        ResyncReason::UnknownEventId => pb::ResyncReason::UnknownEventId,
        ResyncReason::FellBehind => pb::ResyncReason::FellBehind,
    }
}

/// A change event.
pub fn event(event: &Event) -> pb::NotificationEvent {
    let kind = match &event.change {
        Change::Created(created) => Kind::Created(notification(created)),
        Change::Updated(updated) => Kind::Updated(notification(updated)),
        Change::Deleted {
            id,
            dedup_key,
            reason,
        } => Kind::Deleted(pb::Deleted {
            id: id.to_string(),
            dedup_key: dedup_key
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            reason: match reason {
                DeleteReason::Requested => pb::DeleteReason::Requested,
                DeleteReason::Retention => pb::DeleteReason::Retention,
            } as i32,
        }),
        Change::AllRead { marked } => Kind::AllRead(pb::AllRead { marked: *marked }),
    };
    pb::NotificationEvent {
        event_id: event.id,
        time: Some(timestamp(event.time)),
        unread_count: event.unread_count,
        event: Some(kind),
    }
}

/// A stream event that is not a change (event id 0).
pub fn marker(kind: Kind, unread_count: u32) -> pb::NotificationEvent {
    pb::NotificationEvent {
        event_id: 0,
        time: Some(timestamp(SystemTime::now())),
        unread_count,
        event: Some(kind),
    }
}
