//! The gateway's HTTP surface with its services down (nothing listens where they are
//! configured): health, readiness, 503s naming the dependency, parameter validation before
//! any call, security headers on every kind of response, request ids, static files and
//! ETags, the SPA fallback, cross-origin refusals, diagnostic mode, and the WebSocket
//! protocol's own rules. Every JSON body is checked against the OpenAPI document.

mod support;

use std::time::Duration;

use aetherv_gateway::Config;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use support::http::{Reply, get, post, send};
use support::openapi::check;
use support::ws::WsClient;
use support::{Gateway, closed_endpoint};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";
const VM: &str = "3f2a9c1e-0b4d-4e8f-9a51-6c2d7e8f9a01";

/// A configuration whose four services are loopback addresses where nothing listens.
async fn config_without_services() -> Config {
    let mut config = Config::for_testing(&closed_endpoint().await, &closed_endpoint().await);
    config.jobs.endpoint = closed_endpoint().await;
    config.notifications.endpoint = closed_endpoint().await;
    config
}

async fn gateway_without_services() -> Gateway {
    Gateway::start(config_without_services().await).await
}

fn assert_security_headers(reply: &Reply, what: &str) {
    assert_eq!(
        reply.header("content-security-policy"),
        Some(CSP),
        "{what}: CSP"
    );
    assert_eq!(
        reply.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(
        reply.header("referrer-policy"),
        Some("strict-origin-when-cross-origin"),
        "{what}"
    );
    assert!(
        reply
            .header("x-request-id")
            .is_some_and(|id| !id.is_empty()),
        "{what}: request id"
    );
}

fn assert_error(reply: &Reply, status: u16, code: &str, parameter: Option<&str>) -> Value {
    let body = reply.json();
    assert_eq!(reply.status.as_u16(), status, "body: {body}");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(body["error"]["details"].is_object());
    if let Some(parameter) = parameter {
        assert_eq!(
            body["error"]["details"]["parameter"], parameter,
            "body: {body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(parameter)),
            "the message names {parameter}: {body}"
        );
    }
    body
}

#[tokio::test]
async fn health_is_up_and_readiness_names_the_services_that_do_not_answer() {
    let gateway = gateway_without_services().await;
    let health = get(&gateway.url("/healthz")).await;
    assert_eq!(health.status, StatusCode::OK);
    check("GET", "/healthz", 200, &health.json());
    assert_security_headers(&health, "/healthz");
    assert_eq!(health.header("x-aetherv-mode"), Some("development"));

    let ready = get(&gateway.url("/readyz")).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = ready.json();
    check("GET", "/readyz", 503, &body);
    assert_eq!(body["ready"], false);
    assert_eq!(
        body["not_ready"],
        json!(["inventory", "remote_tasks", "jobs", "notifications"])
    );
    for dependency in body["dependencies"].as_array().into_iter().flatten() {
        assert_eq!(dependency["ready"], false);
        assert_eq!(dependency["health"], "unreachable", "{dependency}");
        assert!(
            dependency["reasons"][0]
                .as_str()
                .is_some_and(|r| r.contains("unreachable"))
        );
    }
    gateway.stop().await;
}

#[tokio::test]
async fn api_calls_answer_503_naming_the_dependency_that_is_down() {
    let gateway = gateway_without_services().await;
    for path in [
        "/api/v1/inventory",
        "/api/v1/clusters",
        "/api/v1/hosts",
        "/api/v1/vms?state=running",
        "/api/v1/hosts/hv01/vms",
    ] {
        let reply = get(&gateway.url(path)).await;
        let body = assert_error(&reply, 503, "UNAVAILABLE", None);
        assert_eq!(
            body["error"]["details"]["dependency"], "inventory",
            "{path}"
        );
        assert_security_headers(&reply, path);
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        let route = path
            .split('?')
            .next()
            .unwrap_or(path)
            .replace("hv01", "{host}");
        check("GET", &route, 503, &body);
    }
    let reply = post(&gateway.url(&format!("/api/v1/vms/{VM}/start"))).await;
    let body = assert_error(&reply, 503, "UNAVAILABLE", None);
    check("POST", "/api/v1/vms/{id}/start", 503, &body);
    for (method, path, route, dependency) in [
        (Method::GET, "/api/v1/jobs", "/api/v1/jobs", "jobs"),
        (
            Method::GET,
            "/api/v1/deployments",
            "/api/v1/deployments",
            "jobs",
        ),
        (Method::POST, "/api/v1/vms", "/api/v1/vms", "jobs"),
        (
            Method::POST,
            "/api/v1/deployments",
            "/api/v1/deployments",
            "jobs",
        ),
        (
            Method::POST,
            "/api/v1/jobs/job-3f2a9c1e-0b4d-4e8f-9a51-6c2d7e8f9a01/cancel",
            "/api/v1/jobs/{id}/cancel",
            "jobs",
        ),
        (
            Method::GET,
            "/api/v1/notifications",
            "/api/v1/notifications",
            "notifications",
        ),
        (
            Method::POST,
            "/api/v1/notifications/read-all",
            "/api/v1/notifications/read-all",
            "notifications",
        ),
        (
            Method::GET,
            "/api/v1/summary",
            "/api/v1/summary",
            "inventory",
        ),
        (
            Method::PATCH,
            &format!("/api/v1/vms/{VM}"),
            "/api/v1/vms/{id}",
            "inventory",
        ),
    ] {
        let reply = send(method.clone(), &gateway.url(path), &[], b"{}").await;
        let body = assert_error(&reply, 503, "UNAVAILABLE", None);
        assert_eq!(body["error"]["details"]["dependency"], dependency, "{path}");
        check(method.as_str(), route, 503, &body);
    }
    gateway.stop().await;
}

#[tokio::test]
async fn bad_parameters_are_refused_with_400_naming_them_before_any_call() {
    let gateway = gateway_without_services().await;
    let cases = [
        ("/api/v1/vms?colour=red", "colour"),
        ("/api/v1/vms?page_size=0", "page_size"),
        ("/api/v1/vms?page_size=1001", "page_size"),
        ("/api/v1/vms?page_size=ten", "page_size"),
        ("/api/v1/vms?state=running,flying", "state"),
        ("/api/v1/vms?sort=colour", "sort"),
        ("/api/v1/vms?order=up", "order"),
        ("/api/v1/vms?all=maybe", "all"),
        ("/api/v1/vms?all=true&page_size=10", "page_size"),
        ("/api/v1/vms?host=bad/name", "host"),
        ("/api/v1/vms?host=a&host=b", "host"),
        ("/api/v1/hosts?status=lost", "status"),
        ("/api/v1/clusters?x=1", "x"),
        ("/api/v1/vms/not-a-guid", "id"),
        ("/api/v1/hosts/bad%20name", "host"),
    ];
    for (path, parameter) in cases {
        let reply = get(&gateway.url(path)).await;
        let body = assert_error(&reply, 400, "INVALID_ARGUMENT", Some(parameter));
        let route = if path.starts_with("/api/v1/vms/") {
            "/api/v1/vms/{id}"
        } else if path.starts_with("/api/v1/hosts/") {
            "/api/v1/hosts/{host}"
        } else {
            path.split('?').next().unwrap_or(path)
        };
        check("GET", route, 400, &body);
    }
    let state = get(&gateway.url("/api/v1/vms?state=flying")).await.json();
    assert!(
        state["error"]["details"]["allowed"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("running"))),
        "allowed states are listed: {state}"
    );
    let body = send(
        Method::POST,
        &gateway.url(&format!("/api/v1/vms/{VM}/stop")),
        &[("content-type", "application/json")],
        br#"{"force":true}"#,
    )
    .await;
    assert_error(&body, 400, "INVALID_ARGUMENT", Some("body.force"));
    let query = post(&gateway.url(&format!("/api/v1/vms/{VM}/reset?now=1"))).await;
    assert_error(&query, 400, "INVALID_ARGUMENT", Some("now"));
    let job = "job-3f2a9c1e-0b4d-4e8f-9a51-6c2d7e8f9a01";
    for (method, path, route, parameter) in [
        (
            Method::GET,
            "/api/v1/jobs?state=flying".to_string(),
            "/api/v1/jobs",
            "state",
        ),
        (
            Method::GET,
            "/api/v1/jobs?type=fly_vm".to_string(),
            "/api/v1/jobs",
            "type",
        ),
        (
            Method::GET,
            "/api/v1/jobs?created_after=monday".to_string(),
            "/api/v1/jobs",
            "created_after",
        ),
        (
            Method::GET,
            "/api/v1/jobs?page_token=garbage".to_string(),
            "/api/v1/jobs",
            "page_token",
        ),
        (
            Method::GET,
            "/api/v1/deployments?type=stop_vm".to_string(),
            "/api/v1/deployments",
            "type",
        ),
        (
            Method::GET,
            "/api/v1/vms?page_token=garbage".to_string(),
            "/api/v1/vms",
            "page_token",
        ),
        (
            Method::GET,
            "/api/v1/jobs/not-a-job".to_string(),
            "/api/v1/jobs/{id}",
            "id",
        ),
        (
            Method::GET,
            format!("/api/v1/jobs/{job}?output=perhaps"),
            "/api/v1/jobs/{id}",
            "output",
        ),
        (
            Method::POST,
            "/api/v1/jobs/job-1/retry".to_string(),
            "/api/v1/jobs/{id}/retry",
            "id",
        ),
        (
            Method::GET,
            "/api/v1/notifications?limit=0".to_string(),
            "/api/v1/notifications",
            "limit",
        ),
        (
            Method::GET,
            "/api/v1/notifications?unread=1".to_string(),
            "/api/v1/notifications",
            "unread",
        ),
        (
            Method::POST,
            "/api/v1/notifications/x%20y/read".to_string(),
            "/api/v1/notifications/{id}/read",
            "id",
        ),
        (
            Method::DELETE,
            format!("/api/v1/vms/{VM}?force=maybe"),
            "/api/v1/vms/{id}",
            "force",
        ),
        (
            Method::DELETE,
            format!("/api/v1/vms/{VM}/disks/a?delete_file=no"),
            "/api/v1/vms/{id}/disks/{disk_id}",
            "delete_file",
        ),
        (
            Method::GET,
            format!("/api/v1/vms/{VM}/nics/%00"),
            "/api/v1/vms/{id}/nics/{nic_id}",
            "nic_id",
        ),
        (
            Method::POST,
            "/api/v1/hosts/bad%20name/refresh".to_string(),
            "/api/v1/hosts/{host}/refresh",
            "host",
        ),
    ] {
        let reply = send(method.clone(), &gateway.url(&path), &[], b"").await;
        let body = assert_error(&reply, 400, "INVALID_ARGUMENT", Some(parameter));
        check(method.as_str(), route, 400, &body);
    }
    // Bodies: malformed JSON is a 400 naming the body; JSON that cannot be a spec, or that
    // repeats what the path says, a 422 naming the field by pointer. No service is asked.
    let broken = send(Method::POST, &gateway.url("/api/v1/vms"), &[], b"{").await;
    check(
        "POST",
        "/api/v1/vms",
        400,
        &assert_error(&broken, 400, "INVALID_ARGUMENT", Some("body")),
    );
    let array = send(
        Method::POST,
        &gateway.url("/api/v1/deployments"),
        &[],
        b"[]",
    )
    .await;
    let body = assert_error(&array, 422, "INVALID_ARGUMENT", None);
    check("POST", "/api/v1/deployments", 422, &body);
    assert_eq!(body["error"]["details"]["violations"][0]["pointer"], "");
    let repeated = send(
        Method::PATCH,
        &gateway.url(&format!("/api/v1/vms/{VM}")),
        &[],
        br#"{"vm_id":"x","cpu_count":2}"#,
    )
    .await;
    let body = assert_error(&repeated, 422, "INVALID_ARGUMENT", None);
    check("PATCH", "/api/v1/vms/{id}", 422, &body);
    assert_eq!(
        body["error"]["details"]["violations"][0],
        json!({"pointer": "/vm_id", "parameter": "id", "rule": "from_path",
               "message": "comes from the id parameter; leave it out of the body", "allowed": []})
    );
    let bulk = send(
        Method::POST,
        &gateway.url("/api/v1/vms/power"),
        &[],
        br#"{"action":"stop","vm_ids":["3f2a9c1e-0b4d-4e8f-9a51-6c2d7e8f9a01","nope"]}"#,
    )
    .await;
    let body = assert_error(&bulk, 422, "INVALID_ARGUMENT", None);
    check("POST", "/api/v1/vms/power", 422, &body);
    assert_eq!(
        body["error"]["details"]["violations"][0]["pointer"],
        "/vm_ids/1"
    );
    let key = send(
        Method::POST,
        &gateway.url(&format!("/api/v1/vms/{VM}/start")),
        &[("idempotency-key", "two words")],
        b"",
    )
    .await;
    assert_error(&key, 400, "INVALID_ARGUMENT", Some("Idempotency-Key"));
    gateway.stop().await;
}

