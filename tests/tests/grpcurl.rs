//! grpcurl 1.8.6 (a third-party client, reflection v1alpha only, from the test virtualenv)
//! against every gRPC service of a running suite: `list`, `describe`, a real call whose
//! answer is checked against the simulated fleet, `grpc.health.v1.Health/Check` →
//! SERVING, and the Diagnostics status.

use std::net::SocketAddr;

use std::time::Duration;

use aetherv_hyperv::VmState;
use aetherv_tests::peers::{Output, grpcurl_at};
use aetherv_tests::wait::Outcome;
use aetherv_tests::{TestStack, wait_for};
use serde_json::Value;

async fn grpcurl(address: SocketAddr, flags: &[&str], rest: &[&str]) -> anyhow::Result<Output> {
    let output = grpcurl_at(address, flags, rest).await?;
    anyhow::ensure!(
        output.success,
        "grpcurl {flags:?} {rest:?} at {address} failed: {}",
        output.stderr
    );
    Ok(output)
}

/// A field as grpcurl prints it (the proto name, or its JSON camelCase name).
fn field<'a>(value: &'a Value, name: &str) -> &'a Value {
    let camel: String = name
        .split('_')
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part.to_string()
            } else {
                part[..1].to_uppercase() + &part[1..]
            }
        })
        .collect();
    if value[name].is_null() {
        &value[camel.as_str()]
    } else {
        &value[name]
    }
}

fn json(output: &Output) -> anyhow::Result<Value> {
    serde_json::from_str(&output.stdout)
        .map_err(|e| anyhow::anyhow!("not JSON ({e}): {}", output.stdout))
}

