//! Refreshes as diffs: unchanged VMs make no event, changes make exactly one, removed
//! hosts take their VMs with them; failed hosts keep their VMs, marked stale, and
//! recover; a result overtaken by a newer refresh is dropped; clusters follow their
//! members; the change log replays or asks for a resync.

mod support;

use std::sync::Arc;
use std::time::Duration;

use aetherv_hyperv::{HostId, VmState as AgentState};
use aetherv_inventory::domain::changes::{Change, ChangeBatch};
use aetherv_inventory::domain::fleet::{Applied, Attempt, FleetSettings};
use aetherv_inventory::domain::history::ResyncReason;
use aetherv_inventory::domain::model::{HostStatus, VmState};
use aetherv_inventory::domain::store::{Beginning, RefreshApplied, Store, StoreSettings};
use support::agent_data::{HostData, VmData, vm_id};
use time::OffsetDateTime;

const START: u64 = 5_000;

fn store_with(history: usize) -> Store {
    Store::new(
        StoreSettings {
            fleet: FleetSettings {
                slow_threshold: Duration::from_secs(2),
                ..FleetSettings::default()
            },
            history,
            watch_buffer: 64,
        },
        START,
    )
}

fn host(name: &str) -> HostId {
    match HostId::parse(name) {
        Ok(id) => id,
        Err(error) => panic!("host id {name}: {error}"),
    }
}

fn hosts(names: &[&str]) -> Vec<HostId> {
    names.iter().map(|name| host(name)).collect()
}

fn at(seconds: i64) -> Attempt {
    Attempt {
        at: OffsetDateTime::UNIX_EPOCH
            + time::Duration::days(20_000)
            + time::Duration::seconds(seconds),
        duration: Duration::from_millis(100),
    }
}

/// The same host `seconds` later: running VMs' uptimes grew by that much.
fn aged(data: &HostData, seconds: u64) -> HostData {
    let mut data = data.clone();
    for vm in &mut data.0.vms {
        if vm.uptime_seconds > 0 {
            vm.uptime_seconds += seconds;
        }
    }
    data
}

fn refresh(store: &Store, name: &str, data: &HostData, attempt: Attempt) -> RefreshApplied {
    let Some(ticket) = store.begin_refresh(&host(name)) else {
        panic!("{name} is not configured")
    };
    store.apply(&ticket, Ok(&data.0), attempt)
}

fn fail(store: &Store, name: &str, reason: &str, attempt: Attempt) -> RefreshApplied {
    let Some(ticket) = store.begin_refresh(&host(name)) else {
        panic!("{name} is not configured")
    };
    store.apply(&ticket, Err(reason), attempt)
}

fn batch_of(applied: &RefreshApplied) -> Option<ChangeBatch> {
    match &applied.applied {
        Applied::Done { batch, .. } => batch.clone(),
        other => panic!("not applied: {other:?}"),
    }
}

fn vm_events(batch: &ChangeBatch) -> Vec<String> {
    batch
        .changes
        .iter()
        .filter_map(|change| match change {
            Change::VmUpserted(vm) => Some(format!("upsert {}", vm.data.name)),
            Change::VmDeleted { id, .. } => Some(format!("delete {id}")),
            _ => None,
        })
        .collect()
}

