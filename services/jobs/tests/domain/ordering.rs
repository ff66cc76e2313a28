//! Domain tests (no I/O) of running jobs over scripted ports: one mutating job per VM,
//! one heavy step per host, first come first served, no deadlock with many deployments;
//! cancel while pending, waiting and running; retry from the failed step; redaction;
//! history and output bounds; idempotent submits; refreshes after changes.

use std::collections::BTreeMap;

use crate::support::domain::{GIB, Harness, Run, host, settings, vm, vm_id};
use aetherv_hyperv::{Operation, VmState};
use aetherv_jobs::domain::events::{Live, ResyncReason};
use aetherv_jobs::domain::store::{Beginning, StoreSettings};
use aetherv_jobs::domain::{JobState, StepState, WaitingReason};
use aetherv_jobs::engine::Submission;
use aetherv_jobs::spec::JobType;
use aetherv_runtime::{ApiError, ErrorCode, MASK};
use serde_json::json;

fn spec_on(vm: u32) -> serde_json::Value {
    json!({ "host": "hv01", "vm_id": vm_id(vm).to_string() })
}

fn notes(vm: u32, text: &str) -> serde_json::Value {
    json!({ "host": "hv01", "vm_id": vm_id(vm).to_string(), "notes": text })
}

/// The runs of `operation`, in start order.
fn runs_of(runs: &[Run], operation: Operation) -> Vec<Run> {
    runs.iter()
        .filter(|r| r.operation == operation)
        .cloned()
        .collect()
}

/// No two runs in `runs` overlapped.
fn one_at_a_time(runs: &[Run]) {
    let mut spans: Vec<(u64, u64)> = runs
        .iter()
        .map(|r| (r.started, r.ended.unwrap_or(u64::MAX)))
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[0].1 < pair[1].0, "runs overlapped: {pair:?}");
    }
}

#[tokio::test]
async fn jobs_on_one_vm_run_one_after_the_other_in_arrival_order() {
    let h = Harness::new(1);
    h.fleet.add_vm(vm(1, &host("hv01"), VmState::Running));
    h.executor.hold(Operation::VmUpdate);
    h.executor.hold(Operation::VmPower);
    let a = h.submitted(JobType::UpdateVm, notes(1, "first")).await;
    h.until(&a, |j| {
        j.state == JobState::Running && j.steps[0].task_id.is_some()
    })
    .await;
    let b = h.submitted(JobType::StopVm, spec_on(1)).await;
    let c = h.submitted(JobType::StartVm, spec_on(1)).await;
    for job in [&b, &c] {
        let waiting = h.until(job, |j| j.state == JobState::Waiting).await;
        let Some(why) = waiting.waiting else {
            panic!("waiting without a reason")
        };
        assert_eq!(why.reason, WaitingReason::VmBusy);
        assert_eq!(why.blocking_job, Some(a.id.clone()));
        assert!(why.text.contains(a.id.as_str()), "{}", why.text);
    }
    // A finishes; B takes the VM and C now waits for B.
    h.executor.release(Operation::VmUpdate);
    h.until(&b, |j| {
        j.state == JobState::Running && j.steps[0].task_id.is_some()
    })
    .await;
    let c_now = h
        .until(&c, |j| {
            j.waiting.as_ref().and_then(|w| w.blocking_job.clone()) == Some(b.id.clone())
        })
        .await;
    assert_eq!(c_now.state, JobState::Waiting);
    h.executor.release(Operation::VmPower);
    for job in [&a, &b, &c] {
        assert_eq!(h.finished(job).await.state, JobState::Succeeded);
    }
    let runs = h.executor.runs();
    let order: Vec<&str> = runs.iter().map(|r| r.correlation_id.as_str()).collect();
    assert_eq!(order, [a.id.as_str(), b.id.as_str(), c.id.as_str()]);
    one_at_a_time(&runs);
}

