//! `aetherv.notifications.v1.Notifications`: each handler checks its request, asks the
//! store, and converts the answer.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aetherv_proto::notifications::v1 as pb;
use aetherv_proto::notifications::v1::notifications_server::Notifications;
use aetherv_runtime::{ApiError, DrainSignal, ErrorCode};
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status};

use super::{convert, request, subscribe};
use crate::domain::store::Error as StoreError;
use crate::domain::{Store, Target};

/// The service's handles.
#[derive(Clone)]
pub struct NotificationsService {
    store: Arc<Store>,
    heartbeat: Duration,
    drain: DrainSignal,
    subscribers: Arc<Semaphore>,
    streams: TaskTracker,
}

impl NotificationsService {
    /// A service over `store`; at most `max_subscribers` Subscribe streams at once, each
    /// fed by a task tracked in `streams`.
    pub fn new(
        store: Arc<Store>,
        heartbeat: Duration,
        max_subscribers: usize,
        drain: DrainSignal,
        streams: TaskTracker,
    ) -> NotificationsService {
        NotificationsService {
            store,
            heartbeat,
            drain,
            subscribers: Arc::new(Semaphore::new(max_subscribers.max(1))),
            streams,
        }
    }
}

fn store_error(error: &StoreError) -> Status {
    let api = ApiError::from_error(error);
    let api = match error {
        StoreError::NotFound(id) => api.with_metadata("id", id.as_str()),
        StoreError::KeyNotFound(key) => api.with_metadata("dedup_key", key.as_str()),
        StoreError::CategoryMismatch { existing, .. } => api
            .with_field_violation(
                "category",
                &format!("the key belongs to category {existing}"),
            )
            .with_metadata("category", existing.as_str()),
    };
    api.into()
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::NotificationEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Notifications for NotificationsService {
    async fn publish(
        &self,
        request: Request<pb::PublishRequest>,
    ) -> Result<Response<pb::PublishResponse>, Status> {
        // The call's span carries the caller, so the warning below says who sent it.
        let checked = request::publish(request.into_inner())?;
        if !checked.scrubbed.is_empty() {
            tracing::warn!(
                fields = ?checked.scrubbed,
                "secret-looking values were masked in a published notification"
            );
        }
        let published = self
            .store
            .publish(checked.draft, SystemTime::now())
            .map_err(|error| store_error(&error))?;
        let stored = &published.notification;
        tracing::debug!(
            id = %stored.id,
            level = %stored.level,
            category = %stored.category,
            dedup_key = ?stored.dedup_key.as_ref().map(ToString::to_string),
            updated = published.updated,
            evicted = published.evicted,
            "notification published"
        );
        Ok(Response::new(pb::PublishResponse {
            notification: Some(convert::notification(stored)),
            updated: published.updated,
        }))
    }

    async fn list(
        &self,
        request: Request<pb::ListNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        let request = request.into_inner();
        let limit = request::limit(request.limit)?;
        let page = self.store.list(limit, request.unread_only);
        Ok(Response::new(pb::ListNotificationsResponse {
            notifications: page
                .notifications
                .iter()
                .map(|n| convert::notification(n))
                .collect(),
            total_count: page.total,
            unread_count: page.unread,
        }))
    }

    async fn mark_read(
        &self,
        request: Request<pb::MarkReadRequest>,
    ) -> Result<Response<pb::MarkReadResponse>, Status> {
        let id = request::notification_id("id", &request.get_ref().id)?;
        let (notification, unread) = self
            .store
            .mark_read(&id, SystemTime::now())
            .map_err(|error| store_error(&error))?;
        Ok(Response::new(pb::MarkReadResponse {
            notification: Some(convert::notification(&notification)),
            unread_count: unread,
        }))
    }

    async fn mark_all_read(
        &self,
        _request: Request<pb::MarkAllReadRequest>,
    ) -> Result<Response<pb::MarkAllReadResponse>, Status> {
        let (marked, unread) = self.store.mark_all_read(SystemTime::now());
        Ok(Response::new(pb::MarkAllReadResponse {
            marked,
            unread_count: unread,
        }))
    }

    async fn delete(
        &self,
        request: Request<pb::DeleteNotificationRequest>,
    ) -> Result<Response<pb::DeleteNotificationResponse>, Status> {
        let target: Target = request::target(request.into_inner())?;
        let unread = self
            .store
            .delete(&target, SystemTime::now())
            .map_err(|error| store_error(&error))?;
        Ok(Response::new(pb::DeleteNotificationResponse {
            unread_count: unread,
        }))
    }

    type SubscribeStream = EventStream;

    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<EventStream>, Status> {
        if self.drain.is_draining() {
            return Err(
                ApiError::new(ErrorCode::Unavailable, "the service is shutting down").into(),
            );
        }
        let permit = self.subscribers.clone().try_acquire_owned().map_err(|_| {
            Status::from(ApiError::new(
                ErrorCode::ResourceExhausted,
                "too many subscribe streams are open (notifications.max_subscribers)",
            ))
        })?;
        let subscription = self.store.subscribe(request.get_ref().from_event_id);
        let (sender, receiver) = mpsc::channel(subscribe::STREAM_BUFFER);
        self.streams.spawn(subscribe::feed(
            self.store.clone(),
            subscription,
            sender,
            self.heartbeat,
            self.drain.clone(),
            permit,
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}
