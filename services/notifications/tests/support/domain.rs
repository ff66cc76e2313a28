//! Builders and readers shared by the domain tests.

#![allow(dead_code)] // each test binary uses a different part

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aetherv_notifications::domain::{
    Beginning, Category, Draft, DraftInput, Event, Level, ResyncReason, Store, StoreSettings, check,
};

pub const BASE: u64 = 1_000;

pub fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
}

pub fn input(level: Level, title: &str) -> DraftInput {
    DraftInput {
        level: Some(level),
        category: Some(Category::Host),
        title: title.to_string(),
        ..DraftInput::default()
    }
}

pub fn accept(input: DraftInput) -> Draft {
    match check(input) {
        Ok(checked) => checked.draft,
        Err(violations) => panic!("valid draft refused: {violations:?}"),
    }
}

pub fn keyed(level: Level, title: &str, message: &str, key: &str) -> Draft {
    accept(DraftInput {
        message: message.to_string(),
        dedup_key: key.to_string(),
        ..input(level, title)
    })
}

pub fn plain(title: &str) -> Draft {
    accept(input(Level::Info, title))
}

pub fn store_with(settings: StoreSettings) -> Store {
    Store::new(settings, BASE)
}

pub fn store() -> Store {
    store_with(StoreSettings::for_testing())
}

pub fn titles(store: &Store, unread_only: bool) -> Vec<String> {
    store
        .list(100, unread_only)
        .notifications
        .iter()
        .map(|n| n.title.clone())
        .collect()
}

pub fn replay(store: &Store, from: u64) -> Vec<Arc<Event>> {
    match store.subscribe(from).beginning {
        Beginning::Replay(events) => events,
        other => panic!("expected a replay from {from}, got {other:?}"),
    }
}

pub fn resync_reason(store: &Store, from: u64) -> (ResyncReason, u64, Vec<String>) {
    match store.subscribe(from).beginning {
        Beginning::Resync {
            reason,
            oldest_event_id,
            snapshot,
        } => (
            reason,
            oldest_event_id,
            snapshot.iter().map(|n| n.title.clone()).collect(),
        ),
        other => panic!("expected a resync from {from}, got {other:?}"),
    }
}
