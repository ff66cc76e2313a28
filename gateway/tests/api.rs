//! The REST API end to end: a simulated fleet reached over real WinRM by remote-tasks,
//! inventory refreshing through remote-tasks over gRPC, and the gateway in front. Every
//! route's status and body (checked against the OpenAPI document and against the
//! simulator's own model), filters, sort, paging, `all=true`, 404s, 400s from the
//! services, and power actions changing the VM in the simulator and then in the API.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aetherv_hyperv::Vm as SimVm;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use support::http::{get, post, send};
use support::openapi::check;
use support::stack::Stack;
use support::wait_for;

const UNKNOWN_VM: &str = "00000000-0000-4000-8000-000000000000";

/// Every VM of the simulator, by id, with its host.
fn sim_vms(stack: &Stack) -> BTreeMap<String, (String, SimVm)> {
    let mut vms = BTreeMap::new();
    for host in stack.fleet.hosts() {
        for vm in host.vms() {
            vms.insert(vm.id.to_string(), (host.name().to_lowercase(), vm));
        }
    }
    vms
}

fn state_name(vm: &SimVm) -> String {
    match vm.state.as_str() {
        "Reset" => "resetting".to_string(),
        other => other.to_lowercase(),
    }
}

async fn get_ok(stack: &Stack, path: &str, route: &str) -> Value {
    let reply = get(&stack.url(path)).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
    let body = reply.json();
    check("GET", route, 200, &body);
    body
}