#[tokio::test]
async fn the_job_spec_schemas_are_served_self_contained() {
    let gateway = gateway_without_services().await;
    let index = get(&gateway.url("/api/v1/schemas/jobs")).await;
    assert_eq!(index.status, StatusCode::OK);
    let index = index.json();
    check("GET", "/api/v1/schemas/jobs", 200, &index);
    let names: Vec<&str> = index["schemas"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names.len(), 19, "18 job types and defs: {names:?}");
    for entry in index["schemas"].as_array().into_iter().flatten() {
        let url = entry["url"].as_str().unwrap_or_default();
        let reply = get(&gateway.url(url)).await;
        assert_eq!(reply.status, StatusCode::OK, "{url}");
        let schema = reply.json();
        check("GET", "/api/v1/schemas/jobs/{name}", 200, &schema);
        assert_eq!(schema["title"], entry["title"]);
        // Self-contained: it compiles on its own (every $ref resolves inside it), and the
        // examples it gives are valid against it.
        let validator = match jsonschema::draft202012::new(&schema) {
            Ok(validator) => validator,
            Err(error) => panic!("{url} does not compile on its own: {error}"),
        };
        for example in schema["examples"].as_array().into_iter().flatten() {
            assert!(
                validator.is_valid(example),
                "{url}: its example is invalid: {example}"
            );
        }
    }
    let deployment = get(&gateway.url("/api/v1/schemas/jobs/managed_deployment.schema.json")).await;
    assert_eq!(deployment.json()["properties"]["vm"]["$ref"], "#/$defs/vm");
    let unknown = get(&gateway.url("/api/v1/schemas/jobs/fly_vm")).await;
    let body = assert_error(&unknown, 404, "NOT_FOUND", None);
    check("GET", "/api/v1/schemas/jobs/{name}", 404, &body);
    gateway.stop().await;
}