#[test]
fn an_unchanged_refresh_makes_no_vm_event_and_a_change_makes_exactly_one() {
    let store = store_with(10_000);
    store.set_configured_hosts(&hosts(&["hv01"]));
    let data = HostData::new("hv01").vms(1, 25);
    let first = refresh(&store, "hv01", &data, at(0));
    let Some(batch) = batch_of(&first) else {
        panic!("first refresh changes")
    };
    assert_eq!(vm_events(&batch).len(), 25);

    // 30 s later: uptimes grew by 30 s (and were read a second apart from the
    // collection), nothing else changed.
    let later = aged(&data, 31);
    let second = refresh(&store, "hv01", &later, at(30));
    let batch = batch_of(&second);
    let Some(batch) = batch else {
        panic!("the host's last refresh changed")
    };
    assert!(vm_events(&batch).is_empty(), "{:?}", vm_events(&batch));
    assert!(
        batch
            .changes
            .iter()
            .all(|c| matches!(c, Change::HostUpserted(_))),
        "only the host record (its refresh times) changed"
    );

    // One VM turned off: one event, the host's capacity follows.
    let off = aged(&later, 30).change_vm(vm_id(1, 3), |vm| {
        vm.state = AgentState::Off;
        vm.uptime_seconds = 0;
        vm.memory_assigned_bytes = 0;
    });
    let third = refresh(&store, "hv01", &off, at(60));
    let Some(batch) = batch_of(&third) else {
        panic!("a change")
    };
    assert_eq!(vm_events(&batch), ["upsert vm-0001-003"]);
    let Applied::Done { counts, host, .. } = &third.applied else {
        panic!("done")
    };
    assert_eq!((counts.added, counts.changed, counts.removed), (0, 1, 0));
    assert_eq!(host.capacity.memory_assigned_bytes, 24 * (4 << 30));
    let vm = store.read(|fleet| fleet.vms().by_id(&vm_id(1, 3)).cloned());
    let Some(vm) = vm else { panic!("vm") };
    assert_eq!(vm.data.state, VmState::Off);
    assert_eq!(vm.revision, batch.revision);

    // A reset VM restarts its uptime: that is a change.
    let reset = aged(&off, 30).change_vm(vm_id(1, 4), |vm| vm.uptime_seconds = 5);
    let fourth = refresh(&store, "hv01", &reset, at(90));
    let Some(batch) = batch_of(&fourth) else {
        panic!("a change")
    };
    assert_eq!(vm_events(&batch), ["upsert vm-0001-004"]);

    // A VM removed and one added.
    let moved = aged(&reset, 30)
        .remove_vm(vm_id(1, 5))
        .vm(VmData::new(1, 99).with(|vm| vm.uptime_seconds = 10));
    let fifth = refresh(&store, "hv01", &moved, at(120));
    let Some(batch) = batch_of(&fifth) else {
        panic!("a change")
    };
    let mut events = vm_events(&batch);
    events.sort();
    assert_eq!(
        events,
        [
            format!("delete {}", vm_id(1, 5)),
            "upsert vm-0001-099".to_string()
        ]
    );
    assert_eq!(store.read(|fleet| fleet.vms().len()), 25);
}

#[test]
fn a_failed_host_keeps_its_vms_marked_stale_and_recovers() {
    let store = store_with(10_000);
    store.set_configured_hosts(&hosts(&["hv01", "hv02"]));
    let data = HostData::new("hv01").vms(1, 3);
    refresh(&store, "hv01", &data, at(0));
    refresh(&store, "hv02", &HostData::new("hv02").vms(2, 2), at(0));

    let failed = fail(&store, "hv01", "winrm: connection timed out", at(30));
    let Some(batch) = batch_of(&failed) else {
        panic!("a change")
    };
    assert_eq!(vm_events(&batch).len(), 3, "each vm is marked stale once");
    let host1 = store.read(|fleet| fleet.host(&host("hv01")).cloned());
    let Some(host1) = host1 else { panic!("host") };
    assert_eq!(host1.status, HostStatus::Unreachable);
    assert_eq!(&*host1.status_reason, "winrm: connection timed out");
    assert_eq!(
        host1.last_seen,
        Some(at(0).at),
        "last seen is the last success"
    );
    assert_eq!(host1.last_refresh, Some(at(30).at));
    assert!(host1.stale);
    assert_eq!(host1.vm_count, 3);
    let (stale, fresh) = store.read(|fleet| {
        let stale = fleet.vms().iter().filter(|(_, vm)| vm.stale).count();
        (stale, fleet.vms().len() - stale)
    });
    assert_eq!((stale, fresh), (3, 2), "the other host's vms stay fresh");

    // Failing again changes nothing about the VMs.
    let again = fail(&store, "hv01", "winrm: connection timed out", at(60));
    let Some(batch) = batch_of(&again) else {
        panic!("host times changed")
    };
    assert!(vm_events(&batch).is_empty());

    // It answers again: every VM fresh, one event each.
    let back = refresh(&store, "hv01", &data, at(90));
    let Some(batch) = batch_of(&back) else {
        panic!("a change")
    };
    assert_eq!(vm_events(&batch).len(), 3);
    let host1 = store.read(|fleet| fleet.host(&host("hv01")).cloned());
    let Some(host1) = host1 else { panic!("host") };
    assert_eq!(host1.status, HostStatus::Reachable);
    assert_eq!(&*host1.status_reason, "");
    assert!(!host1.stale);
    assert_eq!(
        store.read(|fleet| fleet.vms().iter().filter(|(_, vm)| vm.stale).count()),
        0
    );

    // A host never reached that fails has nothing stale.
    store.set_configured_hosts(&hosts(&["hv01", "hv02", "hv03"]));
    fail(&store, "hv03", "authentication failed", at(120));
    let host3 = store.read(|fleet| fleet.host(&host("hv03")).cloned());
    let Some(host3) = host3 else { panic!("host") };
    assert_eq!(
        (host3.status, host3.stale, host3.last_seen),
        (HostStatus::Unreachable, false, None)
    );
}

