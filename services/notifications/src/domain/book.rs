//! The retained notifications and their indexes: by id, by de-duplication key, and two
//! ordered indexes (read, unread) keyed by each notification's `sequence` (the event id
//! of its last publication). Listing walks them newest first; count retention takes the
//! oldest read notification first and an unread one only when none is read.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use super::model::{DedupKey, Notification, NotificationId};

/// The notifications.
#[derive(Debug, Default)]
pub struct Book {
    by_id: HashMap<NotificationId, Arc<Notification>>,
    by_key: HashMap<DedupKey, NotificationId>,
    read: BTreeMap<u64, NotificationId>,
    unread: BTreeMap<u64, NotificationId>,
}

impl Book {
    /// Retained notifications.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when none is retained.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Unread notifications.
    pub fn unread_count(&self) -> usize {
        self.unread.len()
    }

    /// One notification.
    pub fn get(&self, id: &NotificationId) -> Option<&Arc<Notification>> {
        self.by_id.get(id)
    }

    /// The notification holding `key`.
    pub fn by_key(&self, key: &DedupKey) -> Option<&Arc<Notification>> {
        self.by_key.get(key).and_then(|id| self.by_id.get(id))
    }

    fn index(&mut self, notification: &Notification) {
        let order = if notification.read {
            &mut self.read
        } else {
            &mut self.unread
        };
        order.insert(notification.sequence, notification.id.clone());
    }

    fn unindex(&mut self, notification: &Notification) {
        self.read.remove(&notification.sequence);
        self.unread.remove(&notification.sequence);
    }

    /// Adds or replaces (same id) a notification.
    pub fn put(&mut self, notification: Arc<Notification>) {
        if let Some(previous) = self.by_id.remove(&notification.id) {
            self.unindex(&previous);
            if let Some(key) = &previous.dedup_key {
                self.by_key.remove(key);
            }
        }
        self.index(&notification);
        if let Some(key) = &notification.dedup_key {
            self.by_key.insert(key.clone(), notification.id.clone());
        }
        self.by_id.insert(notification.id.clone(), notification);
    }

    /// Removes a notification.
    pub fn remove(&mut self, id: &NotificationId) -> Option<Arc<Notification>> {
        let removed = self.by_id.remove(id)?;
        self.unindex(&removed);
        if let Some(key) = &removed.dedup_key {
            self.by_key.remove(key);
        }
        Some(removed)
    }

    /// The one count retention removes next: the oldest read, else the oldest unread.
    pub fn eviction_candidate(&self) -> Option<NotificationId> {
        self.read
            .first_key_value()
            .or_else(|| self.unread.first_key_value())
            .map(|(_, id)| id.clone())
    }

    /// Notifications last published before `cutoff`.
    pub fn published_before(&self, cutoff: SystemTime) -> Vec<NotificationId> {
        self.by_id
            .values()
            .filter(|notification| notification.updated_at < cutoff)
            .map(|notification| notification.id.clone())
            .collect()
    }

    /// Ids of the unread notifications.
    pub fn unread_ids(&self) -> Vec<NotificationId> {
        self.unread.values().cloned().collect()
    }

    /// Newest first (by last publication); only unread ones when `unread_only`.
    pub fn newest_first(&self, unread_only: bool) -> impl Iterator<Item = &Arc<Notification>> {
        let mut unread = self.unread.iter().rev().peekable();
        let mut read = self.read.iter().rev().peekable();
        std::iter::from_fn(move || {
            let take_unread = match (unread.peek(), read.peek()) {
                (Some((u, _)), Some((r, _))) => unread_only || u > r,
                (Some(_), None) => true,
                (None, _) => false,
            };
            let next = if take_unread {
                unread.next()
            } else if unread_only {
                None
            } else {
                read.next()
            };
            next.map(|(_, id)| id)
        })
        .filter_map(|id| self.by_id.get(id))
    }

    /// Oldest first (by last publication), for snapshots.
    pub fn oldest_first(&self) -> Vec<Arc<Notification>> {
        let mut all: Vec<Arc<Notification>> = self.by_id.values().cloned().collect();
        all.sort_by_key(|notification| notification.sequence);
        all
    }
}
