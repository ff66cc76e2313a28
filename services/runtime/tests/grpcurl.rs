//! grpcurl 1.8.6 — a third-party client that speaks only reflection v1alpha — against a
//! runtime server: `list`, `describe`, health checks and real calls.

mod support;

use std::time::Duration;

use support::{TestServer, grpcurl};

struct Output {
    success: bool,
    stdout: String,
    stderr: String,
}

async fn run(server: &TestServer, args: &[&str]) -> Output {
    let address = server.address.to_string();
    let mut command = tokio::process::Command::new(grpcurl());
    command.arg("-plaintext").arg("-max-time").arg("20");
    // Flags go before the address, the method after it.
    let (flags, rest): (Vec<&str>, Vec<&str>) = match args.iter().position(|arg| *arg == "--") {
        Some(split) => (args[..split].to_vec(), args[split + 1..].to_vec()),
        None => (Vec::new(), args.to_vec()),
    };
    command.args(&flags).arg(&address).args(&rest);
    let output = match command.output().await {
        Ok(output) => output,
        Err(error) => panic!("grpcurl could not run: {error}"),
    };
    Output {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[tokio::test]
async fn grpcurl_lists_describes_checks_health_and_calls() {
    let server = TestServer::start(Duration::from_secs(10), Some(1)).await;

    let list = run(&server, &["list"]).await;
    assert!(list.success, "list failed: {}", list.stderr);
    let mut services: Vec<&str> = list.stdout.lines().collect();
    services.sort();
    assert_eq!(
        services,
        [
            "aetherv.common.v1.Diagnostics",
            "aetherv.notifications.v1.Notifications",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
    );

    let describe = run(
        &server,
        &["describe", "aetherv.notifications.v1.Notifications"],
    )
    .await;
    assert!(describe.success, "describe failed: {}", describe.stderr);
    assert!(
        describe
            .stdout
            .contains("aetherv.notifications.v1.Notifications is a service:"),
        "{}",
        describe.stdout
    );
    assert!(
        describe.stdout.contains("rpc Subscribe ( .aetherv.notifications.v1.SubscribeRequest ) returns ( stream .aetherv.notifications.v1.NotificationEvent );"),
        "{}",
        describe.stdout
    );
    // The proto comments reach operators through reflection.
    assert!(
        describe.stdout.contains("Marks every notification read."),
        "{}",
        describe.stdout
    );

    let message = run(&server, &["describe", "aetherv.common.v1.ErrorDetail"]).await;
    assert!(message.success, "describe failed: {}", message.stderr);
    assert!(
        message
            .stdout
            .contains("repeated .aetherv.common.v1.FieldViolation violations = 3;"),
        "{}",
        message.stdout
    );

    let health = [
        "-d",
        r#"{"service":""}"#,
        "--",
        "grpc.health.v1.Health/Check",
    ];
    let before = run(&server, &health).await;
    assert!(before.success, "health failed: {}", before.stderr);
    assert!(
        before.stdout.contains(r#""status": "NOT_SERVING""#),
        "{}",
        before.stdout
    );

    server.health.set_serving().await;
    let after = run(&server, &health).await;
    assert!(after.success, "health failed: {}", after.stderr);
    assert!(
        after.stdout.contains(r#""status": "SERVING""#),
        "{}",
        after.stdout
    );
    let named = run(
        &server,
        &[
            "-d",
            r#"{"service":"aetherv.notifications.v1.Notifications"}"#,
            "--",
            "grpc.health.v1.Health/Check",
        ],
    )
    .await;
    assert!(
        named.stdout.contains(r#""status": "SERVING""#),
        "{}",
        named.stdout
    );

    let publish = run(
        &server,
        &[
            "-H",
            "x-aetherv-caller: user:operator",
            "-d",
            r#"{"title":"disk almost full","level":"LEVEL_WARNING","category":"CATEGORY_HOST"}"#,
            "--",
            "aetherv.notifications.v1.Notifications/Publish",
        ],
    )
    .await;
    assert!(publish.success, "publish failed: {}", publish.stderr);
    assert!(
        publish.stdout.contains(r#""title": "disk almost full""#),
        "{}",
        publish.stdout
    );
    assert!(
        publish.stdout.contains(r#""level": "LEVEL_WARNING""#),
        "{}",
        publish.stdout
    );
    assert!(
        publish.stdout.contains(r#""caller": "user:operator""#),
        "{}",
        publish.stdout
    );

    let diagnostics = run(&server, &["aetherv.common.v1.Diagnostics/GetStatus"]).await;
    assert!(
        diagnostics.success,
        "diagnostics failed: {}",
        diagnostics.stderr
    );
    assert!(
        diagnostics.stdout.contains(r#""serving": true"#),
        "{}",
        diagnostics.stdout
    );

    // An error: grpcurl shows the code, the message and the ErrorDetail it resolved
    // through reflection.
    let refused = run(
        &server,
        &[
            "-d",
            r#"{"title":""}"#,
            "--",
            "aetherv.notifications.v1.Notifications/Publish",
        ],
    )
    .await;
    assert!(!refused.success, "empty title accepted: {}", refused.stdout);
    assert!(
        refused.stderr.contains("Code: InvalidArgument"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("Message: title: must not be empty"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("aetherv.common.v1.ErrorDetail"),
        "{}",
        refused.stderr
    );
}