#[test]
fn a_result_overtaken_by_a_newer_refresh_is_dropped() {
    let store = store_with(10_000);
    store.set_configured_hosts(&hosts(&["hv01"]));
    let id = host("hv01");
    let (Some(slow), Some(fast)) = (store.begin_refresh(&id), store.begin_refresh(&id)) else {
        panic!("configured")
    };
    let newer = HostData::new("hv01")
        .vms(1, 2)
        .change_vm(vm_id(1, 1), |vm| vm.name = "renamed".into());
    let applied = store.apply(&fast, Ok(&newer.0), at(10));
    assert!(matches!(applied.applied, Applied::Done { .. }));
    let revision = store.revision();
    // The slow one collected older data and finishes later.
    let older = HostData::new("hv01").vms(1, 2);
    let dropped = store.apply(&slow, Ok(&older.0), at(12));
    assert!(
        matches!(dropped.applied, Applied::Superseded { .. }),
        "{:?}",
        dropped.applied
    );
    assert_eq!(store.revision(), revision);
    let name = store.read(|fleet| {
        fleet
            .vms()
            .by_id(&vm_id(1, 1))
            .map(|vm| vm.data.name.to_string())
    });
    assert_eq!(name.as_deref(), Some("renamed"));
    // A failure that was overtaken is dropped too.
    let (Some(slow), Some(fast)) = (store.begin_refresh(&id), store.begin_refresh(&id)) else {
        panic!("configured")
    };
    store.apply(&fast, Ok(&newer.0), at(20));
    let dropped = store.apply(&slow, Err("timed out"), at(40));
    assert!(matches!(dropped.applied, Applied::Superseded { .. }));
    let status = store.read(|fleet| fleet.host(&id).map(|h| h.status));
    assert_eq!(status, Some(HostStatus::Reachable));
}

#[test]
fn slow_refreshes_mark_the_host_slow() {
    let store = store_with(10_000);
    store.set_configured_hosts(&hosts(&["hv01"]));
    let slow = Attempt {
        duration: Duration::from_secs(3),
        ..at(0)
    };
    let applied = refresh(&store, "hv01", &HostData::new("hv01"), slow);
    let Applied::Done { host, .. } = applied.applied else {
        panic!("done")
    };
    assert!(host.slow);
    let applied = refresh(&store, "hv01", &HostData::new("hv01"), at(30));
    let Applied::Done { host, .. } = applied.applied else {
        panic!("done")
    };
    assert!(!host.slow);
}