fn ids(page: &Value) -> Vec<String> {
    page["vms"]
        .as_array()
        .map(|vms| {
            vms.iter()
                .filter_map(|vm| vm["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_route_answers_what_the_fleet_holds() {
    let stack = Stack::builder().start().await;
    let sim = sim_vms(&stack);
    let sim_hosts: Vec<_> = stack.fleet.hosts().to_vec();

    let summary = get_ok(&stack, "/api/v1/inventory", "/api/v1/inventory").await;
    assert_eq!(summary["counts"]["hosts"], 3);
    assert_eq!(summary["counts"]["vms"], 24);
    assert_eq!(summary["counts"]["clusters"], 1);
    assert_eq!(summary["counts"]["standalone_hosts"], 1);
    assert_eq!(summary["counts"]["hosts_by_status"]["reachable"], 3);
    let running = sim
        .values()
        .filter(|(_, vm)| state_name(vm) == "running")
        .count();
    assert_eq!(summary["counts"]["vms_by_state"]["running"], running as u64);
    assert_eq!(summary["hosts"].as_array().map(Vec::len), Some(3));
    assert_eq!(summary["clusters"].as_array().map(Vec::len), Some(1));
    assert!(
        summary.get("vms").is_none(),
        "the summary does not list vms"
    );
    assert_eq!(summary["refresh"]["initial_refresh_done"], true);

    let clusters = get_ok(&stack, "/api/v1/clusters", "/api/v1/clusters").await;
    let cluster = clusters["clusters"][0].clone();
    let cluster_name = cluster["name"].as_str().unwrap_or_default().to_string();
    let members: BTreeSet<String> = sim_hosts
        .iter()
        .filter(|h| h.cluster().is_some())
        .map(|h| h.name().to_lowercase())
        .collect();
    let listed: BTreeSet<String> = cluster["hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h.as_str().map(String::from))
        .collect();
    assert_eq!(listed, members);
    assert_eq!(cluster["vm_count"], 16);
    let one = get_ok(
        &stack,
        &format!("/api/v1/clusters/{cluster_name}"),
        "/api/v1/clusters/{name}",
    )
    .await;
    assert_eq!(one, cluster);
    let missing = get(&stack.url("/api/v1/clusters/no-such-cluster")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    check("GET", "/api/v1/clusters/{name}", 404, &missing.json());

    let hosts = get_ok(&stack, "/api/v1/hosts", "/api/v1/hosts").await;
    assert_eq!(hosts["hosts"].as_array().map(Vec::len), Some(3));
    let standalone = get_ok(&stack, "/api/v1/hosts?cluster=-", "/api/v1/hosts").await;
    assert_eq!(standalone["hosts"].as_array().map(Vec::len), Some(1));
    assert_eq!(standalone["hosts"][0]["cluster"], Value::Null);
    let clustered = get_ok(
        &stack,
        &format!("/api/v1/hosts?cluster={cluster_name}"),
        "/api/v1/hosts",
    )
    .await;
    assert_eq!(clustered["hosts"].as_array().map(Vec::len), Some(2));
    let unreachable = get_ok(&stack, "/api/v1/hosts?status=unreachable", "/api/v1/hosts").await;
    assert_eq!(unreachable["hosts"], json!([]));

    for sim_host in &sim_hosts {
        let name = sim_host.name().to_lowercase();
        let host = get_ok(
            &stack,
            &format!("/api/v1/hosts/{name}"),
            "/api/v1/hosts/{host}",
        )
        .await;
        assert_eq!(host["name"], name.as_str());
        assert_eq!(host["status"], "reachable");
        assert_eq!(host["vm_count"], 8);
        assert_eq!(
            host["cluster"].as_str().is_some(),
            sim_host.cluster().is_some()
        );
        assert!(host["last_seen"].is_string() && host["cpu_cores"].as_u64() > Some(0));
        let page = get_ok(
            &stack,
            &format!("/api/v1/hosts/{}/vms", name.to_uppercase()),
            "/api/v1/hosts/{host}/vms",
        )
        .await;
        assert_eq!(page["total_size"], 8);
        assert!(
            page["vms"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|vm| vm["host"] == name.as_str())
        );
    }
    let missing = get(&stack.url("/api/v1/hosts/no-such-host.example")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    check("GET", "/api/v1/hosts/{host}", 404, &missing.json());
    let missing = get(&stack.url("/api/v1/hosts/no-such-host.example/vms")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    check("GET", "/api/v1/hosts/{host}/vms", 404, &missing.json());

    let all = get_ok(&stack, "/api/v1/vms", "/api/v1/vms").await;
    assert_eq!(all["total_size"], 24);
    assert_eq!(all["next_page_token"], Value::Null);
    assert_eq!(
        ids(&all).into_iter().collect::<BTreeSet<_>>(),
        sim.keys().cloned().collect()
    );

    // Each VM by id matches the simulator's model field by field.
    for (id, (host, vm)) in &sim {
        let body = get_ok(
            &stack,
            &format!("/api/v1/vms/{}", id.to_uppercase()),
            "/api/v1/vms/{id}",
        )
        .await;
        assert_eq!(body["id"], id.as_str());
        assert_eq!(body["host"], host.as_str());
        assert_eq!(body["name"], vm.name.as_str());
        assert_eq!(body["state"], state_name(vm));
        assert_eq!(body["cpu_count"], vm.cpu_count);
        assert_eq!(body["memory_startup_bytes"], vm.memory_startup_bytes);
        assert_eq!(body["memory_assigned_bytes"], vm.memory_assigned_bytes);
        assert_eq!(body["dynamic_memory_enabled"], vm.dynamic_memory_enabled);
        assert_eq!(body["memory_minimum_bytes"], json!(vm.memory_minimum_bytes));
        assert_eq!(body["memory_maximum_bytes"], json!(vm.memory_maximum_bytes));
        assert_eq!(body["generation"], u64::from(vm.generation.number()));
        assert_eq!(
            body["configuration_version"],
            vm.configuration_version.as_str()
        );
        assert_eq!(body["notes"], vm.notes.as_str());
        assert_eq!(body["os_name"], json!(vm.guest_os_name));
        assert_eq!(body["clustered"], vm.clustered);
        let macs: Vec<&str> = vm.nics.iter().map(|n| n.mac_address.as_str()).collect();
        let listed: Vec<&str> = body["nics"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n["mac_address"].as_str())
            .collect();
        assert_eq!(listed, macs);
        assert_eq!(body["disks"].as_array().map(Vec::len), Some(vm.disks.len()));
        let ips: BTreeSet<String> = vm.ip_addresses.iter().map(ToString::to_string).collect();
        let listed: BTreeSet<String> = body["ip_addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|ip| ip.as_str().map(String::from))
            .collect();
        assert_eq!(listed, ips);
    }
    let missing = get(&stack.url(&format!("/api/v1/vms/{UNKNOWN_VM}"))).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let body = missing.json();
    check("GET", "/api/v1/vms/{id}", 404, &body);
    assert_eq!(body["error"]["code"], "NOT_FOUND");

    let about = get_ok(&stack, "/api/v1/about", "/api/v1/about").await;
    assert_eq!(about["dev_mode"], true);
    let ready = get(&stack.url("/readyz")).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text());
    let ready = ready.json();
    check("GET", "/readyz", 200, &ready);
    assert_eq!(ready["not_ready"], json!([]));
    let services: Vec<&str> = ready["dependencies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["service"].as_str())
        .collect();
    assert_eq!(
        services,
        [
            "aetherv-inventory",
            "aetherv-remote-tasks",
            "aetherv-jobs",
            "aetherv-notifications"
        ]
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_sort_paging_and_the_whole_list() {
    let stack = Stack::builder().start().await;
    let sim = sim_vms(&stack);

    // State filter (comma list, any case) against the simulator.
    let wanted: BTreeSet<String> = sim
        .iter()
        .filter(|(_, (_, vm))| matches!(state_name(vm).as_str(), "running" | "off"))
        .map(|(id, _)| id.clone())
        .collect();
    let page = get_ok(&stack, "/api/v1/vms?state=Running,off", "/api/v1/vms").await;
    assert_eq!(ids(&page).into_iter().collect::<BTreeSet<_>>(), wanted);
    assert_eq!(page["total_size"], wanted.len() as u64);

    // Name search: a substring of one VM's name, case-insensitive.
    let Some((_, (_, sample))) = sim.iter().next() else {
        panic!("no vms")
    };
    let needle: String = sample.name.chars().skip(1).take(4).collect();
    let expected: BTreeSet<String> = sim
        .iter()
        .filter(|(_, (_, vm))| vm.name.to_lowercase().contains(&needle.to_lowercase()))
        .map(|(id, _)| id.clone())
        .collect();
    let page = get_ok(
        &stack,
        &format!("/api/v1/vms?q={}", needle.to_uppercase()),
        "/api/v1/vms",
    )
    .await;
    assert_eq!(ids(&page).into_iter().collect::<BTreeSet<_>>(), expected);

    // Host and cluster filters.
    let host = stack.fleet.hosts()[0].name().to_lowercase();
    let page = get_ok(&stack, &format!("/api/v1/vms?host={host}"), "/api/v1/vms").await;
    assert_eq!(page["total_size"], 8);
    let page = get_ok(&stack, "/api/v1/vms?cluster=-", "/api/v1/vms").await;
    assert_eq!(page["total_size"], 8);

    // Sort: by cpu descending, ties by id.
    let page = get_ok(
        &stack,
        "/api/v1/vms?sort=cpu_count&order=desc",
        "/api/v1/vms",
    )
    .await;
    let cpus: Vec<u64> = page["vms"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|vm| vm["cpu_count"].as_u64())
        .collect();
    assert_eq!(cpus.len(), 24);
    assert!(cpus.windows(2).all(|w| w[0] >= w[1]), "{cpus:?}");
    let by_name = get_ok(&stack, "/api/v1/vms?sort=name", "/api/v1/vms").await;
    let names: Vec<String> = by_name["vms"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|vm| vm["name"].as_str().map(String::from))
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    // Paging: pages of 5 walk the whole sorted list once, in order.
    let mut walked = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..10 {
        let path = match &token {
            Some(token) => format!("/api/v1/vms?sort=name&page_size=5&page_token={token}"),
            None => "/api/v1/vms?sort=name&page_size=5".to_string(),
        };
        let page = get_ok(&stack, &path, "/api/v1/vms").await;
        assert_eq!(page["total_size"], 24);
        assert!(page["vms"].as_array().map(Vec::len) <= Some(5));
        walked.extend(ids(&page));
        token = page["next_page_token"].as_str().map(String::from);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(
        walked,
        ids(&by_name),
        "paging returns each vm once, in order"
    );
    let bad = get(&stack.url("/api/v1/vms?page_token=not-a-token")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text());
    let body = bad.json();
    check("GET", "/api/v1/vms", 400, &body);
    assert_eq!(
        body["error"]["details"]["parameter"], "page_token",
        "{body}"
    );

    // The whole list in one response: streamed, gzip when accepted, same content.
    let whole = send(
        Method::GET,
        &stack.url("/api/v1/vms?all=true&sort=name"),
        &[("accept-encoding", "gzip")],
        b"",
    )
    .await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(whole.header("content-encoding"), Some("gzip"));
    let body = whole.json();
    check("GET", "/api/v1/vms", 200, &body);
    assert_eq!(body["total_size"], 24);
    assert_eq!(body["next_page_token"], Value::Null);
    assert_eq!(ids(&body), ids(&by_name));
    let filtered = get(&stack.url("/api/v1/vms?all=true&state=running"))
        .await
        .json();
    assert_eq!(
        filtered["vms"].as_array().map(Vec::len),
        filtered["total_size"].as_u64().map(|n| n as usize)
    );
    assert!(
        filtered["vms"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|vm| vm["state"] == "running")
    );
    let empty = get(&stack.url("/api/v1/vms?all=true&q=no-vm-has-this-name"))
        .await
        .json();
    assert_eq!(
        empty,
        json!({"revision": empty["revision"], "total_size": 0, "offset": 0,
               "next_page_token": null, "prev_page_token": null, "vms": []})
    );
    stack.stop().await;
}

/// Posts a power action, checks the 202, and waits until the host's operation log shows
/// the job's operation finished successfully (the job id is the agent's correlation id).
async fn power(stack: &Stack, host: &str, id: &str, action: &str) -> Value {
    let route = format!("/api/v1/vms/{{id}}/{action}");
    let reply = send(
        Method::POST,
        &stack.url(&format!("/api/v1/vms/{id}/{action}")),
        &[(
            "x-request-id",
            format!("test-{action}-{}", uuid_like()).as_str(),
        )],
        b"",
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::ACCEPTED,
        "{action}: {}",
        reply.text()
    );
    let body = reply.json();
    check("POST", &route, 202, &body);
    let Some(job_id) = body["job_id"].as_str().map(String::from) else {
        panic!("{action}: no job id: {body}");
    };
    let sim_host = match stack.fleet.host(host) {
        Ok(host) => host,
        Err(error) => panic!("sim host {host}: {error}"),
    };
    wait_for(
        &format!("{action} of {id} to finish on the host"),
        Duration::from_secs(30),
        || {
            let done = sim_host.operations().iter().any(|record| {
                record.correlation_id.as_deref() == Some(job_id.as_str())
                    && record.outcome == aetherv_hvsim::Outcome::Ok
            });
            async move { done.then_some(()) }
        },
    )
    .await;
    body
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    )
}

async fn wait_state(stack: &Stack, host: &str, id: &str, state: &str) {
    let sim_host = match stack.fleet.host(host) {
        Ok(host) => host,
        Err(error) => panic!("sim host {host}: {error}"),
    };
    let vm_id = match id.parse() {
        Ok(vm_id) => vm_id,
        Err(error) => panic!("vm id {id}: {error:?}"),
    };
    wait_for(
        &format!("{id} to be {state} in the simulator"),
        Duration::from_secs(30),
        || {
            let seen = sim_host.vm(vm_id).map(|vm| state_name(&vm));
            async move { (seen.as_deref() == Some(state)).then_some(()) }
        },
    )
    .await;
    let url = stack.url(&format!("/api/v1/vms/{id}"));
    wait_for(
        &format!("{id} to be {state} in the api"),
        Duration::from_secs(30),
        || {
            let url = url.clone();
            async move { (get(&url).await.json()["state"] == state).then_some(()) }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_actions_change_the_vm_on_the_host_and_then_in_the_api() {
    // A long refresh interval: the state reaches the API through the refresh each job
    // step asks inventory for.
    let stack = Stack::builder()
        .refresh_interval(Duration::from_secs(600))
        .start()
        .await;
    let sim = sim_vms(&stack);
    let Some((id, (host, _))) = sim.iter().find(|(_, (_, vm))| state_name(vm) == "running") else {
        panic!("the fleet has no running vm");
    };
    let (id, host) = (id.clone(), host.clone());

    let body = power(&stack, &host, &id, "stop").await;
    assert_eq!(body["status"], "accepted");
    assert_eq!(body["action"], "stop");
    assert_eq!(body["previous_state"], "running");
    assert_eq!(body["vm"]["id"], id.as_str());
    assert_eq!(body["task_id"], Value::Null);
    assert!(
        body["job_id"]
            .as_str()
            .is_some_and(|t| t.starts_with("job-")),
        "{body}"
    );
    assert_eq!(body["job"]["type"], "stop_vm");
    wait_state(&stack, &host, &id, "off").await;
    let vm = get(&stack.url(&format!("/api/v1/vms/{id}"))).await.json();
    assert_eq!(vm["power_actions"], json!(["start"]));
    let running = get(&stack.url("/api/v1/vms?state=running")).await.json();
    assert_eq!(
        running["vms"][0]["power_actions"],
        json!(["shutdown", "stop", "reset", "save", "pause"])
    );

    // Off: stopping again is refused with the current state and what would be allowed.
    let refused = post(&stack.url(&format!("/api/v1/vms/{id}/stop"))).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    let body = refused.json();
    check("POST", "/api/v1/vms/{id}/stop", 409, &body);
    assert_eq!(body["error"]["code"], "FAILED_PRECONDITION");
    assert_eq!(body["error"]["details"]["vm_state"], "off");
    assert_eq!(
        body["error"]["details"]["allowed_states"],
        json!(["running", "paused", "saved"])
    );
    for action in ["shutdown", "reset"] {
        let refused = post(&stack.url(&format!("/api/v1/vms/{id}/{action}"))).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{action}");
        assert_eq!(
            refused.json()["error"]["details"]["allowed_states"],
            json!(["running"])
        );
    }

    power(&stack, &host, &id, "start").await;
    wait_state(&stack, &host, &id, "running").await;
    let refused = post(&stack.url(&format!("/api/v1/vms/{id}/start"))).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.json()["error"]["details"]["vm_state"], "running");

    power(&stack, &host, &id, "reset").await;
    wait_state(&stack, &host, &id, "running").await;

    power(&stack, &host, &id, "shutdown").await;
    wait_state(&stack, &host, &id, "off").await;

    let unknown = post(&stack.url(&format!("/api/v1/vms/{UNKNOWN_VM}/start"))).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    check("POST", "/api/v1/vms/{id}/start", 404, &unknown.json());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_goes_down_turns_readiness_and_its_routes_to_503() {
    let mut stack = Stack::builder().start().await;
    let Some((id, _)) = sim_vms(&stack).into_iter().next() else {
        panic!("no vms")
    };

    stack.stop_service("remote_tasks").await;
    // Jobs needs remote-tasks too: it says it is not serving, and why.
    let url = stack.url("/readyz");
    let body = wait_for(
        "jobs to notice remote-tasks is gone",
        Duration::from_secs(20),
        || {
            let url = url.clone();
            async move {
                let reply = get(&url).await;
                let body = reply.json();
                (reply.status == StatusCode::SERVICE_UNAVAILABLE
                    && body["not_ready"] == json!(["remote_tasks", "jobs"]))
                .then_some(body)
            }
        },
    )
    .await;
    check("GET", "/readyz", 503, &body);
    let jobs = body["dependencies"]
        .as_array()
        .and_then(|list| list.iter().find(|d| d["name"] == "jobs").cloned())
        .unwrap_or_default();
    assert!(
        jobs["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r.as_str().is_some_and(|r| r.contains("remote-tasks"))),
        "{jobs}"
    );
    // Reads still work: inventory is up.
    assert_eq!(get(&stack.url("/api/v1/vms")).await.status, StatusCode::OK);
    stack.stop_service("jobs").await;
    let power = post(&stack.url(&format!("/api/v1/vms/{id}/stop"))).await;
    assert_eq!(
        power.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        power.text()
    );
    let body = power.json();
    check("POST", "/api/v1/vms/{id}/stop", 503, &body);
    assert_eq!(body["error"]["details"]["dependency"], "jobs");
    let jobs = get(&stack.url("/api/v1/jobs")).await;
    assert_eq!(jobs.status, StatusCode::SERVICE_UNAVAILABLE);

    stack.stop_service("inventory").await;
    let ready = get(&stack.url("/readyz")).await.json();
    assert_eq!(
        ready["not_ready"],
        json!(["inventory", "remote_tasks", "jobs"])
    );
    for path in [
        "/api/v1/vms",
        "/api/v1/inventory",
        &format!("/api/v1/vms/{id}"),
    ] {
        let reply = get(&stack.url(path)).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(
            reply.json()["error"]["details"]["dependency"],
            "inventory",
            "{path}"
        );
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_shows_a_services_configuration_errors() {
    support::init_logs();
    // remote-tasks without a WinRM user: it serves, NOT_SERVING, and says why.
    let config = aetherv_remote_tasks::Config::for_testing(
        vec![aetherv_remote_tasks::HostEntry::named("hv01.lab.example")],
        "",
        "not-used",
    );
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(error) => panic!("bind: {error}"),
    };
    let remote_tasks = match listener.local_addr() {
        Ok(addr) => format!("http://{addr}"),
        Err(error) => panic!("address: {error}"),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = tokio::spawn(aetherv_remote_tasks::serve(config, listener, async {
        let _ = stopped.await;
    }));
    let mut config =
        aetherv_gateway::Config::for_testing(&support::closed_endpoint().await, &remote_tasks);
    config.jobs.endpoint = support::closed_endpoint().await;
    config.notifications.endpoint = support::closed_endpoint().await;
    let gateway = support::Gateway::start(config).await;
    let body = wait_for(
        "remote-tasks to report its configuration",
        Duration::from_secs(20),
        || {
            let url = gateway.url("/readyz");
            async move {
                let body = get(&url).await.json();
                let remote = body["dependencies"]
                    .as_array()
                    .and_then(|list| list.iter().find(|d| d["name"] == "remote_tasks").cloned())?;
                (remote["health"] == "not_serving").then_some(body)
            }
        },
    )
    .await;
    check("GET", "/readyz", 503, &body);
    let remote = body["dependencies"]
        .as_array()
        .and_then(|list| list.iter().find(|d| d["name"] == "remote_tasks").cloned())
        .unwrap_or_default();
    assert_eq!(remote["service"], "aetherv-remote-tasks");
    assert!(
        remote["reasons"].as_array().into_iter().flatten().any(|r| r
            .as_str()
            .is_some_and(|r| r.contains("remote_tasks.winrm.username"))),
        "{remote}"
    );
    assert!(
        !body.to_string().contains("not-used"),
        "no secret in readiness"
    );
    gateway.stop().await;
    let _ = stop.send(());
    let _ = service.await;
}
