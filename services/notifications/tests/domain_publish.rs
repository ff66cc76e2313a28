//! The notifications domain without I/O, part 1: validation and scrubbing,
//! de-duplication and the unread rule, read state and counts, deletes.

#[path = "support/domain.rs"]
mod domain_support;

use aetherv_notifications::domain::store::Error;
use aetherv_notifications::domain::{
    Category, Change, DedupKey, DeleteReason, DraftInput, EntityKind, Level, RelatedInput, Target,
    check,
};
use aetherv_runtime::MASK;
use domain_support::*;

#[test]
fn validation_names_every_bad_field_and_accepts_the_limits() {
    let bad = DraftInput {
        level: None,
        category: None,
        title: " ".to_string(),
        message: "x".repeat(4001),
        related: Some(RelatedInput {
            kind: None,
            id: String::new(),
            ..RelatedInput::default()
        }),
        metadata: (0..33)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect(),
        dedup_key: "tab\tkey".to_string(),
    };
    let violations = match check(bad) {
        Ok(_) => panic!("invalid draft accepted"),
        Err(violations) => violations,
    };
    let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
    for field in [
        "level",
        "category",
        "title",
        "message",
        "related.kind",
        "related.id",
        "metadata",
        "dedup_key",
    ] {
        assert!(
            fields.contains(&field),
            "{field} not named in {violations:?}"
        );
    }

    let long_title = DraftInput {
        title: "t".repeat(201),
        ..input(Level::Info, "")
    };
    let violations = check(long_title).err().unwrap_or_default();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].field, "title");
    assert!(violations[0].description.contains("at most 200"));

    let bad_metadata = DraftInput {
        metadata: vec![
            ("has space".to_string(), "v".to_string()),
            ("ok".to_string(), "v".repeat(1025)),
        ],
        ..input(Level::Info, "t")
    };
    let violations = check(bad_metadata).err().unwrap_or_default();
    let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(fields, ["metadata", "metadata.ok"], "{violations:?}");

    let at_limits = DraftInput {
        title: "é".repeat(200),
        message: "line\n\tline".repeat(400),
        related: Some(RelatedInput {
            kind: Some(EntityKind::Host),
            id: "hv01".to_string(),
            ..RelatedInput::default()
        }),
        metadata: (0..32)
            .map(|i| (format!("key.{i}"), "v".repeat(1024)))
            .collect(),
        dedup_key: "k".repeat(256),
        ..input(Level::Warning, "")
    };
    assert!(check(at_limits).is_ok());
}

#[test]
fn obvious_secrets_are_masked_before_anything_is_stored() {
    let checked = match check(DraftInput {
        message: "deploy failed: password=Sup3rS3cret! was refused".to_string(),
        metadata: vec![
            ("guest_la_pw".to_string(), "Sup3rS3cret!".to_string()),
            ("job_id".to_string(), "job-1".to_string()),
        ],
        ..input(Level::Error, "Deploy failed")
    }) {
        Ok(checked) => checked,
        Err(violations) => panic!("refused: {violations:?}"),
    };
    assert_eq!(checked.scrubbed, ["message", "metadata.guest_la_pw"]);
    assert_eq!(
        checked.draft.message,
        format!("deploy failed: password={MASK} was refused")
    );
    assert_eq!(checked.draft.metadata["guest_la_pw"], MASK);
    assert_eq!(checked.draft.metadata["job_id"], "job-1");
    let store = store();
    let published = store.publish(checked.draft, at(0));
    let stored = published.map(|p| p.notification);
    assert!(
        stored.is_ok_and(|n| !format!("{n:?}").contains("Sup3rS3cret")),
        "the secret reached the store"
    );
}

#[test]
fn publishing_creates_unread_notifications_listed_newest_first() {
    let store = store();
    for (i, title) in ["first", "second", "third"].into_iter().enumerate() {
        let published = store.publish(plain(title), at(i as u64));
        assert!(published.is_ok_and(|p| !p.updated
            && p.notification.occurrences == 1
            && !p.notification.read
            && p.notification.created_at == p.notification.updated_at));
    }
    assert_eq!(titles(&store, false), ["third", "second", "first"]);
    let page = store.list(2, false);
    assert_eq!(page.notifications.len(), 2);
    assert_eq!((page.total, page.unread), (3, 3));
    assert_eq!(store.position(), (BASE + 3, 3));
}

