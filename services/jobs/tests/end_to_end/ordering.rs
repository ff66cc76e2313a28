//! End to end: two jobs on one VM run one after the other (the second waits VM_BUSY for
//! the first), and twenty deployments submitted at once all finish, their image copies
//! one at a time per host — as the simulated hosts' operation logs show.

use std::time::Duration;

use crate::support::suite::{FleetShape, Suite};
use aetherv_hvsim::OperationRecord;
use aetherv_hyperv::Operation;
use aetherv_proto::jobs::v1 as pb;
use serde_json::json;

const GIB: u64 = 1 << 30;

/// The host's records of job steps (correlation id `job-…`) of `operation`.
fn steps_of(records: &[OperationRecord], operation: &str) -> Vec<OperationRecord> {
    records
        .iter()
        .filter(|r| r.operation.as_deref() == Some(operation))
        .filter(|r| {
            r.correlation_id
                .as_deref()
                .is_some_and(|c| c.starts_with("job-"))
        })
        .cloned()
        .collect()
}

fn no_overlap(records: &[OperationRecord]) {
    let mut spans: Vec<_> = records
        .iter()
        .map(|r| match r.finished_at {
            Some(end) => (r.started_at.get(), end.get()),
            None => panic!("{} never finished", r.command_id),
        })
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0,
            "operations overlapped on one host: {pair:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_jobs_on_one_vm_run_one_after_the_other() {
    let suite = Suite::start(
        FleetShape {
            hosts: 1,
            ..FleetShape::default()
        },
        |_| {},
    )
    .await;
    let host = suite.host(0);
    let deployed = suite
        .run(
            pb::JobType::ManagedDeployment,
            json!({ "host": host.name(), "vm": { "name": "busy-01", "storage_class": "fast-ssd" }, "start": false }),
        )
        .await;
    let vm = deployed.vm_id.clone();
    // The first job's change takes a while on the host.
    host.set_operation_latency(Operation::VmUpdate, Duration::from_millis(1500));
    let first = suite
        .submit(
            pb::JobType::UpdateVm,
            json!({ "host": host.name(), "vm_id": vm, "cpu_count": 3 }),
        )
        .await;
    let second = suite
        .submit(
            pb::JobType::StartVm,
            json!({ "host": host.name(), "vm_id": vm }),
        )
        .await;
    let waiting = suite
        .until(&second.id, Duration::from_secs(30), |j| {
            j.state == pb::JobState::Waiting as i32
        })
        .await;
    let Some(why) = waiting.waiting else {
        panic!("waiting without a reason")
    };
    assert_eq!(why.reason, pb::WaitingReason::VmBusy as i32);
    assert_eq!(why.blocking_job_id, first.id);
    for job in [&first, &second] {
        let done = suite.finished(&job.id).await;
        assert_eq!(
            done.state,
            pb::JobState::Succeeded as i32,
            "{:?}",
            done.error
        );
    }
    let records = host.operations();
    let update = steps_of(&records, "vm.update");
    let start = steps_of(&records, "vm.power");
    assert_eq!((update.len(), start.len()), (1, 1));
    assert_eq!(update[0].correlation_id.as_deref(), Some(first.id.as_str()));
    assert_eq!(start[0].correlation_id.as_deref(), Some(second.id.as_str()));
    no_overlap(&[update[0].clone(), start[0].clone()]);
    let vm = host.vm_by_name("busy-01");
    assert_eq!(
        vm.map(|v| (v.cpu_count, v.state)),
        Some((3, aetherv_hyperv::VmState::Running))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_deployments_submitted_at_once_all_finish() {
    let suite = Suite::start(
        FleetShape {
            hosts: 2,
            vms_per_host: 2,
            time_scale: 0.02,
        },
        |_| {},
    )
    .await;
    let mut submits = Vec::new();
    for i in 0..20 {
        let host = suite.host(i % 2);
        let spec = json!({
            "host": host.name(),
            "vm": { "name": format!("fleet-{i:02}"), "storage_class": "fast-ssd", "image": "debian-12", "memory_startup_bytes": GIB },
            "nics": [{ "network": "Production" }],
        });
        let suite = &suite;
        submits.push(async move { suite.submit(pb::JobType::ManagedDeployment, spec).await });
    }
    let jobs = futures::future::join_all(submits).await;
    for job in &jobs {
        let done = suite.finished(&job.id).await;
        assert_eq!(
            done.state,
            pb::JobState::Succeeded as i32,
            "{} {:?}",
            done.id,
            done.error
        );
        assert_eq!(done.created_resources.len(), 3);
    }
    for host in suite.fleet.hosts() {
        let records = host.operations();
        let copies = steps_of(&records, "disk.create");
        assert_eq!(copies.len(), 10, "{}", host.name());
        no_overlap(&copies);
        assert_eq!(
            host.vms()
                .iter()
                .filter(|v| v.name.starts_with("fleet-"))
                .count(),
            10
        );
    }
}