#[tokio::test]
async fn cross_origin_state_changes_and_websockets_are_refused() {
    let gateway = gateway_without_services().await;
    let url = gateway.url(&format!("/api/v1/vms/{VM}/stop"));
    let foreign = send(
        Method::POST,
        &url,
        &[("origin", "http://evil.example")],
        b"",
    )
    .await;
    let body = assert_error(&foreign, 403, "PERMISSION_DENIED", None);
    check("POST", "/api/v1/vms/{id}/stop", 403, &body);
    let fetch = send(Method::POST, &url, &[("sec-fetch-site", "cross-site")], b"").await;
    assert_eq!(fetch.status, StatusCode::FORBIDDEN);
    // The same origin passes the guard (and then finds inventory down).
    let origin = format!("http://{}", gateway.addr);
    let same = send(Method::POST, &url, &[("origin", origin.as_str())], b"").await;
    assert_eq!(same.status, StatusCode::SERVICE_UNAVAILABLE);

    let mut request = match gateway.ws_url().into_client_request() {
        Ok(request) => request,
        Err(error) => panic!("bad ws url: {error}"),
    };
    request.headers_mut().insert(
        "origin",
        http::HeaderValue::from_static("http://evil.example"),
    );
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
        }
        other => panic!(
            "a cross-origin websocket must be refused, got {:?}",
            other.map(|(_, r)| r.status())
        ),
    }
    gateway.stop().await;
}