#[tokio::test]
async fn heavy_steps_run_one_per_host_and_the_rest_in_parallel() {
    let h = Harness::new(2);
    h.fleet.add_vm(vm(1, &host("hv01"), VmState::Off));
    h.fleet.add_vm(vm(2, &host("hv01"), VmState::Off));
    h.fleet.add_vm(vm(3, &host("hv02"), VmState::Off));
    h.executor.hold(Operation::DiskCreate);
    let disk = |vm: u32, on: &str| json!({ "host": on, "vm_id": vm_id(vm).to_string(), "disk": { "size_bytes": GIB } });
    let a = h.submitted(JobType::CreateDisk, disk(1, "hv01")).await;
    h.until(&a, |j| j.steps[0].task_id.is_some()).await;
    let b = h.submitted(JobType::CreateDisk, disk(2, "hv01")).await;
    let waiting = h.until(&b, |j| j.state == JobState::Waiting).await;
    let Some(why) = waiting.waiting else {
        panic!("no reason")
    };
    assert_eq!(
        (why.reason, why.blocking_job),
        (WaitingReason::HostBusy, Some(a.id.clone()))
    );
    // Another host's heavy step and this host's light steps are not held back.
    let other = h.submitted(JobType::CreateDisk, disk(3, "hv02")).await;
    h.until(&other, |j| j.steps[0].task_id.is_some()).await;
    // A job on vm 2 waits for b, which holds vm 2 while it waits for the host.
    let behind = h
        .submitted(JobType::UpdateVm, notes(2, "after the disk"))
        .await;
    let behind_now = h.until(&behind, |j| j.state == JobState::Waiting).await;
    assert_eq!(
        behind_now.waiting.map(|w| (w.reason, w.blocking_job)),
        Some((WaitingReason::VmBusy, Some(b.id.clone())))
    );
    h.executor.release(Operation::DiskCreate);
    for job in [&a, &b, &other, &behind] {
        assert_eq!(h.finished(job).await.state, JobState::Succeeded);
    }
    let runs = h.executor.runs();
    let on_hv01: Vec<Run> = runs_of(&runs, Operation::DiskCreate)
        .into_iter()
        .filter(|r| r.host.as_str() == "hv01")
        .collect();
    one_at_a_time(&on_hv01);
}

