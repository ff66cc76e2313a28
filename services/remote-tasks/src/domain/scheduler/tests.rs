//! Unit tests of the scheduler.
use std::time::Duration;

use super::*;
use crate::domain::limits::CategoryLimit;

fn host(name: &str) -> HostId {
    HostId::parse(name).unwrap_or_else(|e| panic!("{e}"))
}

fn limits(global: u32, per_host: u32) -> Limits {
    let category = CategoryLimit {
        in_flight: 100,
        per_host_in_flight: 100,
        queue_capacity: 100,
        default_timeout: Duration::from_secs(60),
        max_timeout: Duration::from_secs(600),
    };
    let mut categories = PerCategory([category; 5]);
    categories.get_mut(Category::Io).per_host_in_flight = 1;
    Limits {
        global_in_flight: global,
        per_host_in_flight: per_host,
        per_host_queue_capacity: 100,
        categories,
    }
}

fn submit(scheduler: &Arc<Scheduler>, name: &str, category: Category) -> Ticket {
    scheduler
        .submit(&host(name), category)
        .unwrap_or_else(|e| panic!("refused: {e}"))
}

impl Ticket {
    fn try_granted(&mut self) -> Option<SlotGuard> {
        self.granted.try_recv().ok()
    }
}

#[test]
fn the_global_limit_holds_and_a_release_starts_the_next() {
    let scheduler = Scheduler::new(limits(2, 4), []);
    let mut a = submit(&scheduler, "a", Category::Inventory);
    let mut b = submit(&scheduler, "b", Category::Inventory);
    let mut c = submit(&scheduler, "c", Category::Inventory);
    let guard_a = a.try_granted();
    let guard_b = b.try_granted();
    assert!(guard_a.is_some() && guard_b.is_some());
    assert!(c.try_granted().is_none());
    assert_eq!(scheduler.load().running, 2);
    assert_eq!(
        scheduler.load().categories.get(Category::Inventory).waiting,
        1
    );
    drop(guard_a);
    assert!(c.try_granted().is_some());
}

#[test]
fn a_busy_host_does_not_hold_back_other_hosts() {
    let scheduler = Scheduler::new(limits(10, 2), []);
    let mut busy: Vec<Ticket> = (0..4)
        .map(|_| submit(&scheduler, "busy", Category::Inventory))
        .collect();
    let granted: Vec<Option<SlotGuard>> = busy.iter_mut().map(Ticket::try_granted).collect();
    assert_eq!(granted.iter().filter(|g| g.is_some()).count(), 2);
    let mut other = submit(&scheduler, "other", Category::Inventory);
    let other_guard = other.try_granted();
    assert!(other_guard.is_some(), "queued behind a busy host");
    let load = scheduler.load();
    assert_eq!(load.hosts[&host("busy")].running, 2);
    assert_eq!(load.hosts[&host("busy")].waiting, 2);
    assert_eq!(load.hosts[&host("other")].running, 1);
}

#[test]
fn io_runs_one_at_a_time_per_host_in_arrival_order_without_blocking_other_work() {
    let scheduler = Scheduler::new(limits(10, 4), []);
    let mut first = submit(&scheduler, "h", Category::Io);
    let mut second = submit(&scheduler, "h", Category::Io);
    let mut third = submit(&scheduler, "h", Category::Io);
    let mut inventory = submit(&scheduler, "h", Category::Inventory);
    let mut elsewhere = submit(&scheduler, "g", Category::Io);
    let guard = first.try_granted();
    assert!(guard.is_some());
    assert!(second.try_granted().is_none());
    assert!(third.try_granted().is_none());
    let inventory_guard = inventory.try_granted();
    assert!(inventory_guard.is_some(), "io must not block inventory");
    let elsewhere_guard = elsewhere.try_granted();
    assert!(elsewhere_guard.is_some(), "io is per host");
    drop(guard);
    let guard = second.try_granted();
    assert!(guard.is_some(), "the earlier io task goes first");
    assert!(third.try_granted().is_none());
    drop(guard);
    assert!(third.try_granted().is_some());
}

#[test]
fn full_queues_refuse_at_once() {
    let mut small = limits(1, 1);
    small.categories.get_mut(Category::Control).queue_capacity = 2;
    small.per_host_queue_capacity = 3;
    let scheduler = Scheduler::new(small, []);
    let _running = submit(&scheduler, "a", Category::Control);
    let _w1 = submit(&scheduler, "a", Category::Control);
    let _w2 = submit(&scheduler, "b", Category::Control);
    assert_eq!(
        scheduler.submit(&host("c"), Category::Control).err(),
        Some(Rejection::CategoryQueueFull {
            category: Category::Control,
            capacity: 2
        })
    );
    let _w3 = submit(&scheduler, "a", Category::Inventory);
    let _w4 = submit(&scheduler, "a", Category::Io);
    assert_eq!(
        scheduler.submit(&host("a"), Category::Deploy).err(),
        Some(Rejection::HostQueueFull {
            host: host("a"),
            capacity: 3
        })
    );
    assert!(scheduler.submit(&host("b"), Category::Deploy).is_ok());
}

