//! Bad query parameters get a 400 in the documented error shape, naming the parameter in
//! `details.parameter` — whether the gateway refuses the value itself or inventory refuses
//! it over gRPC (a page token it did not issue) — while the same routes with good values
//! answer 200.

use aetherv_tests::TestStack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_query_parameters_get_400_naming_the_parameter() -> anyhow::Result<()> {
    let stack = TestStack::builder()
        .hosts(2)
        .vms_per_host(3)
        .start()
        .await?;
    stack.wait_for_converged().await?;
    let host = stack.fleet.hosts()[0].name().to_string();
    let long = "x".repeat(257);
    let cases: Vec<(String, &str)> = vec![
        ("/api/v1/vms?page_size=0".into(), "page_size"),
        ("/api/v1/vms?page_size=1001".into(), "page_size"),
        ("/api/v1/vms?page_size=ten".into(), "page_size"),
        ("/api/v1/vms?sort=colour".into(), "sort"),
        ("/api/v1/vms?order=sideways".into(), "order"),
        ("/api/v1/vms?state=flying".into(), "state"),
        ("/api/v1/vms?state=running,flying".into(), "state"),
        ("/api/v1/vms?all=maybe".into(), "all"),
        ("/api/v1/vms?all=true&page_size=10".into(), "page_size"),
        (format!("/api/v1/vms?q={long}"), "q"),
        ("/api/v1/vms?colour=blue".into(), "colour"),
        ("/api/v1/vms?host=a.example&host=b.example".into(), "host"),
        ("/api/v1/vms?host=Not%20A%20Host".into(), "host"),
        (
            "/api/v1/vms?page_token=not-a-token-we-issued".into(),
            "page_token",
        ),
        ("/api/v1/hosts?status=sideways".into(), "status"),
        ("/api/v1/hosts?page_size=10".into(), "page_size"),
        (format!("/api/v1/hosts/{host}/vms?host={host}"), "host"),
        (format!("/api/v1/hosts/{host}/vms?sort=colour"), "sort"),
    ];
    let mut wrong = Vec::new();
    for (path, parameter) in &cases {
        let reply = stack.get(path).await?;
        let body = reply.json()?;
        if reply.status != 400
            || body["error"]["code"] != "INVALID_ARGUMENT"
            || body["error"]["details"]["parameter"] != *parameter
            || !body["error"]["message"].is_string()
        {
            wrong.push(format!("{path}: {} {body}", reply.status));
        }
    }
    assert!(
        wrong.is_empty(),
        "not a 400 naming the parameter:\n{}",
        wrong.join("\n")
    );

    // The same routes with good values work.
    for path in [
        "/api/v1/vms?page_size=2&sort=name&order=desc&state=running,off&q=a".to_string(),
        "/api/v1/vms?all=true".to_string(),
        "/api/v1/hosts?status=reachable".to_string(),
        format!("/api/v1/hosts/{host}/vms?sort=cpu_count"),
    ] {
        let reply = stack.get(&path).await?;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    }
    stack.stop().await?;
    Ok(())
}
