//! The notifications domain without I/O, part 2: retention by count and age, event ids,
//! replay, resync and the live feed.

#[path = "support/domain.rs"]
mod domain_support;

use std::time::Duration;

use aetherv_notifications::domain::{
    Beginning, Change, DeleteReason, Level, ResyncReason, StoreSettings,
};
use domain_support::*;
use tokio::sync::broadcast::error::TryRecvError;

#[test]
fn count_retention_removes_the_oldest_read_first() {
    let store = store_with(StoreSettings {
        max_count: 3,
        ..StoreSettings::for_testing()
    });
    let mut ids = Vec::new();
    for (i, title) in ["a", "b", "c"].into_iter().enumerate() {
        if let Ok(p) = store.publish(plain(title), at(i as u64)) {
            ids.push(p.notification.id.clone());
        }
    }
    assert!(store.mark_read(&ids[1], at(5)).is_ok());
    let before = store.position().0;
    let published = store.publish(plain("d"), at(6));
    assert!(published.is_ok_and(|p| p.evicted == 1));
    // "b" was read, so it went before the older unread "a".
    assert_eq!(titles(&store, false), ["d", "c", "a"]);
    let events = replay(&store, before);
    assert_eq!(events.len(), 2);
    assert!(matches!(&events[0].change, Change::Created(n) if n.title == "d"));
    assert_eq!(
        events[1].change,
        Change::Deleted {
            id: ids[1].clone(),
            dedup_key: None,
            reason: DeleteReason::Retention
        }
    );
    // With nothing read, the oldest unread goes.
    assert!(store.publish(plain("e"), at(7)).is_ok());
    assert_eq!(titles(&store, false), ["e", "d", "c"]);
    assert_eq!(store.list(10, false).total, 3);
}

#[test]
fn age_retention_counts_from_the_last_publication() {
    let store = store_with(StoreSettings {
        max_age: Duration::from_secs(3600),
        ..StoreSettings::for_testing()
    });
    assert!(store.publish(plain("old"), at(0)).is_ok());
    assert!(
        store
            .publish(keyed(Level::Warning, "kept", "", "k"), at(0))
            .is_ok()
    );
    assert!(store.publish(plain("young"), at(3000)).is_ok());
    // The keyed one is published again: its age starts over.
    assert!(
        store
            .publish(keyed(Level::Warning, "kept", "", "k"), at(3500))
            .is_ok()
    );
    assert_eq!(store.expire(at(3600)), 0);
    let before = store.position().0;
    assert_eq!(store.expire(at(3601)), 1);
    assert_eq!(titles(&store, false), ["kept", "young"]);
    let events = replay(&store, before);
    assert!(matches!(
        events.as_slice(),
        [event] if matches!(event.change, Change::Deleted { reason: DeleteReason::Retention, .. })
            && event.unread_count == 2
    ));
    assert_eq!(store.expire(at(6601)), 1);
    assert_eq!(titles(&store, false), ["kept"]);
    assert_eq!(store.expire(at(7101)), 1);
    assert_eq!(store.list(10, false).total, 0);
}

#[test]
fn event_ids_count_changes_from_the_base_and_carry_the_unread_count() {
    let store = store();
    let first = store.publish(plain("a"), at(0));
    let Ok(first) = first else {
        panic!("publish failed")
    };
    assert!(store.publish(plain("b"), at(1)).is_ok());
    assert!(store.mark_read(&first.notification.id, at(2)).is_ok());
    let events = replay(&store, BASE);
    let ids: Vec<u64> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids, [BASE + 1, BASE + 2, BASE + 3]);
    let unread: Vec<u32> = events.iter().map(|e| e.unread_count).collect();
    assert_eq!(unread, [1, 2, 1]);
    assert_eq!(first.notification.sequence, BASE + 1);
    assert!(matches!(&events[2].change, Change::Updated(n) if n.read && n.title == "a"));
}

#[test]
fn subscribers_replay_from_their_id_or_resync_for_the_reason() {
    let store = store_with(StoreSettings {
        event_history: 3,
        ..StoreSettings::for_testing()
    });
    let (reason, oldest, snapshot) = resync_reason(&store, 0);
    assert_eq!((reason, oldest), (ResyncReason::Initial, BASE));
    assert!(snapshot.is_empty());
    assert!(replay(&store, BASE).is_empty());

    for (i, title) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
        assert!(store.publish(plain(title), at(i as u64)).is_ok());
    }
    // The log holds the last three events (ids BASE+3..=BASE+5).
    let tail: Vec<u64> = replay(&store, BASE + 2).iter().map(|e| e.id).collect();
    assert_eq!(tail, [BASE + 3, BASE + 4, BASE + 5]);
    assert!(replay(&store, BASE + 5).is_empty());
    let (reason, oldest, snapshot) = resync_reason(&store, BASE + 1);
    assert_eq!((reason, oldest), (ResyncReason::TooOld, BASE + 2));
    assert_eq!(
        snapshot,
        ["a", "b", "c", "d", "e"],
        "snapshot is oldest first"
    );
    // Ids this process never handed out: from the future, or before its base.
    assert_eq!(
        resync_reason(&store, BASE + 6).0,
        ResyncReason::UnknownEventId
    );
    assert_eq!(
        resync_reason(&store, BASE - 1).0,
        ResyncReason::UnknownEventId
    );
    assert_eq!(store.subscribe(BASE + 4).event_id, BASE + 5);
}

#[test]
fn live_feeds_follow_the_replay_and_a_lagging_one_is_told() {
    let store = store_with(StoreSettings {
        subscriber_buffer: 4,
        ..StoreSettings::for_testing()
    });
    assert!(store.publish(plain("a"), at(0)).is_ok());
    let mut subscription = store.subscribe(BASE);
    assert_eq!(subscription.event_id, BASE + 1);
    assert!(store.publish(plain("b"), at(1)).is_ok());
    match subscription.live.try_recv() {
        Ok(event) => assert!(
            event.id == BASE + 2 && matches!(&event.change, Change::Created(n) if n.title == "b")
        ),
        Err(error) => panic!("no live event: {error}"),
    }
    for i in 0..10 {
        assert!(store.publish(plain(&format!("n{i}")), at(2 + i)).is_ok());
    }
    assert!(matches!(
        subscription.live.try_recv(),
        Err(TryRecvError::Lagged(_))
    ));
    let again = store.resubscribe();
    assert!(matches!(
        again.beginning,
        Beginning::Resync { reason: ResyncReason::FellBehind, ref snapshot, .. } if snapshot.len() == 12
    ));
    assert_eq!((again.event_id, again.unread_count), (BASE + 12, 12));
}