#[tokio::test]
async fn request_ids_are_echoed_when_valid_and_made_otherwise() {
    let gateway = gateway_without_services().await;
    let echoed = send(
        Method::GET,
        &gateway.url("/healthz"),
        &[("x-request-id", "req-42.a")],
        b"",
    )
    .await;
    assert_eq!(echoed.header("x-request-id"), Some("req-42.a"));
    let replaced = send(
        Method::GET,
        &gateway.url("/healthz"),
        &[("x-request-id", "bad id!")],
        b"",
    )
    .await;
    let id = replaced.header("x-request-id").unwrap_or_default();
    assert!(
        id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn openapi_docs_static_files_and_fallbacks() {
    let gateway = gateway_without_services().await;
    let document = get(&gateway.url("/api/v1/openapi.json")).await;
    assert_eq!(document.status, StatusCode::OK);
    assert_eq!(
        document.body.as_ref(),
        include_bytes!("../openapi.json").as_slice()
    );
    assert_security_headers(&document, "openapi");
    let etag = document.header("etag").unwrap_or_default().to_string();
    assert!(etag.starts_with('"'));
    let cached = send(
        Method::GET,
        &gateway.url("/api/v1/openapi.json"),
        &[("if-none-match", etag.as_str())],
        b"",
    )
    .await;
    assert_eq!(cached.status, StatusCode::NOT_MODIFIED);
    assert_security_headers(&cached, "304");

    let page = get(&gateway.url("/docs")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.text().contains("/docs/docs.js"));
    assert!(
        !page.text().contains("<script>") && !page.text().contains("style="),
        "no inline script or style"
    );
    assert_security_headers(&page, "/docs");
    let script = get(&gateway.url("/docs/docs.js")).await;
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let missing = get(&gateway.url("/docs/nope.js")).await;
    let body = assert_error(&missing, 404, "NOT_FOUND", None);
    check("GET", "/docs/{file}", 404, &body);

    let unknown_api = get(&gateway.url("/api/v1/nothing/here")).await;
    assert_error(&unknown_api, 404, "NOT_FOUND", None);
    assert_security_headers(&unknown_api, "api 404");
    let wrong_method = send(Method::DELETE, &gateway.url("/api/v1/vms"), &[], b"").await;
    assert_error(&wrong_method, 404, "NOT_FOUND", None);
    let missing_file = get(&gateway.url("/assets/missing.js")).await;
    assert_error(&missing_file, 404, "NOT_FOUND", None);

    // Deep links serve the UI's index.html when the UI is built in.
    let deep = get(&gateway.url(&format!("/vms/{VM}"))).await;
    match aetherv_gateway::assets::find(aetherv_gateway::assets::UI, "index.html") {
        Some(index) => {
            assert_eq!(deep.status, StatusCode::OK);
            assert_eq!(deep.body.as_ref(), index.body);
            assert_eq!(
                deep.header("content-type"),
                Some("text/html; charset=utf-8")
            );
            for link in ["/hosts/hv01.lab", "/clusters/c1", "/"] {
                let reply = get(&gateway.url(link)).await;
                assert_eq!(reply.body.as_ref(), index.body, "{link}");
                assert_security_headers(&reply, link);
            }
        }
        None => {
            assert_error(&deep, 404, "NOT_FOUND", None);
        }
    }
    assert_security_headers(&deep, "deep link");
    gateway.stop().await;
}

#[tokio::test]
async fn large_responses_are_gzip_compressed_when_accepted() {
    let gateway = gateway_without_services().await;
    let plain = get(&gateway.url("/api/v1/openapi.json")).await;
    assert_eq!(plain.header("content-encoding"), None);
    let compressed = send(
        Method::GET,
        &gateway.url("/api/v1/openapi.json"),
        &[("accept-encoding", "gzip")],
        b"",
    )
    .await;
    assert_eq!(compressed.header("content-encoding"), Some("gzip"));
    assert_eq!(compressed.body, plain.body);
    assert!(
        compressed.wire_bytes * 4 < plain.wire_bytes,
        "gzip shrinks the document"
    );
    let small = send(
        Method::GET,
        &gateway.url("/healthz"),
        &[("accept-encoding", "gzip")],
        b"",
    )
    .await;
    assert_eq!(
        small.header("content-encoding"),
        None,
        "small bodies stay plain"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn without_dev_mode_the_gateway_serves_in_diagnostic_mode() {
    let mut config = config_without_services().await;
    config.dev_mode = false;
    let gateway = Gateway::start(config).await;
    let health = get(&gateway.url("/healthz")).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.header("x-aetherv-mode"), None);
    let api = get(&gateway.url("/api/v1/vms")).await;
    let body = assert_error(&api, 503, "UNAVAILABLE", None);
    check("GET", "/api/v1/vms", 503, &body);
    assert!(
        body["error"]["details"]["reasons"][0]
            .as_str()
            .is_some_and(|r| r.starts_with("gateway.dev_mode")),
        "{body}"
    );
    let ready = get(&gateway.url("/readyz")).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        ready.json()["issues"][0]
            .as_str()
            .is_some_and(|r| r.starts_with("gateway.dev_mode"))
    );
    let about = get(&gateway.url("/api/v1/about")).await;
    assert_eq!(about.status, StatusCode::OK);
    check("GET", "/api/v1/about", 200, &about.json());
    assert_eq!(about.json()["dev_mode"], false);
    gateway.stop().await;
}

#[tokio::test]
async fn websocket_protocol_rules_hold_without_any_service() {
    let mut config = config_without_services().await;
    config.websocket.idle_timeout = Duration::from_secs(2);
    config.websocket.ping_interval = Duration::from_secs(1);
    config.websocket.max_connections = 2;
    let gateway = Gateway::start(config).await;
    let wait = Duration::from_secs(5);

    let (mut stream, response) = match tokio_tungstenite::connect_async(gateway.ws_url()).await {
        Ok(pair) => pair,
        Err(error) => panic!("connect: {error}"),
    };
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(
        response
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok()),
        Some(CSP),
        "the upgrade response carries the security headers too"
    );
    drop(futures::StreamExt::next(&mut stream).await);
    drop(stream);

    let mut client = WsClient::connect(&gateway.ws_url()).await;
    let hello = client.next(wait).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["protocol"], 1);
    assert_eq!(
        hello["topics"],
        json!(["inventory", "jobs", "jobs:<job id>", "notifications"])
    );
    assert_eq!(hello["idle_timeout_seconds"], 2);

    client.send(json!({"type": "ping", "id": "p1"})).await;
    let pong = client.next(wait).await;
    assert_eq!(
        (pong["type"].clone(), pong["id"].clone()),
        (json!("pong"), json!("p1"))
    );

    client.send_text("not json").await;
    let error = client.next(wait).await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["details"]["field"], "message");

    client
        .send(json!({"type": "subscribe", "topics": [{"topic": "inventory", "after": "x"}]}))
        .await;
    let error = client.next(wait).await;
    assert_eq!(error["error"]["code"], "INVALID_ARGUMENT");
    assert_eq!(error["error"]["details"]["field"], "topics[0].after");

    // Topics of services that are down are accepted, say they are down, and wait; a
    // malformed job topic and an unknown topic are refused.
    let job = "jobs:job-3f2a9c1e-0b4d-4e8f-9a51-6c2d7e8f9a01";
    client
        .send(json!({"type": "subscribe", "topics": ["jobs", "jobs:job-1", job, "weather"]}))
        .await;
    let mut frames = Vec::new();
    while !frames
        .iter()
        .any(|f: &Value| f["type"] == "error" && f["topic"] == "weather")
    {
        frames.push(client.next(wait).await);
    }
    let of = |kind: &str, topic: &str| {
        frames
            .iter()
            .find(|f| f["type"] == kind && f["topic"] == topic)
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} for {topic} in {frames:?}"))
    };
    of("subscribed", "jobs");
    of("subscribed", job);
    let malformed = of("error", "jobs:job-1");
    assert_eq!(
        malformed["error"]["code"], "INVALID_ARGUMENT",
        "{malformed}"
    );
    assert_eq!(of("error", "weather")["error"]["code"], "INVALID_ARGUMENT");
    let mut down = frames
        .iter()
        .filter(|f| f["type"] == "topic_status")
        .cloned()
        .collect::<Vec<_>>();
    while down.len() < 2 {
        down.push(client.next_of_type("topic_status", wait).await);
    }
    for status in &down {
        assert_eq!(status["status"], "down", "{status}");
        assert!(
            status["reason"]
                .as_str()
                .is_some_and(|r| r.contains("jobs")),
            "the reason names the service: {status}"
        );
    }

    // Inventory is down: the subscription is accepted, says so, and waits for the stream.
    client
        .send(json!({"type": "subscribe", "topics": ["inventory"]}))
        .await;
    let subscribed = client.next(wait).await;
    assert_eq!(
        subscribed,
        json!({"type": "subscribed", "topic": "inventory", "after": null})
    );
    let status = client.next_of_type("topic_status", wait).await;
    assert_eq!(
        (status["topic"].clone(), status["status"].clone()),
        (json!("inventory"), json!("down"))
    );

    // Connection limit: this one and the one above fill it.
    let mut second = WsClient::connect(&gateway.ws_url()).await;
    assert_eq!(second.next(wait).await["type"], "hello");
    match tokio_tungstenite::connect_async(gateway.ws_url()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        }
        other => panic!(
            "a third connection must be refused, got {:?}",
            other.map(|(_, r)| r.status())
        ),
    }

    // A binary frame closes the connection (1003); silence too (1000).
    second.send_binary(vec![1, 2, 3]).await;
    let closed = second.next_of_type("__close", wait).await;
    assert_eq!(closed["code"], 1003);
    let closed = client
        .next_of_type("__close", Duration::from_secs(10))
        .await;
    assert_eq!(closed["code"], 1000);
    assert_eq!(closed["reason"], "idle timeout");
    gateway.stop().await;
}

