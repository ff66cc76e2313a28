//! grpcurl 1.8.6 — a third-party client that speaks only reflection v1alpha — against
//! inventory serving a simulated fleet: `list`, `describe`, `ListVms` with a filter, and
//! `grpc.health.v1.Health/Check` → SERVING.

mod support;

use std::path::PathBuf;

use support::suite::Suite;

fn grpcurl() -> PathBuf {
    let venv = std::env::var_os("AETHERV_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    let grpcurl = venv.join("bin/grpcurl");
    assert!(
        grpcurl.is_file(),
        "grpcurl not found at {} — run ./scripts/test (it installs tests/requirements.txt into .venv)",
        grpcurl.display()
    );
    grpcurl
}

/// Runs grpcurl with `flags`, the address, then `rest`; (success, stdout, stderr).
async fn run(suite: &Suite, flags: &[&str], rest: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::new(grpcurl())
        .arg("-plaintext")
        .arg("-max-time")
        .arg("20")
        .args(flags)
        .arg(suite.inventory.address.to_string())
        .args(rest)
        .output()
        .await;
    match output {
        Ok(output) => (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ),
        Err(error) => panic!("grpcurl could not run: {error}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_lists_describes_queries_and_checks_health() {
    let suite = Suite::start(3, 5, 1, |_| {}).await;
    suite.converged().await;

    let (ok, stdout, stderr) = run(&suite, &[], &["list"]).await;
    assert!(ok, "list: {stderr}");
    let mut services: Vec<&str> = stdout.lines().collect();
    services.sort();
    assert_eq!(
        services,
        [
            "aetherv.common.v1.Diagnostics",
            "aetherv.inventory.v1.Inventory",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
    );

    let (ok, stdout, stderr) =
        run(&suite, &[], &["describe", "aetherv.inventory.v1.Inventory"]).await;
    assert!(ok, "describe: {stderr}");
    assert!(
        stdout.contains("rpc Watch ( .aetherv.inventory.v1.WatchRequest ) returns ( stream .aetherv.inventory.v1.WatchEvent );"),
        "{stdout}"
    );
    assert!(
        stdout.contains("VMs with filters, sort and paging."),
        "{stdout}"
    );

    // The standalone host's VMs, running ones only, largest memory first, two per page.
    let standalone = suite
        .fleet
        .hosts()
        .iter()
        .find(|h| h.cluster().is_none())
        .map(|h| h.name().to_string());
    let Some(standalone) = standalone else {
        panic!("a standalone host")
    };
    let running: Vec<String> = suite
        .fleet
        .host(&standalone)
        .map(|h| {
            h.vms()
                .iter()
                .filter(|vm| vm.state == aetherv_hyperv::VmState::Running)
                .map(|vm| vm.name.clone())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !running.is_empty(),
        "the seeded fleet has running vms on its standalone host"
    );
    let body = r#"{"cluster":"-","states":["VM_STATE_RUNNING"],"sort_field":"VM_SORT_FIELD_MEMORY_ASSIGNED","sort_direction":"SORT_DIRECTION_DESCENDING","page":{"page_size":2}}"#;
    let (ok, stdout, stderr) = run(
        &suite,
        &["-d", body],
        &["aetherv.inventory.v1.Inventory/ListVms"],
    )
    .await;
    assert!(ok, "ListVms: {stderr}");
    let value: serde_json::Value = match serde_json::from_str(&stdout) {
        Ok(value) => value,
        Err(error) => panic!("ListVms output is not JSON ({error}): {stdout}"),
    };
    let vms = value["vms"].as_array().cloned().unwrap_or_default();
    assert_eq!(vms.len(), running.len().min(2), "{stdout}");
    for vm in &vms {
        assert_eq!(vm["host"], standalone.as_str());
        assert_eq!(vm["state"], "VM_STATE_RUNNING");
        assert!(
            running.iter().any(|name| vm["name"] == name.as_str()),
            "{vm}"
        );
    }
    let total = value["page"]["totalSize"].as_str().unwrap_or("0");
    assert_eq!(total, running.len().to_string(), "{stdout}");

    // A bad filter is refused naming the field.
    let (ok, _, stderr) = run(
        &suite,
        &["-d", r#"{"host":"bad host!"}"#],
        &["aetherv.inventory.v1.Inventory/ListVms"],
    )
    .await;
    assert!(!ok);
    assert!(
        stderr.contains("InvalidArgument") && stderr.contains("host"),
        "{stderr}"
    );

    let (ok, stdout, stderr) = run(&suite, &[], &["grpc.health.v1.Health/Check"]).await;
    assert!(ok, "health: {stderr}");
    assert!(stdout.contains("\"status\": \"SERVING\""), "{stdout}");
}