/// The service's own package and the ones every server has.
fn expected_services(service: &str) -> Vec<String> {
    let mut list = vec![
        service.to_string(),
        "aetherv.common.v1.Diagnostics".to_string(),
        "grpc.health.v1.Health".to_string(),
        "grpc.reflection.v1.ServerReflection".to_string(),
        "grpc.reflection.v1alpha.ServerReflection".to_string(),
    ];
    list.sort();
    list
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_lists_describes_calls_and_checks_health_of_every_service() -> anyhow::Result<()> {
    let stack = TestStack::builder()
        .hosts(3)
        .vms_per_host(4)
        .start()
        .await?;
    stack.wait_for_converged().await?;
    let services = [
        (
            "remote-tasks",
            "aetherv.remotetasks.v1.RemoteTasks",
            "ListHosts",
        ),
        (
            "notifications",
            "aetherv.notifications.v1.Notifications",
            "Publish",
        ),
        ("inventory", "aetherv.inventory.v1.Inventory", "ListVms"),
        ("jobs", "aetherv.jobs.v1.Jobs", "Submit"),
    ];
    assert_eq!(
        stack.grpc_services().len(),
        services.len(),
        "every running gRPC service is covered: {:?}",
        stack.grpc_services()
    );
    for (name, service, rpc) in services {
        let address = stack.address(name)?;

        let listed = grpcurl(address, &[], &["list"]).await?;
        let mut found: Vec<String> = listed.stdout.lines().map(str::to_string).collect();
        found.sort();
        assert_eq!(found, expected_services(service), "{name}");

        let described = grpcurl(address, &[], &["describe", service]).await?;
        assert!(
            described.stdout.contains(&format!("rpc {rpc} (")),
            "{name}: {}",
            described.stdout
        );
        // Comments travel with the descriptors.
        assert!(
            described.stdout.contains("//"),
            "{name}: {}",
            described.stdout
        );

        let health = grpcurl(address, &[], &["grpc.health.v1.Health/Check"]).await?;
        assert_eq!(json(&health)?["status"], "SERVING", "{name}");
        let named = format!("{{\"service\":\"{service}\"}}");
        let health = grpcurl(address, &["-d", &named], &["grpc.health.v1.Health/Check"]).await?;
        assert_eq!(json(&health)?["status"], "SERVING", "{name}");

        let status = grpcurl(address, &[], &["aetherv.common.v1.Diagnostics/GetStatus"]).await?;
        let status = json(&status)?;
        assert_eq!(status["serving"], true, "{name}: {status}");
        assert_eq!(
            status["service"],
            format!("aetherv-{name}"),
            "{name}: {status}"
        );
    }

    // Real calls, checked against the fleet.
    let fleet: Vec<String> = stack
        .fleet
        .hosts()
        .iter()
        .map(|h| h.name().to_string())
        .collect();
    let hosts = grpcurl(
        stack.address("remote-tasks")?,
        &[],
        &["aetherv.remotetasks.v1.RemoteTasks/ListHosts"],
    )
    .await?;
    let mut listed: Vec<String> = json(&hosts)?["hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["host"].as_str().map(str::to_string))
        .collect();
    listed.sort();
    let mut want = fleet.clone();
    want.sort();
    assert_eq!(listed, want);

    let host = &fleet[2];
    let body = format!(r#"{{"host":"{host}","page":{{"page_size":100}}}}"#);
    let vms = grpcurl(
        stack.address("inventory")?,
        &["-d", &body],
        &["aetherv.inventory.v1.Inventory/ListVms"],
    )
    .await?;
    let vms = json(&vms)?;
    let mut names: Vec<String> = vms["vms"]
        .as_array()
        .into_iter()
        .flatten()
        .inspect(|vm| assert_eq!(vm["host"], host.as_str()))
        .filter_map(|vm| vm["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    let mut want: Vec<String> = stack.fleet.hosts()[2]
        .vms()
        .into_iter()
        .map(|vm| vm.name)
        .collect();
    want.sort();
    assert_eq!(names, want);

    let notifications = stack.address("notifications")?;
    let publish = r#"{"level":"LEVEL_WARNING","category":"CATEGORY_SYSTEM","title":"Published by grpcurl","message":"an operator's test","dedup_key":"grpcurl-test"}"#;
    let published = grpcurl(
        notifications,
        &["-d", publish],
        &["aetherv.notifications.v1.Notifications/Publish"],
    )
    .await?;
    let published = json(&published)?;
    let listed = grpcurl(
        notifications,
        &["-d", r#"{"limit":100}"#],
        &["aetherv.notifications.v1.Notifications/List"],
    )
    .await?;
    let listed = json(&listed)?;
    let found = listed["notifications"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|n| field(n, "dedup_key") == "grpcurl-test")
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("published notification not listed: {listed}"))?;
    assert_eq!(found["title"], "Published by grpcurl", "{found}");
    assert_eq!(found["level"], "LEVEL_WARNING", "{found} / {published}");

    // A job: start a VM that is off; it runs on the host.
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
        .ok_or_else(|| anyhow::anyhow!("no VM is off"))?;
    let spec = serde_json::json!({"host": host.name(), "vm_id": vm.id.to_string()}).to_string();
    let submit = serde_json::json!({"type": "JOB_TYPE_START_VM", "spec_json": spec}).to_string();
    let jobs = stack.address("jobs")?;
    let submitted = grpcurl(jobs, &["-d", &submit], &["aetherv.jobs.v1.Jobs/Submit"]).await?;
    let submitted = json(&submitted)?;
    let job_id = field(&submitted, "job_id")
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no job id: {submitted}"))?
        .to_string();
    let get = serde_json::json!({"job_id": job_id}).to_string();
    let job = wait_for("the job to succeed", Duration::from_secs(60), || async {
        let output = grpcurl_at(jobs, &["-d", &get], &["aetherv.jobs.v1.Jobs/Get"]).await?;
        let job: Value = serde_json::from_str(&output.stdout).unwrap_or(Value::Null);
        Ok(match job["state"].as_str() {
            Some("JOB_STATE_SUCCEEDED") => Outcome::Done(job),
            Some("JOB_STATE_FAILED" | "JOB_STATE_CANCELLED") => Outcome::Done(job),
            _ => Outcome::NotYet(format!("{} {}", output.stdout, output.stderr)),
        })
    })
    .await?;
    assert_eq!(job["state"], "JOB_STATE_SUCCEEDED", "{job}");
    assert_eq!(host.vm(vm.id).map(|v| v.state), Some(VmState::Running));

    stack.stop().await?;
    Ok(())
}