#[tokio::test]
async fn a_service_that_does_not_answer_in_time_is_a_504() {
    // A peer that accepts connections and never answers: the call times out.
    let black_hole = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(error) => panic!("bind: {error}"),
    };
    let endpoint = match black_hole.local_addr() {
        Ok(addr) => format!("http://{addr}"),
        Err(error) => panic!("address: {error}"),
    };
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = black_hole.accept().await {
            held.push(socket);
        }
    });
    let mut config = config_without_services().await;
    config.inventory.endpoint = endpoint;
    config.inventory.request_timeout = Duration::from_millis(300);
    let gateway = Gateway::start(config).await;
    for (path, route) in [
        ("/api/v1/vms", "/api/v1/vms"),
        ("/api/v1/hosts/hv01", "/api/v1/hosts/{host}"),
    ] {
        let reply = get(&gateway.url(path)).await;
        let body = assert_error(&reply, 504, "DEADLINE_EXCEEDED", None);
        assert_eq!(body["error"]["details"]["dependency"], "inventory");
        check("GET", route, 504, &body);
        assert_security_headers(&reply, path);
    }
    gateway.stop().await;
    holder.abort();
}

#[tokio::test]
async fn shutdown_closes_websockets_with_1001_and_drains() {
    let gateway = gateway_without_services().await;
    let mut client = WsClient::connect(&gateway.ws_url()).await;
    assert_eq!(client.next(Duration::from_secs(5)).await["type"], "hello");
    let stopping = tokio::spawn(gateway.stop());
    let closed = client
        .next_of_type("__close", Duration::from_secs(10))
        .await;
    assert_eq!(closed["code"], 1001);
    assert_eq!(closed["reason"], "server shutting down");
    match tokio::time::timeout(Duration::from_secs(10), stopping).await {
        Ok(Ok(())) => {}
        other => panic!("the gateway did not drain: {other:?}"),
    }
}

#[tokio::test]
async fn an_oversized_message_closes_the_connection_with_1009() {
    let mut config = config_without_services().await;
    config.websocket.max_message_bytes = 1024;
    let gateway = Gateway::start(config).await;
    let mut client = WsClient::connect(&gateway.ws_url()).await;
    assert_eq!(client.next(Duration::from_secs(5)).await["type"], "hello");
    let big = format!("{{\"type\":\"ping\",\"id\":\"{}\"}}", "x".repeat(2000));
    client.send_text(&big).await;
    let closed = client
        .next_of_type("__close", Duration::from_secs(10))
        .await;
    assert_eq!(closed["code"], 1009, "{closed}");
    gateway.stop().await;
}
