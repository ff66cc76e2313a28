//! grpcurl 1.8.6 — a third-party client speaking reflection v1alpha — against the real
//! service: `list`, `describe`, Publish and List calls, a refusal's status, and
//! `grpc.health.v1.Health/Check`.

mod support;

use std::net::SocketAddr;

use aetherv_notifications::Config;
use support::{Service, grpcurl};

struct Output {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs grpcurl: `flags` go before the address, `rest` (method) after it.
async fn run(address: SocketAddr, flags: &[&str], rest: &[&str]) -> Output {
    let output = tokio::process::Command::new(grpcurl())
        .arg("-plaintext")
        .args(["-max-time", "20"])
        .args(flags)
        .arg(address.to_string())
        .args(rest)
        .output()
        .await;
    match output {
        Ok(output) => Output {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        },
        Err(error) => panic!("grpcurl could not run: {error}"),
    }
}

#[tokio::test]
async fn grpcurl_lists_describes_calls_and_checks_health() {
    let service = Service::start(Config::for_testing()).await;
    let address = service.address;

    let list = run(address, &[], &["list"]).await;
    assert!(list.success, "list failed: {}", list.stderr);
    assert!(
        list.stdout
            .lines()
            .any(|line| line == "aetherv.notifications.v1.Notifications"),
        "{}",
        list.stdout
    );

    let describe = run(
        address,
        &[],
        &["describe", "aetherv.notifications.v1.Notifications"],
    )
    .await;
    assert!(describe.success, "describe failed: {}", describe.stderr);
    assert!(
        describe.stdout.contains(
            "rpc Subscribe ( .aetherv.notifications.v1.SubscribeRequest ) returns ( stream .aetherv.notifications.v1.NotificationEvent );"
        ),
        "{}",
        describe.stdout
    );

    let publish = run(
        address,
        &[
            "-d",
            r#"{"level":"LEVEL_WARNING","category":"CATEGORY_HOST","title":"Slow inventory refresh on hv01","dedup_key":"inventory-slow-host:hv01","metadata":{"host":"hv01"}}"#,
        ],
        &["aetherv.notifications.v1.Notifications/Publish"],
    )
    .await;
    assert!(publish.success, "publish failed: {}", publish.stderr);
    assert!(
        publish
            .stdout
            .contains(r#""title": "Slow inventory refresh on hv01""#)
            && publish.stdout.contains(r#""id": "ntf-"#)
            && publish.stdout.contains(r#""occurrences": 1"#),
        "{}",
        publish.stdout
    );

    let listed = run(
        address,
        &["-d", r#"{"limit":5}"#],
        &["aetherv.notifications.v1.Notifications/List"],
    )
    .await;
    assert!(listed.success, "list call failed: {}", listed.stderr);
    assert!(
        listed.stdout.contains(r#""totalCount": 1"#)
            && listed.stdout.contains(r#""unreadCount": 1"#)
            && listed
                .stdout
                .contains(r#""dedupKey": "inventory-slow-host:hv01""#),
        "{}",
        listed.stdout
    );

    let refused = run(
        address,
        &["-d", r#"{"level":"LEVEL_INFO","category":"CATEGORY_HOST"}"#],
        &["aetherv.notifications.v1.Notifications/Publish"],
    )
    .await;
    assert!(!refused.success);
    assert!(
        refused.stderr.contains("InvalidArgument") && refused.stderr.contains("title: required"),
        "{}",
        refused.stderr
    );

    let health = run(
        address,
        &[
            "-d",
            r#"{"service":"aetherv.notifications.v1.Notifications"}"#,
        ],
        &["grpc.health.v1.Health/Check"],
    )
    .await;
    assert!(health.success, "health failed: {}", health.stderr);
    assert!(
        health.stdout.contains(r#""status": "SERVING""#),
        "{}",
        health.stdout
    );
    service.stop().await;
}
