//! Power actions through the gateway — jobs of the jobs service — change the VM in the
//! simulator (a `vm.power` operation runs on its host over WinRM) and then in inventory,
//! `/ws` included; an action the state does not allow is a 409 naming the state, and
//! nothing runs on the host.

use std::time::Duration;

use aetherv_hyperv::VmState;
use aetherv_proto::inventory::v1 as pb;
use aetherv_tests::TestStack;
use aetherv_tests::wait::Outcome;
use aetherv_tests::wait_for;

const LIMIT: Duration = Duration::from_secs(60);

fn power_operations(host: &aetherv_hvsim::SimHost) -> usize {
    host.operations()
        .iter()
        .filter(|op| op.operation.as_deref() == Some("vm.power"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_power_action_changes_the_vm_in_the_simulator_and_in_inventory() -> anyhow::Result<()> {
    let stack = TestStack::builder()
        .hosts(3)
        .vms_per_host(6)
        .clusters(1)
        .start()
        .await?;
    let summary = stack.wait_for_converged().await?;
    let (host, vm) = stack
        .fleet
        .hosts()
        .iter()
        .find_map(|h| {
            h.vms()
                .into_iter()
                .find(|vm| vm.state == VmState::Off)
                .map(|vm| (h.clone(), vm))
        })
        .ok_or_else(|| anyhow::anyhow!("the fleet has no VM that is off"))?;
    let id = vm.id.to_string();
    let mut ws = stack.ws().await?;
    ws.subscribe("inventory", Some(&summary.revision.to_string()))
        .await?;

    // Not allowed from Off: 409 with the state, and nothing reaches the host.
    let operations = power_operations(&host);
    let refused = stack.post(&format!("/api/v1/vms/{id}/stop")).await?;
    assert_eq!(refused.status, 409, "{}", refused.text());
    let body = refused.json()?;
    assert_eq!(body["error"]["code"], "FAILED_PRECONDITION", "{body}");
    assert_eq!(body["error"]["details"]["vm_state"], "off", "{body}");
    assert_eq!(power_operations(&host), operations);

    // Start: accepted, runs on the host, the simulator's VM runs, inventory follows.
    let accepted = stack.post(&format!("/api/v1/vms/{id}/start")).await?;
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    let body = accepted.json()?;
    assert_eq!(body["action"], "start", "{body}");
    assert_eq!(body["previous_state"], "off", "{body}");
    assert_eq!(body["vm"]["id"], id.as_str());
    let job_id = body["job_id"].as_str().unwrap_or_default().to_string();
    assert!(job_id.starts_with("job-"), "{body}");
    wait_for("the simulator's VM running", LIMIT, || async {
        let state = host.vm(vm.id).map(|v| v.state);
        Ok(if state == Some(VmState::Running) {
            Outcome::Done(())
        } else {
            Outcome::NotYet(format!("{state:?}"))
        })
    })
    .await?;
    assert!(
        power_operations(&host) > operations,
        "vm.power ran on the host"
    );
    let record = stack
        .wait_for_vm(&id, LIMIT, |v| v.state == pb::VmState::Running as i32)
        .await?;
    assert_eq!(record.host, host.name());
    ws.wait_for("the VM running on /ws", LIMIT, |f| {
        f["kind"] == "vm_upserted"
            && f["data"]["id"] == id.as_str()
            && f["data"]["state"] == "running"
    })
    .await?;
    let rest = stack.get(&format!("/api/v1/vms/{id}")).await?.json()?;
    assert_eq!(rest["state"], "running", "{rest}");
    assert_eq!(
        rest["power_actions"],
        serde_json::json!(["shutdown", "stop", "reset", "save", "pause"])
    );
    // The job that did it succeeded.
    let job = stack.wait_for_job(&job_id, LIMIT).await?;
    assert_eq!(
        job.state,
        aetherv_proto::jobs::v1::JobState::Succeeded as i32,
        "{job:?}"
    );

    // Turn off: back to Off in both.
    let accepted = stack.post(&format!("/api/v1/vms/{id}/stop")).await?;
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    stack
        .wait_for_vm(&id, LIMIT, |v| v.state == pb::VmState::Off as i32)
        .await?;
    assert_eq!(host.vm(vm.id).map(|v| v.state), Some(VmState::Off));

    // An unknown VM is a 404.
    let missing = stack
        .post("/api/v1/vms/00000000-0000-4000-8000-000000000000/start")
        .await?;
    assert_eq!(missing.status, 404, "{}", missing.text());
    ws.close().await;

    stack.stop().await?;
    Ok(())
}
