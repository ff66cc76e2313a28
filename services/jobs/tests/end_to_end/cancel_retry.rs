//! End to end: Cancel stops a long image copy on the simulated host (its operation log
//! shows the command terminated, the VM got no disk), and Retry resumes a deployment at
//! the step the simulator's fail-next knob broke, reusing what earlier steps created.

use std::time::Duration;

use crate::support::suite::{FleetShape, Suite};
use aetherv_hvsim::{FailNext, Outcome};
use aetherv_hyperv::{AgentErrorCode, Operation};
use aetherv_proto::jobs::v1 as pb;
use serde_json::json;

const GIB: u64 = 1 << 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_long_image_copy_on_the_host() {
    // Real-time durations: copying the 14 GiB image takes half a minute.
    let suite = Suite::start(
        FleetShape {
            hosts: 1,
            vms_per_host: 1,
            time_scale: 1.0,
        },
        |_| {},
    )
    .await;
    let host = suite.host(0);
    let created = suite
        .run(pb::JobType::CreateVm, json!({ "host": host.name(), "vm": { "name": "copy-01", "storage_class": "fast-ssd" } }))
        .await;
    let job = suite
        .submit(
            pb::JobType::CreateDisk,
            json!({ "host": host.name(), "vm_id": created.vm_id, "disk": { "image": "win2022-datacenter" } }),
        )
        .await;
    // Wait until the copy reports progress on the host.
    suite
        .until(&job.id, Duration::from_secs(30), |j| j.steps[0].percent > 0)
        .await;
    let cancelled = match suite
        .client
        .clone()
        .cancel(pb::CancelJobRequest {
            job_id: job.id.clone(),
        })
        .await
    {
        Ok(job) => job.into_inner(),
        Err(status) => panic!("Cancel: {status:?}"),
    };
    assert_eq!(cancelled.state, pb::JobState::Cancelled as i32);
    assert!(cancelled.cancel_requested);
    assert_eq!(cancelled.steps[0].state, pb::StepState::Cancelled as i32);
    assert!(cancelled.steps[0].percent < 100);
    let records = host.operations();
    let Some(copy) = records
        .iter()
        .find(|r| r.correlation_id.as_deref() == Some(job.id.as_str()))
    else {
        panic!("the host never saw the copy")
    };
    assert_eq!(copy.operation.as_deref(), Some("disk.create"));
    assert_eq!(
        copy.outcome,
        Outcome::Terminated,
        "the copy was stopped on the host: {copy:?}"
    );
    assert!(copy.duration_ms.is_some_and(|ms| ms < 30_000), "{copy:?}");
    let Some(vm) = host.vm_by_name("copy-01") else {
        panic!("the vm is gone")
    };
    assert!(vm.disks.is_empty(), "an interrupted copy attaches nothing");
    // Nothing of the job still runs (inventory's host watch, inventory.watch, always does).
    let running: Vec<_> = host
        .operations()
        .into_iter()
        .filter(|r| r.finished_at.is_none() && r.operation.as_deref() != Some("inventory.watch"))
        .collect();
    assert!(running.is_empty(), "still running on the host: {running:?}");
    // Cancel of a finished job is refused.
    let again = suite
        .client
        .clone()
        .cancel(pb::CancelJobRequest {
            job_id: job.id.clone(),
        })
        .await;
    let Err(status) = again else {
        panic!("a finished job was cancelled")
    };
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_resumes_a_deployment_at_the_failed_step() {
    let suite = Suite::start(
        FleetShape {
            hosts: 1,
            ..FleetShape::default()
        },
        |_| {},
    )
    .await;
    let host = suite.host(0);
    if let Err(error) = host.fail_next(FailNext {
        count: 1,
        operation: Some(Operation::NicCreate),
        code: AgentErrorCode::OperationFailed,
        message: "Add-VMNetworkAdapter failed (injected)".into(),
    }) {
        panic!("{error}");
    }
    let job = suite
        .submit(
            pb::JobType::ManagedDeployment,
            json!({
                "host": host.name(),
                "vm": { "name": "retry-01", "storage_class": "fast-ssd" },
                "disks": [{ "size_bytes": 4 * GIB }],
                "nics": [{ "network": "Production" }],
            }),
        )
        .await;
    let failed = suite.finished(&job.id).await;
    assert_eq!(failed.state, pb::JobState::Failed as i32);
    use pb::StepState as S;
    let states: Vec<i32> = failed.steps.iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        [
            S::Succeeded as i32,
            S::Succeeded as i32,
            S::Failed as i32,
            S::Skipped as i32
        ]
    );
    let Some(error) = &failed.error else {
        panic!("no error")
    };
    assert_eq!(error.agent_code, "OPERATION_FAILED");
    assert!(error.message.contains("injected"), "{}", error.message);
    // It says exactly what it created.
    let made: Vec<(i32, &str)> = failed
        .created_resources
        .iter()
        .map(|r| (r.kind, r.name.as_str()))
        .collect();
    use aetherv_proto::common::v1::EntityKind;
    assert_eq!(made.len(), 2);
    assert_eq!(made[0], (EntityKind::Vm as i32, "retry-01"));
    assert_eq!(made[1].0, EntityKind::Disk as i32);
    assert!(
        failed
            .output
            .iter()
            .any(|l| l.text.starts_with("created so far (kept)"))
    );

    let retried = match suite
        .client
        .clone()
        .retry(pb::RetryJobRequest {
            job_id: job.id.clone(),
        })
        .await
    {
        Ok(job) => job.into_inner(),
        Err(status) => panic!("Retry: {status:?}"),
    };
    assert_eq!(retried.attempt, 2);
    let done = suite.finished(&job.id).await;
    assert_eq!(
        done.state,
        pb::JobState::Succeeded as i32,
        "{:?}",
        done.error
    );
    let attempts: Vec<u32> = done.steps.iter().map(|s| s.attempt).collect();
    assert_eq!(attempts, [1, 1, 2, 1]);
    let ops: Vec<String> = host
        .operations()
        .iter()
        .filter(|r| r.correlation_id.as_deref() == Some(job.id.as_str()))
        .filter_map(|r| r.operation.clone())
        .collect();
    assert_eq!(
        ops,
        [
            "vm.create",
            "disk.create",
            "nic.create",
            "nic.create",
            "vm.power"
        ],
        "resumed at the failed step"
    );
    let Some(vm) = host.vm_by_name("retry-01") else {
        panic!("no vm")
    };
    assert_eq!((vm.disks.len(), vm.nics.len()), (1, 1));
    assert_eq!(
        host.vms().iter().filter(|v| v.name == "retry-01").count(),
        1
    );
}