#[tokio::test]
async fn a_light_job_on_another_vm_is_not_held_by_a_heavy_step() {
    let h = Harness::new(1);
    h.fleet.add_vm(vm(1, &host("hv01"), VmState::Off));
    h.fleet.add_vm(vm(2, &host("hv01"), VmState::Off));
    h.executor.hold(Operation::DiskCreate);
    let heavy = h
        .submitted(
            JobType::CreateDisk,
            json!({ "host": "hv01", "vm_id": vm_id(1).to_string(), "disk": { "size_bytes": GIB } }),
        )
        .await;
    h.until(&heavy, |j| j.steps[0].task_id.is_some()).await;
    let light = h.submitted(JobType::StartVm, spec_on(2)).await;
    assert_eq!(h.finished(&light).await.state, JobState::Succeeded);
    assert_eq!(
        h.job(&heavy).state,
        JobState::Running,
        "the heavy step is still held"
    );
    h.executor.release(Operation::DiskCreate);
    assert_eq!(h.finished(&heavy).await.state, JobState::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_deployments_at_once_all_finish_without_deadlock() {
    let h = Harness::new(3);
    let mut jobs = Vec::new();
    for i in 0..60 {
        let spec = json!({
            "host": format!("hv0{}", i % 3 + 1),
            "vm": { "name": format!("app-{i:02}"), "storage_class": "fast-ssd", "image": "ubuntu-24.04" },
            "disks": [{ "size_bytes": GIB }, { "image": "win2022" }],
            "nics": [{ "network": "Production" }],
        });
        jobs.push(h.submitted(JobType::ManagedDeployment, spec).await);
    }
    for job in &jobs {
        let done = h.finished(job).await;
        assert_eq!(done.state, JobState::Succeeded, "{:#?}", done.error);
        assert_eq!(done.created_resources.len(), 5);
    }
    let runs = h.executor.runs();
    assert_eq!(runs_of(&runs, Operation::VmCreate).len(), 60);
    assert_eq!(runs_of(&runs, Operation::DiskCreate).len(), 180);
    let mut per_host: BTreeMap<String, Vec<Run>> = BTreeMap::new();
    for run in runs_of(&runs, Operation::DiskCreate) {
        per_host.entry(run.host.to_string()).or_default().push(run);
    }
    for runs in per_host.values() {
        one_at_a_time(runs);
    }
    assert!(h.store.active() == 0);
}

#[tokio::test]
async fn cancel_while_waiting_and_while_running() {
    let h = Harness::new(1);
    h.fleet.add_vm(vm(1, &host("hv01"), VmState::Off));
    h.executor.hold(Operation::VmUpdate);
    let running = h.submitted(JobType::UpdateVm, notes(1, "slow")).await;
    h.until(&running, |j| j.steps[0].task_id.is_some()).await;
    let waiting = h.submitted(JobType::StartVm, spec_on(1)).await;
    h.until(&waiting, |j| j.state == JobState::Waiting).await;

    let cancelled = match h.engine.cancel(&waiting.id).await {
        Ok(job) => job,
        Err(error) => panic!("{error:?}"),
    };
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert!(cancelled.cancel_requested);
    assert_eq!(cancelled.steps[0].state, StepState::Skipped);
    assert!(
        runs_of(&h.executor.runs(), Operation::VmPower).is_empty(),
        "it never ran"
    );
    assert_eq!(
        h.job(&running).state,
        JobState::Running,
        "the other job is untouched"
    );

    // A running step is stopped on the host.
    let stopped = match h.engine.cancel(&running.id).await {
        Ok(job) => job,
        Err(error) => panic!("{error:?}"),
    };
    assert_eq!(stopped.state, JobState::Cancelled);
    assert_eq!(stopped.steps[0].state, StepState::Cancelled);
    assert_eq!(
        stopped.steps[0].error.as_ref().map(|e| e.code),
        Some(ErrorCode::Cancelled)
    );
    let runs = runs_of(&h.executor.runs(), Operation::VmUpdate);
    assert_eq!(runs[0].outcome, "cancelled");
    // A finished job cannot be cancelled.
    let Err(error) = h.engine.cancel(&running.id).await else {
        panic!("a finished job was cancelled again")
    };
    assert_eq!(error.code, ErrorCode::FailedPrecondition);
    // A cancelled job frees its VM.
    let next = h.submitted(JobType::StartVm, spec_on(1)).await;
    assert_eq!(h.finished(&next).await.state, JobState::Succeeded);
}

#[tokio::test]
async fn cancel_of_a_job_waiting_for_a_heavy_slot() {
    let h = Harness::new(1);
    h.fleet.add_vm(vm(1, &host("hv01"), VmState::Off));
    h.fleet.add_vm(vm(2, &host("hv01"), VmState::Off));
    h.executor.hold(Operation::DiskCreate);
    let disk = |n: u32| json!({ "host": "hv01", "vm_id": vm_id(n).to_string(), "disk": { "size_bytes": GIB } });
    let first = h.submitted(JobType::CreateDisk, disk(1)).await;
    h.until(&first, |j| j.steps[0].task_id.is_some()).await;
    let second = h.submitted(JobType::CreateDisk, disk(2)).await;
    h.until(&second, |j| j.state == JobState::Waiting).await;
    let Ok(second) = h.engine.cancel(&second.id).await else {
        panic!("cancel failed")
    };
    assert_eq!(second.state, JobState::Cancelled);
    h.executor.release(Operation::DiskCreate);
    assert_eq!(h.finished(&first).await.state, JobState::Succeeded);
    assert_eq!(runs_of(&h.executor.runs(), Operation::DiskCreate).len(), 1);
}

#[tokio::test]
async fn retry_resumes_at_the_failed_step_and_reuses_what_was_created() {
    let h = Harness::new(1);
    h.executor.fail_next(
        Operation::NicCreate,
        ApiError::new(ErrorCode::FailedPrecondition, "injected")
            .with_agent_code("OPERATION_FAILED"),
    );
    let job = h
        .submitted(
            JobType::ManagedDeployment,
            json!({
                "host": "hv01",
                "vm": { "name": "retry-me", "storage_class": "fast-ssd", "image": "ubuntu-24.04" },
                "disks": [{ "size_bytes": GIB }],
                "nics": [{ "network": "Production" }],
            }),
        )
        .await;
    let failed = h.finished(&job).await;
    assert_eq!(failed.state, JobState::Failed);
    let states: Vec<StepState> = failed.steps.iter().map(|s| s.state).collect();
    use StepState::*;
    assert_eq!(states, [Succeeded, Succeeded, Succeeded, Failed, Skipped]);
    assert_eq!(
        failed.error.as_ref().map(|e| e.agent_code.as_str()),
        Some("OPERATION_FAILED")
    );
    assert_eq!(
        failed.created_resources.len(),
        3,
        "the vm and its two disks"
    );
    let vm = failed.vm_id.map(|v| v.to_string());
    assert!(vm.is_some());

    let retried = match h.engine.retry(&job.id) {
        Ok(job) => job,
        Err(error) => panic!("{error:?}"),
    };
    assert_eq!((retried.attempt, retried.state), (2, JobState::Pending));
    let done = h.finished(&job).await;
    assert_eq!(done.state, JobState::Succeeded);
    let attempts: Vec<u32> = done.steps.iter().map(|s| s.attempt).collect();
    assert_eq!(attempts, [1, 1, 1, 2, 1]);
    let runs = h.executor.runs();
    assert_eq!(
        runs_of(&runs, Operation::VmCreate).len(),
        1,
        "the vm is not created again"
    );
    let nics = runs_of(&runs, Operation::NicCreate);
    assert_eq!(nics.len(), 2);
    assert_eq!(
        nics[1].params["vm_id"].as_str().map(str::to_owned),
        vm,
        "the created vm is reused"
    );
    assert_eq!(done.created_resources.len(), 4);
    let Err(error) = h.engine.retry(&job.id) else {
        panic!("a succeeded job was retried")
    };
    assert_eq!(error.code, ErrorCode::FailedPrecondition);
    let calls: Vec<(&'static str, u32)> = h
        .hooks
        .calls
        .lock()
        .map(|c| c.iter().map(|(_, s, a)| (*s, *a)).collect())
        .unwrap_or_default();
    assert_eq!(
        calls,
        [
            ("pending", 1),
            ("failed", 1),
            ("pending", 2),
            ("succeeded", 2)
        ]
    );
}

#[tokio::test]
async fn secrets_never_leave_the_job_unmasked() {
    let h = Harness::new(1);
    let secret = "hunter2-Zq9";
    if let Ok(mut suffix) = h.executor.log_suffix.lock() {
        *suffix = format!(" with token {secret}");
    }
    let job = h
        .submitted(
            JobType::Noop,
            json!({ "host": "hv01", "echo": { "n": 1 }, "secret": secret }),
        )
        .await;
    let done = h.finished(&job).await;
    assert_eq!(done.state, JobState::Succeeded);
    // The agent got it …
    let runs = h.executor.runs();
    assert_eq!(runs[0].params["secret"], json!(secret));
    // … nothing the service keeps or sends has it.
    assert_eq!(done.spec["secret"], json!(MASK));
    let text = format!("{done:?}");
    assert!(!text.contains(secret), "{text}");
    assert!(done.output.iter().any(|l| l.text.contains(MASK)));
    let Ok(subscription) = h.store.subscribe(1_000_000, None, true, None) else {
        panic!("subscribe")
    };
    let Beginning::Replay(events) = subscription.beginning else {
        panic!("no replay")
    };
    assert!(!events.is_empty());
    let events = format!("{events:?}");
    assert!(!events.contains(secret), "{events}");
}

#[tokio::test]
async fn inventory_is_refreshed_after_each_change() {
    let h = Harness::new(1);
    h.fleet.add_vm(vm(1, &host("hv01"), VmState::Off));
    let noop = h.submitted(JobType::Noop, json!({ "host": "hv01" })).await;
    h.finished(&noop).await;
    assert_eq!(
        h.fleet.refreshes(&host("hv01")),
        0,
        "a noop changes nothing"
    );
    let start = h.submitted(JobType::StartVm, spec_on(1)).await;
    h.finished(&start).await;
    assert_eq!(h.fleet.refreshes(&host("hv01")), 1);
}

#[tokio::test]
async fn history_is_bounded_by_count_and_age_and_output_by_lines() {
    let h = Harness::with(
        1,
        StoreSettings {
            max_jobs: 10,
            max_output_lines: 2,
            ..settings()
        },
    );
    let mut jobs = Vec::new();
    for _ in 0..15 {
        let job = h.submitted(JobType::Noop, json!({ "host": "hv01" })).await;
        jobs.push(h.finished(&job).await);
    }
    let first = &jobs[0];
    assert_eq!(first.output.len(), 2);
    assert_eq!(
        first.output_truncated, 2,
        "four lines, the first two dropped"
    );
    assert_eq!(
        first.output.back().map(|l| l.text.as_str()),
        Some("job succeeded")
    );
    let Ok(mut watch) = h.store.subscribe(0, Some(&first.id), false, None) else {
        panic!("watch")
    };
    assert_eq!(h.store.sweep(std::time::SystemTime::now()), 5);
    assert_eq!(h.store.len(), 10);
    assert!(
        h.store.get(&first.id, false).is_none(),
        "the oldest went first"
    );
    assert!(h.store.get(&jobs[14].id, false).is_some());
    let mut evicted = false;
    while let Ok(live) = watch.live.try_recv() {
        evicted |= live == Live::Evicted(first.id.clone());
    }
    assert!(evicted, "a watcher of the job is told it left the history");
    // Age: everything finished more than max_age ago goes; unfinished jobs stay.
    h.fleet.add_vm(vm(1, &host("hv01"), VmState::Off));
    h.executor.hold(Operation::VmPower);
    let running = h.submitted(JobType::StartVm, spec_on(1)).await;
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(7200);
    assert_eq!(h.store.sweep(later), 10);
    assert!(h.store.get(&running.id, false).is_some());
    h.executor.release(Operation::VmPower);
    h.finished(&running).await;
}

#[tokio::test]
async fn submits_are_idempotent_and_bounded() {
    let h = Harness::with(
        1,
        StoreSettings {
            max_active: 1,
            ..settings()
        },
    );
    h.fleet.add_vm(vm(1, &host("hv01"), VmState::Off));
    h.executor.hold(Operation::VmPower);
    let submission = Submission {
        job_type: JobType::StartVm,
        spec_json: spec_on(1).to_string(),
        request_id: Some("click-1".into()),
        requester: "user:alice".into(),
    };
    let (Ok(a), Ok(b)) = (
        h.engine.submit(submission.clone()).await,
        h.engine.submit(submission).await,
    ) else {
        panic!("submit failed")
    };
    assert_eq!(a.id, b.id, "the same request id gives the same job");
    assert_eq!(a.requester, "user:alice");
    let Err(full) = h.submit(JobType::Noop, json!({ "host": "hv01" })).await else {
        panic!("accepted past max_active")
    };
    assert_eq!(full.code, ErrorCode::ResourceExhausted);
    h.executor.release(Operation::VmPower);
    h.finished(&a).await;
    assert!(
        h.submit(JobType::Noop, json!({ "host": "hv01" }))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn watch_replays_after_an_event_id_and_resyncs_otherwise() {
    let h = Harness::new(1);
    let job = h.submitted(JobType::Noop, json!({ "host": "hv01" })).await;
    let done = h.finished(&job).await;
    let Ok(all) = h.store.subscribe(job.last_event_id, None, false, None) else {
        panic!()
    };
    let Beginning::Replay(events) = all.beginning else {
        panic!("no replay")
    };
    let ids: Vec<u64> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids.first(), Some(&(job.last_event_id + 1)));
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "no gaps: {ids:?}");
    assert_eq!(ids.last(), Some(&done.last_event_id));
    for (from, reason) in [
        (0, ResyncReason::Initial),
        (5, ResyncReason::UnknownEventId),
        (u64::MAX, ResyncReason::UnknownEventId),
    ] {
        let Ok(sub) = h.store.subscribe(from, Some(&job.id), false, None) else {
            panic!()
        };
        let Beginning::Resync {
            reason: got,
            snapshot,
            ..
        } = sub.beginning
        else {
            panic!("no resync from {from}")
        };
        assert_eq!(got, reason);
        assert_eq!(snapshot.len(), 1);
    }
    let small = Harness::with(
        1,
        StoreSettings {
            event_log: 3,
            ..settings()
        },
    );
    let job = small
        .submitted(JobType::Noop, json!({ "host": "hv01" }))
        .await;
    small.finished(&job).await;
    let Ok(sub) = small.store.subscribe(job.last_event_id, None, false, None) else {
        panic!()
    };
    assert!(matches!(
        sub.beginning,
        Beginning::Resync {
            reason: ResyncReason::TooOld,
            ..
        }
    ));
}