#[test]
fn clusters_follow_their_members_and_removed_hosts_take_their_vms() {
    let store = store_with(10_000);
    store.set_configured_hosts(&hosts(&["hv01", "hv02", "hv03"]));
    refresh(
        &store,
        "hv01",
        &HostData::new("hv01").cluster("Prod").vms(1, 2),
        at(0),
    );
    refresh(
        &store,
        "hv02",
        &HostData::new("hv02").cluster("PROD").vms(2, 3),
        at(0),
    );
    refresh(&store, "hv03", &HostData::new("hv03").vms(3, 1), at(0));
    let clusters = store.read(|fleet| fleet.clusters().cloned().collect::<Vec<_>>());
    assert_eq!(clusters.len(), 1);
    let prod = &clusters[0];
    assert_eq!(prod.name.as_str(), "prod");
    assert_eq!(
        prod.hosts.iter().map(|h| h.as_str()).collect::<Vec<_>>(),
        ["hv01", "hv02"]
    );
    assert_eq!((prod.reachable_hosts, prod.vm_count), (2, 5));
    assert_eq!(prod.capacity.cpu_cores, 128);
    assert_eq!(prod.capacity.memory_assigned_bytes, 5 * (4 << 30));

    // A member fails: the cluster's reachable count follows.
    let failed = fail(&store, "hv02", "unreachable", at(30));
    let Some(batch) = batch_of(&failed) else {
        panic!("a change")
    };
    assert!(
        batch
            .changes
            .iter()
            .any(|c| matches!(c, Change::ClusterUpserted(c) if c.reachable_hosts == 1))
    );

    // hv02 leaves the configuration, then hv01 leaves the cluster: it disappears.
    let Some(batch) = store.set_configured_hosts(&hosts(&["hv01", "hv03"])) else {
        panic!("a change")
    };
    let deleted: Vec<_> = batch
        .changes
        .iter()
        .filter(|c| matches!(c, Change::VmDeleted { .. }))
        .collect();
    assert_eq!(deleted.len(), 3);
    assert!(
        batch
            .changes
            .iter()
            .any(|c| matches!(c, Change::HostDeleted(h) if h.as_str() == "hv02"))
    );
    assert_eq!(store.read(|fleet| fleet.vms().len()), 3);
    let applied = refresh(&store, "hv01", &HostData::new("hv01").vms(1, 2), at(60));
    let Some(batch) = batch_of(&applied) else {
        panic!("a change")
    };
    assert!(
        batch
            .changes
            .iter()
            .any(|c| matches!(c, Change::ClusterDeleted(name) if name.as_str() == "prod"))
    );
    assert_eq!(vm_events(&batch).len(), 2, "the vms' cluster changed");
    assert_eq!(store.read(|fleet| fleet.clusters().count()), 0);
}

#[test]
fn a_vm_that_migrated_belongs_to_the_host_that_saw_it_last() {
    let store = store_with(10_000);
    store.set_configured_hosts(&hosts(&["hv01", "hv02"]));
    let vm = VmData::new(1, 1);
    refresh(&store, "hv01", &HostData::new("hv01").vm(vm.clone()), at(0));
    refresh(
        &store,
        "hv02",
        &HostData::new("hv02").vm(vm.clone()),
        at(10),
    );
    let owner = store.read(|fleet| fleet.vms().by_id(&vm.0.id).map(|vm| vm.host.to_string()));
    assert_eq!(owner.as_deref(), Some("hv02"));
    let counts = store.read(|fleet| {
        (
            fleet.host_slots(&host("hv01")).len(),
            fleet.host_slots(&host("hv02")).len(),
        )
    });
    assert_eq!(counts, (0, 1));
    // hv01's data from before the migration does not take it back.
    let Some(old_ticket) = store.begin_refresh(&host("hv01")) else {
        panic!("configured")
    };
    let stale_view = HostData::new("hv01").vm(vm.clone());
    store.apply(
        &old_ticket,
        Ok(&stale_view.0),
        Attempt {
            at: at(5).at,
            duration: Duration::from_millis(100),
        },
    );
    let owner = store.read(|fleet| fleet.vms().by_id(&vm.0.id).map(|vm| vm.host.to_string()));
    assert_eq!(owner.as_deref(), Some("hv02"));
}