#[test]
fn withdrawing_frees_the_place_and_a_late_grant_is_released() {
    let scheduler = Scheduler::new(limits(1, 1), []);
    let mut running = submit(&scheduler, "a", Category::Control);
    let guard = running.try_granted();
    assert!(guard.is_some());
    let waiting = submit(&scheduler, "b", Category::Control);
    assert_eq!(waiting.position, 0);
    assert!(waiting.withdraw());
    assert_eq!(
        scheduler.load().categories.get(Category::Control).waiting,
        0
    );
    // A ticket granted but never collected gives its slots back when dropped.
    let next = submit(&scheduler, "c", Category::Control);
    drop(guard);
    assert_eq!(scheduler.load().running, 1);
    assert!(!next.withdraw());
    assert_eq!(scheduler.load().running, 0);
    assert_eq!(scheduler.load().hosts[&host("c")].running, 0);
}

#[test]
fn a_task_held_back_by_its_host_and_its_category_is_not_starved() {
    let mut small = limits(10, 1);
    small.categories.get_mut(Category::Control).in_flight = 1;
    let scheduler = Scheduler::new(small, []);
    let mut control_elsewhere = submit(&scheduler, "b", Category::Control);
    let control_guard = control_elsewhere.try_granted();
    let mut inventory_here = submit(&scheduler, "a", Category::Inventory);
    let inventory_guard = inventory_here.try_granted();
    assert!(control_guard.is_some() && inventory_guard.is_some());
    // Host a is full and control is full: this task has seen both.
    let mut victim = submit(&scheduler, "a", Category::Control);
    assert!(victim.try_granted().is_none());
    // Newcomers would take host a's slot when it frees; the urgent task keeps it.
    let mut newcomer = submit(&scheduler, "a", Category::Inventory);
    drop(inventory_guard);
    assert!(newcomer.try_granted().is_none(), "overtook an urgent task");
    assert!(victim.try_granted().is_none(), "control is still full");
    drop(control_guard);
    let victim_guard = victim.try_granted();
    assert!(victim_guard.is_some());
    assert!(newcomer.try_granted().is_none(), "host a is full again");
    drop(victim_guard);
    assert!(newcomer.try_granted().is_some());
}

#[test]
fn a_task_held_back_only_by_its_host_lets_its_category_run_elsewhere() {
    let mut small = limits(10, 1);
    small.categories.get_mut(Category::Control).in_flight = 2;
    let scheduler = Scheduler::new(small, []);
    let mut a = submit(&scheduler, "a", Category::Inventory);
    let _a_guard = a.try_granted();
    let mut blocked = submit(&scheduler, "a", Category::Control);
    let mut b = submit(&scheduler, "b", Category::Control);
    let mut c = submit(&scheduler, "c", Category::Control);
    assert!(blocked.try_granted().is_none());
    let b_guard = b.try_granted();
    let c_guard = c.try_granted();
    assert!(b_guard.is_some() && c_guard.is_some());
    let mut d = submit(&scheduler, "d", Category::Control);
    assert!(d.try_granted().is_none(), "control is full (2)");
}

#[test]
fn watches_take_no_global_or_host_slot_and_run_one_per_host() {
    let mut limits = limits(1, 1);
    limits
        .categories
        .get_mut(Category::Watch)
        .per_host_in_flight = 1;
    let scheduler = Scheduler::new(limits, []);
    // The only global slot, on host a.
    let mut control = submit(&scheduler, "a", Category::Control);
    let control_guard = control.try_granted();
    assert!(control_guard.is_some());
    // Watches of a and b start anyway: neither the global nor a's host slot is theirs.
    let mut watch_a = submit(&scheduler, "a", Category::Watch);
    let mut watch_b = submit(&scheduler, "b", Category::Watch);
    let guard_a = watch_a.try_granted();
    let guard_b = watch_b.try_granted();
    assert!(guard_a.is_some() && guard_b.is_some());
    let load = scheduler.load();
    assert_eq!(load.running, 1, "watches are not in the global count");
    assert_eq!(load.hosts[&host("a")].running, 1);
    assert_eq!(
        *load.hosts[&host("a")]
            .running_by_category
            .get(Category::Watch),
        1
    );
    // A second watch of a waits for the first (one per host).
    let mut second = submit(&scheduler, "a", Category::Watch);
    assert!(second.try_granted().is_none());
    // Work of other categories is not held back by running watches.
    drop(control_guard);
    let mut inventory = submit(&scheduler, "a", Category::Inventory);
    let inventory_guard = inventory.try_granted();
    assert!(
        inventory_guard.is_some(),
        "a watch held back inventory work"
    );
    drop(guard_a);
    assert!(second.try_granted().is_some());
    assert_eq!(scheduler.load().running, 1);
}

#[test]
fn a_waiting_watch_starts_while_the_global_limit_is_full() {
    let mut limits = limits(1, 4);
    limits
        .categories
        .get_mut(Category::Watch)
        .per_host_in_flight = 1;
    let scheduler = Scheduler::new(limits, []);
    let mut first = submit(&scheduler, "a", Category::Inventory);
    let first_guard = first.try_granted();
    assert!(first_guard.is_some());
    // Queued behind the full global limit: an inventory task, then a watch of a host
    // whose watch slot is taken, then another watch.
    let mut queued = submit(&scheduler, "b", Category::Inventory);
    let mut watch_c = submit(&scheduler, "c", Category::Watch);
    let c_guard = watch_c.try_granted();
    assert!(c_guard.is_some());
    let mut watch_c_again = submit(&scheduler, "c", Category::Watch);
    assert!(watch_c_again.try_granted().is_none());
    drop(c_guard);
    // Dispatch looked past the inventory task stuck on the global limit.
    assert!(watch_c_again.try_granted().is_some());
    assert!(queued.try_granted().is_none());
    drop(first_guard);
    assert!(queued.try_granted().is_some());
}