#[test]
fn a_dedup_key_updates_in_place_and_only_news_makes_it_unread_again() {
    let store = store();
    let key = "host-unreachable:hv01";
    let first = store
        .publish(
            keyed(Level::Error, "Host hv01 unreachable", "timeout", key),
            at(0),
        )
        .map(|p| p.notification);
    let Ok(first) = first else {
        panic!("publish failed")
    };
    assert!(store.publish(plain("other"), at(1)).is_ok());
    assert!(store.mark_read(&first.id, at(2)).is_ok());

    // Same level and title, another reason: detail; it stays read but moves to the top.
    let detail = store.publish(
        keyed(
            Level::Error,
            "Host hv01 unreachable",
            "connection refused",
            key,
        ),
        at(3),
    );
    let Ok(detail) = detail else {
        panic!("publish failed")
    };
    assert!(detail.updated);
    let n = &detail.notification;
    assert_eq!(n.id, first.id);
    assert_eq!(n.occurrences, 2);
    assert!(n.read, "a detail change made it unread");
    assert_eq!(n.message, "connection refused");
    assert_eq!((n.created_at, n.updated_at), (at(0), at(3)));
    assert_eq!(titles(&store, false), ["Host hv01 unreachable", "other"]);
    assert_eq!(store.list(10, false).total, 2);

    // A new level is news.
    let recovered = store
        .publish(
            keyed(Level::Success, "Host hv01 reachable again", "", key),
            at(4),
        )
        .map(|p| p.notification);
    assert!(recovered.is_ok_and(|n| !n.read && n.occurrences == 3 && n.id == first.id));

    // At info level a new title is progress, not news; at warning level it is news.
    let job = "job:job-1";
    let queued = store.publish(keyed(Level::Info, "Create VM queued", "", job), at(5));
    let Ok(queued) = queued.map(|p| p.notification) else {
        panic!("publish failed")
    };
    assert!(store.mark_read(&queued.id, at(6)).is_ok());
    let running = store.publish(keyed(Level::Info, "Create VM running", "", job), at(7));
    assert!(running.is_ok_and(|p| p.notification.read));
    let slow = "inventory-slow-host:hv02";
    let warned = store.publish(keyed(Level::Warning, "Slow refresh", "12s", slow), at(8));
    let Ok(warned) = warned.map(|p| p.notification) else {
        panic!("publish failed")
    };
    assert!(store.mark_read(&warned.id, at(9)).is_ok());
    let retitled = store.publish(
        keyed(Level::Warning, "Very slow refresh", "40s", slow),
        at(10),
    );
    assert!(retitled.is_ok_and(|p| !p.notification.read));
}

#[test]
fn a_key_belongs_to_one_category_and_is_free_again_after_a_delete() {
    let store = store();
    let key = "agent-deployment";
    assert!(
        store
            .publish(keyed(Level::Info, "Deploying", "", key), at(0))
            .is_ok()
    );
    let system = accept(DraftInput {
        category: Some(Category::System),
        dedup_key: key.to_string(),
        ..input(Level::Info, "Deploying")
    });
    let refused = store.publish(system, at(1));
    assert!(
        matches!(
            refused,
            Err(Error::CategoryMismatch {
                existing: Category::Host,
                requested: Category::System,
                ..
            })
        ),
        "{refused:?}"
    );
    let Ok(dedup_key) = DedupKey::parse(key) else {
        panic!("valid key refused")
    };
    assert!(store.delete(&Target::Key(dedup_key.clone()), at(2)).is_ok());
    assert_eq!(
        store.delete(&Target::Key(dedup_key.clone()), at(3)),
        Err(Error::KeyNotFound(dedup_key))
    );
    let again = store.publish(keyed(Level::Info, "Deploying", "", key), at(4));
    assert!(again.is_ok_and(|p| !p.updated && p.notification.occurrences == 1));
}

#[test]
fn reading_changes_counts_but_not_order_and_is_idempotent() {
    let store = store();
    let ids: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .enumerate()
        .filter_map(|(i, t)| store.publish(plain(t), at(i as u64)).ok())
        .map(|p| p.notification.id.clone())
        .collect();
    let before = store.position().0;
    let read = store.mark_read(&ids[0], at(10));
    assert!(
        read.as_ref()
            .is_ok_and(|(n, unread)| n.read && *unread == 2)
    );
    assert_eq!(titles(&store, false), ["c", "b", "a"]);
    assert_eq!(titles(&store, true), ["c", "b"]);
    assert_eq!(store.position().0, before + 1);
    // Reading it again: same answer, no event.
    assert!(
        store
            .mark_read(&ids[0], at(11))
            .is_ok_and(|(_, unread)| unread == 2)
    );
    assert_eq!(store.position().0, before + 1);

    assert_eq!(store.mark_all_read(at(12)), (2, 0));
    let events = replay(&store, before + 1);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].change, Change::AllRead { marked: 2 });
    assert_eq!(events[0].unread_count, 0);
    assert_eq!(store.mark_all_read(at(13)), (0, 0));
    assert_eq!(store.position(), (before + 2, 0));
    assert!(titles(&store, true).is_empty());
}

#[test]
fn deletes_by_id_and_key_answer_not_found_for_unknown_ones() {
    let store = store();
    let Ok(published) = store.publish(keyed(Level::Error, "x", "", "key-1"), at(0)) else {
        panic!("publish failed")
    };
    let id = published.notification.id.clone();
    assert!(store.publish(plain("y"), at(1)).is_ok());
    assert_eq!(store.delete(&Target::Id(id.clone()), at(2)), Ok(1));
    assert_eq!(
        store.delete(&Target::Id(id.clone()), at(3)),
        Err(Error::NotFound(id.clone()))
    );
    assert_eq!(
        store.mark_read(&id, at(4)),
        Err(Error::NotFound(id.clone()))
    );
    let events = replay(&store, BASE + 2);
    assert!(matches!(
        &events[0].change,
        Change::Deleted { id: deleted, dedup_key: Some(key), reason: DeleteReason::Requested }
            if *deleted == id && key.as_str() == "key-1"
    ));
}