#[test]
fn watchers_replay_from_the_log_or_resync_with_the_reason() {
    let store = store_with(60);
    store.set_configured_hosts(&hosts(&["hv01"]));
    let first = store.revision();
    refresh(&store, "hv01", &HostData::new("hv01").vms(1, 10), at(0));
    let after_load = store.revision();

    let from_zero = store.subscribe(0);
    let Beginning::Resync {
        reason, snapshot, ..
    } = &from_zero.beginning
    else {
        panic!("from 0 is a resync")
    };
    assert_eq!(*reason, ResyncReason::Initial);
    assert_eq!(
        (snapshot.hosts.len(), snapshot.vms.len(), snapshot.revision),
        (1, 10, after_load)
    );

    let from_first = store.subscribe(first);
    let Beginning::Replay(batches) = &from_first.beginning else {
        panic!("in the log")
    };
    assert_eq!(
        batches.iter().map(|b| b.revision).collect::<Vec<_>>(),
        [after_load]
    );

    let current = store.subscribe(after_load);
    assert!(matches!(&current.beginning, Beginning::Replay(b) if b.is_empty()));

    let ahead = store.subscribe(after_load + 1);
    assert!(matches!(
        &ahead.beginning,
        Beginning::Resync {
            reason: ResyncReason::UnknownRevision,
            ..
        }
    ));

    // Live batches reach the subscription.
    let mut live = store.subscribe(after_load).live;
    let data = aged(&HostData::new("hv01").vms(1, 10), 30)
        .change_vm(vm_id(1, 1), |vm| vm.notes = "x".into());
    refresh(&store, "hv01", &data, at(30));
    let Ok(batch) = live.try_recv() else {
        panic!("live batch")
    };
    assert_eq!(batch.revision, store.revision());
    assert_eq!(vm_events(&batch), ["upsert vm-0001-001"]);

    // 60 changes of history: a few more refreshes push the load out of the log.
    for step in 0..30 {
        let data = aged(&HostData::new("hv01").vms(1, 10), 60 + step as u64)
            .change_vm(vm_id(1, 2), |vm| vm.notes = format!("step {step}"));
        refresh(&store, "hv01", &data, at(60 + step));
    }
    let old = store.subscribe(first);
    let Beginning::Resync {
        reason,
        oldest_revision,
        ..
    } = &old.beginning
    else {
        panic!("too old")
    };
    assert_eq!(*reason, ResyncReason::TooOld);
    let resumable = store.subscribe(*oldest_revision);
    let Beginning::Replay(batches) = &resumable.beginning else {
        panic!("the oldest revision is resumable")
    };
    assert_eq!(batches.last().map(|b| b.revision), Some(store.revision()));
    let replayed: usize = batches.iter().map(|b| b.changes.len()).sum();
    assert!(replayed <= 60, "{replayed}");
    let _: Vec<Arc<ChangeBatch>> = batches.clone();
}

#[test]
fn the_summary_counts_hosts_vms_and_capacity() {
    use aetherv_inventory::domain::summary::summarize;
    let store = store_with(10_000);
    store.set_configured_hosts(&hosts(&["hv01", "hv02", "hv03"]));
    let off = HostData::new("hv01")
        .cluster("Prod")
        .vms(1, 3)
        .change_vm(vm_id(1, 2), |vm| {
            vm.state = AgentState::Off;
            vm.uptime_seconds = 0;
            vm.memory_assigned_bytes = 0;
        });
    refresh(&store, "hv01", &off, at(0));
    refresh(&store, "hv02", &HostData::new("hv02").vms(2, 2), at(0));
    fail(&store, "hv02", "gone", at(30));
    let summary = store.read(summarize);
    assert_eq!(summary.hosts_total, 3);
    assert_eq!(
        summary.hosts_by_status,
        [
            (HostStatus::Unknown, 1),
            (HostStatus::Reachable, 1),
            (HostStatus::Unreachable, 1)
        ]
    );
    assert_eq!(summary.vms_total, 5);
    assert_eq!(
        summary.vms_by_state,
        [(VmState::Running, 4), (VmState::Off, 1)]
    );
    assert_eq!(summary.stale_vms, 2);
    assert_eq!(summary.standalone_hosts, 2);
    assert_eq!(summary.clusters.len(), 1);
    assert_eq!(
        summary.capacity.cpu_cores, 128,
        "two hosts reported 64 each"
    );
    assert_eq!(summary.capacity.memory_assigned_bytes, 4 * (4 << 30));
    let configured: u32 = off.0.vms.iter().map(|vm| vm.cpu_count).sum();
    let host1 = summary.hosts.iter().find(|h| h.id.as_str() == "hv01");
    assert_eq!(host1.map(|h| h.capacity.vcpus_configured), Some(configured));
}
