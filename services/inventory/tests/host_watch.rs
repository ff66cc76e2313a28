//! Host watches end to end (simulated fleet → remote-tasks over real WinRM → inventory):
//! with the refresh schedule at one hour, an out-of-band change on a host reaches
//! inventory's Watch stream only because the host's `inventory.watch` reported it. With
//! watches off the same change does not arrive (the test proves the polling did not do
//! it). A host whose watch fails is not marked unreachable by it.

mod support;

use std::time::Duration;

use aetherv_hvsim::VmChange;
use aetherv_proto::inventory::v1 as pb;
use aetherv_proto::inventory::v1::watch_event::Event;
use support::suite::Suite;

const HOUR: Duration = Duration::from_secs(3600);

/// Watches inventory from `revision` until the VM `id` is upserted with `cpu_count`, or
/// `limit` passes (None).
async fn upsert_of(
    suite: &Suite,
    revision: u64,
    id: &str,
    cpu_count: u32,
    limit: Duration,
) -> Option<pb::Vm> {
    let mut stream = match suite
        .client
        .clone()
        .watch(pb::WatchRequest {
            from_revision: revision,
        })
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("Watch: {status}"),
    };
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let event = match tokio::time::timeout_at(deadline, stream.message()).await {
            Ok(Ok(Some(event))) => event,
            Ok(Ok(None)) => panic!("watch ended"),
            Ok(Err(status)) => panic!("watch failed: {status}"),
            Err(_) => return None,
        };
        if let Some(Event::VmUpserted(vm)) = event.event
            && vm.id == id
            && vm.cpu_count == cpu_count
        {
            return Some(vm);
        }
    }
}

async fn change_cpu(suite: &Suite, host: usize) -> (String, u32) {
    let sim_host = &suite.fleet.hosts()[host];
    let Some(target) = sim_host.vms().first().cloned() else {
        panic!("a vm")
    };
    // Wait until the host's watch is running, so the change is the watch's to see.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while sim_host.watchers() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no watch ran on {}",
            sim_host.name()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bump_cpu(sim_host, &target)
}

/// Out of band (the simulator's control side, not an agent operation): one more CPU.
fn bump_cpu(sim_host: &aetherv_hvsim::SimHost, target: &aetherv_hyperv::Vm) -> (String, u32) {
    let cpu_count = target.cpu_count + 1;
    let change = VmChange {
        cpu_count: Some(cpu_count),
        ..VmChange::default()
    };
    if let Err(error) = sim_host.change_vm(target.id, &change) {
        panic!("out-of-band change: {error}");
    }
    (target.id.to_string(), cpu_count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_band_change_reaches_the_watch_stream_through_the_host_watch() {
    let suite = Suite::start(2, 3, 0, |config| {
        config.refresh_interval = HOUR;
        config.watch.length = Duration::from_secs(30);
    })
    .await;
    let summary = suite.converged().await;
    let (id, cpu_count) = change_cpu(&suite, 1).await;
    // The schedule is an hour away: only the watch can bring it within the wait.
    let vm = upsert_of(
        &suite,
        summary.revision,
        &id,
        cpu_count,
        Duration::from_secs(20),
    )
    .await
    .unwrap_or_else(|| panic!("the change did not reach inventory within 20 s"));
    assert_eq!(vm.cpu_count, cpu_count);
    // Bursts coalesce: a second change right after the first arrives too.
    let (id, cpu_count) = change_cpu(&suite, 0).await;
    let summary = suite.summary().await;
    let again = upsert_of(
        &suite,
        summary.revision.saturating_sub(1),
        &id,
        cpu_count,
        Duration::from_secs(20),
    )
    .await;
    assert!(again.is_some(), "the second change did not arrive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_watches_the_change_waits_for_the_schedule() {
    let suite = Suite::start(1, 2, 0, |config| {
        config.refresh_interval = HOUR;
        config.watch.enabled = false;
    })
    .await;
    let summary = suite.converged().await;
    let sim_host = &suite.fleet.hosts()[0];
    let Some(target) = sim_host.vms().first().cloned() else {
        panic!("a vm")
    };
    let (_, cpu_count) = bump_cpu(sim_host, &target);
    assert_eq!(sim_host.watchers(), 0);
    let seen = upsert_of(
        &suite,
        summary.revision,
        &target.id.to_string(),
        cpu_count,
        Duration::from_secs(5),
    )
    .await;
    assert!(
        seen.is_none(),
        "without a watch nothing but the schedule refreshes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_watch_does_not_make_its_host_unreachable() {
    let suite = Suite::start(1, 2, 0, |config| {
        config.refresh_interval = HOUR;
        config.watch.length = Duration::from_secs(30);
        config.watch.backoff_min = Duration::from_millis(200);
        config.watch.backoff_max = Duration::from_millis(400);
    })
    .await;
    suite.converged().await;
    let sim_host = &suite.fleet.hosts()[0];
    // Every watch now fails on the host (an agent without the operation answers so).
    let failures = aetherv_hvsim::FailNext {
        operation: Some(aetherv_hyperv::Operation::InventoryWatch),
        code: aetherv_hyperv::AgentErrorCode::UnsupportedOperation,
        count: 100,
        message: "inventory.watch is not supported by this agent".to_string(),
    };
    if let Err(error) = sim_host.fail_next(failures) {
        panic!("{error}");
    }
    // Let several watches fail (the backoff is short), then look at the host.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let failed = sim_host
            .operations()
            .iter()
            .filter(|r| {
                r.operation.as_deref() == Some("inventory.watch")
                    && r.error_code.as_deref() == Some("UNSUPPORTED_OPERATION")
            })
            .count();
        if failed >= 3 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "watches were not retried"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let hosts = suite.hosts().await;
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].status, pb::HostStatus::Reachable as i32);
}
