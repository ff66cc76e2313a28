//! grpcurl 1.8.6 (a third-party client, reflection v1alpha only, from the test virtualenv)
//! against every gRPC service of a running suite: `list`, `describe`, a real call whose
//! answer is checked against the simulated fleet, `grpc.health.v1.Health/Check` →
//! SERVING, and the Diagnostics status.

use std::net::SocketAddr;

use aetherv_tests::TestStack;
use aetherv_tests::peers::{Output, grpcurl_at};
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
        .find(|n| n["dedupKey"] == "grpcurl-test" || n["dedup_key"] == "grpcurl-test")
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("published notification not listed: {listed}"))?;
    assert_eq!(found["title"], "Published by grpcurl", "{found}");
    assert_eq!(found["level"], "LEVEL_WARNING", "{found} / {published}");

    stack.stop().await?;
    Ok(())
}
