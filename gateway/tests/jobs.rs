//! Mutations through REST, end to end: the simulated fleet over real WinRM, remote-tasks,
//! inventory, notifications and jobs over gRPC, and the gateway in front. A managed
//! deployment creates a VM that inventory then shows with its disks and adapters; every
//! power action and every CPU/memory/notes, disk and adapter change shows in the simulator
//! and in `/api/v1/vms`; delete removes the VM; two jobs on one VM run one after the other;
//! an invalid spec is a 422 naming the field and the simulator's operation log does not
//! move; cancel and retry; bulk power with a result per VM; the jobs list and its pages;
//! notifications. Every body is checked against the OpenAPI document.

mod support;

use std::time::Duration;

use aetherv_hvsim::{FailNext, Outcome, SimHost};
use aetherv_hyperv::{AgentErrorCode, Operation, VmState};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use support::http::{Reply, get, post, send};
use support::openapi::check;
use support::stack::Stack;
use support::wait_for;

const GIB: u64 = 1 << 30;
const UNKNOWN_VM: &str = "00000000-0000-4000-8000-000000000000";
/// How long a job may take here (host operations run at a twentieth of real time).
const JOB_LIMIT: Duration = Duration::from_secs(90);

async fn send_json(stack: &Stack, method: Method, path: &str, body: &Value) -> Reply {
    send(
        method,
        &stack.url(path),
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    )
    .await
}

/// A 202 for `route`: the job id, after checking the body and `Location`.
fn accepted(reply: &Reply, method: &str, route: &str) -> String {
    let body = reply.json();
    assert_eq!(
        reply.status,
        StatusCode::ACCEPTED,
        "{method} {route}: {body}"
    );
    check(method, route, 202, &body);
    let Some(id) = body["job_id"].as_str() else {
        panic!("no job id: {body}");
    };
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/v1/jobs/{id}").as_str())
    );
    assert_eq!(body["job"]["id"], id);
    id.to_string()
}

/// Polls `GET /api/v1/jobs/{id}` until `done` holds.
async fn job_until(stack: &Stack, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let url = stack.url(&format!("/api/v1/jobs/{id}"));
    let deadline = tokio::time::Instant::now() + JOB_LIMIT;
    loop {
        let reply = get(&url).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let last = reply.json();
        if done(&last) {
            check("GET", "/api/v1/jobs/{id}", 200, &last);
            return last;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job {id} never became {what}: {last}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn finished(job: &Value) -> bool {
    matches!(
        job["state"].as_str(),
        Some("succeeded" | "failed" | "cancelled")
    )
}

/// Submits and waits for success; the finished job.
async fn run(stack: &Stack, method: Method, path: &str, route: &str, body: &Value) -> Value {
    let reply = send_json(stack, method.clone(), path, body).await;
    let id = accepted(&reply, method.as_str(), route);
    let job = job_until(stack, &id, "finished", finished).await;
    assert_eq!(job["state"], "succeeded", "{method} {path}: {job}");
    job
}

/// `GET /api/v1/vms/{id}` until `check` holds (inventory refreshes after each step).
async fn vm_until(stack: &Stack, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let url = stack.url(&format!("/api/v1/vms/{id}"));
    wait_for(what, Duration::from_secs(30), || {
        let url = url.clone();
        let check = &check;
        async move {
            let reply = get(&url).await;
            (reply.status == StatusCode::OK)
                .then(|| reply.json())
                .filter(|vm| check(vm))
        }
    })
    .await
}

fn sim_vm(host: &SimHost, id: &str) -> aetherv_hyperv::Vm {
    match host.vms().into_iter().find(|vm| vm.id.to_string() == id) {
        Some(vm) => vm,
        None => panic!("the simulator has no vm {id}"),
    }
}

/// The host's operations that change something (refreshes read only).
fn changes(host: &SimHost) -> Vec<String> {
    host.operations()
        .into_iter()
        .filter_map(|record| record.operation)
        .filter(|op| {
            !matches!(
                op.as_str(),
                "inventory.collect" | "host.resources" | "agent.info"
            )
        })
        .collect()
}

fn encode(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

fn first_host(stack: &Stack) -> SimHost {
    match stack.fleet.hosts().first() {
        Some(host) => host.clone(),
        None => panic!("an empty fleet"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_through_rest_appears_in_inventory_and_every_change_reaches_the_host() {
    let stack = Stack::builder().hosts(2).vms_per_host(2).start().await;
    let host = first_host(&stack);
    let host_name = host.name().to_lowercase();

    // The catalogue the form offers.
    let resources = get(&stack.url(&format!("/api/v1/hosts/{host_name}/resources"))).await;
    assert_eq!(resources.status, StatusCode::OK);
    let resources = resources.json();
    check("GET", "/api/v1/hosts/{host}/resources", 200, &resources);
    let has = |list: &str, name: &str| {
        resources[list]
            .as_array()
            .is_some_and(|items| items.iter().any(|i| i["name"] == name))
    };
    assert!(
        has("storage_classes", "fast-ssd")
            && has("images", "ubuntu-24.04")
            && has("networks", "Production"),
        "{resources}"
    );

    // A managed deployment: VM, boot disk from an image, a data disk, two adapters, start.
    let deployment = run(
        &stack,
        Method::POST,
        "/api/v1/deployments",
        "/api/v1/deployments",
        &json!({
            "host": host_name,
            "vm": {"name": "gw-web-01", "cpu_count": 2, "memory_startup_bytes": 2 * GIB,
                   "image": "ubuntu-24.04", "boot_disk_size_bytes": 64 * GIB,
                   "storage_class": "fast-ssd", "notes": "through the gateway"},
            "disks": [{"size_bytes": 10 * GIB}],
            "nics": [{"network": "Production"},
                     {"switch_name": "External-Switch", "vlan_id": 300}]
        }),
    )
    .await;
    let operations: Vec<&str> = deployment["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["operation"].as_str())
        .collect();
    assert_eq!(
        operations,
        [
            "vm.create",
            "disk.create",
            "disk.create",
            "nic.create",
            "nic.create",
            "vm.power"
        ]
    );
    assert!(
        deployment["output"]
            .as_array()
            .is_some_and(|o| !o.is_empty())
    );
    assert_eq!(
        deployment["created_resources"].as_array().map(Vec::len),
        Some(5)
    );
    let Some(id) = deployment["vm_id"].as_str().map(String::from) else {
        panic!("the deployment names no vm: {deployment}");
    };
    let vm = vm_until(&stack, &id, "the deployed vm running in inventory", |vm| {
        vm["state"] == "running"
            && vm["disks"].as_array().map(Vec::len) == Some(2)
            && vm["nics"].as_array().map(Vec::len) == Some(2)
    })
    .await;
    check("GET", "/api/v1/vms/{id}", 200, &vm);
    assert_eq!(vm["name"], "gw-web-01");
    assert_eq!(vm["notes"], "through the gateway");
    let listed = get(&stack.url("/api/v1/vms?q=gw-web")).await.json();
    assert_eq!(listed["total_size"], 1, "{listed}");
    assert_eq!(listed["vms"][0]["id"], id.as_str());
    let simulated = sim_vm(&host, &id);
    assert_eq!(simulated.state, VmState::Running);
    assert_eq!(simulated.disks[0].capacity_bytes, Some(64 * GIB));

    // Disks and adapters read per VM (ids percent-encoded).
    let disks = get(&stack.url(&format!("/api/v1/vms/{id}/disks")))
        .await
        .json();
    check("GET", "/api/v1/vms/{id}/disks", 200, &disks);
    assert_eq!(disks["disks"].as_array().map(Vec::len), Some(2));
    let Some(data_disk) = disks["disks"][1]["id"].as_str().map(String::from) else {
        panic!("no disk id: {disks}");
    };
    let one = get(&stack.url(&format!("/api/v1/vms/{id}/disks/{}", encode(&data_disk)))).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text());
    check("GET", "/api/v1/vms/{id}/disks/{disk_id}", 200, &one.json());
    assert_eq!(one.json()["capacity_bytes"], 10 * GIB);
    let nics = get(&stack.url(&format!("/api/v1/vms/{id}/nics")))
        .await
        .json();
    check("GET", "/api/v1/vms/{id}/nics", 200, &nics);
    let Some(second_nic) = nics["nics"][1]["id"].as_str().map(String::from) else {
        panic!("no nic id: {nics}");
    };
    let one = get(&stack.url(&format!("/api/v1/vms/{id}/nics/{}", encode(&second_nic)))).await;
    check("GET", "/api/v1/vms/{id}/nics/{nic_id}", 200, &one.json());
    assert_eq!(one.json()["vlan_id"], 300);
    let missing = get(&stack.url(&format!("/api/v1/vms/{id}/nics/nothing"))).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Every power action, through REST, in the simulator and then in the API.
    for (action, state) in [
        ("pause", "paused"),
        ("resume", "running"),
        ("save", "saved"),
        ("start", "running"),
        ("reset", "running"),
        ("shutdown", "off"),
        ("start", "running"),
        ("stop", "off"),
    ] {
        let path = format!("/api/v1/vms/{id}/{action}");
        let route = format!("/api/v1/vms/{{id}}/{action}");
        let reply = send_json(&stack, Method::POST, &path, &json!({})).await;
        let job_id = accepted(&reply, "POST", &route);
        let body = reply.json();
        assert_eq!(body["action"], action);
        assert_eq!(body["task_id"], Value::Null);
        assert_eq!(body["vm"]["id"], id.as_str());
        let job = job_until(&stack, &job_id, "finished", finished).await;
        assert_eq!(job["state"], "succeeded", "{action}: {job}");
        assert_eq!(job["type"], format!("{action}_vm"));
        assert_eq!(
            sim_vm(&host, &id).state.as_str().to_lowercase(),
            state,
            "{action} in the simulator"
        );
        vm_until(&stack, &id, &format!("{state} after {action}"), |vm| {
            vm["state"] == state
        })
        .await;
    }
    let reset_ran = host
        .operations()
        .iter()
        .any(|r| r.operation.as_deref() == Some("vm.power") && r.outcome == Outcome::Ok);
    assert!(reset_ran);

    // A state that does not allow the action: 409 with the state and the allowed ones.
    let refused = post(&stack.url(&format!("/api/v1/vms/{id}/pause"))).await;
    let body = refused.json();
    assert_eq!(refused.status, StatusCode::CONFLICT, "{body}");
    check("POST", "/api/v1/vms/{id}/pause", 409, &body);
    assert_eq!(body["error"]["code"], "FAILED_PRECONDITION");
    assert_eq!(body["error"]["details"]["vm_state"], "off");
    assert_eq!(
        body["error"]["details"]["allowed_states"],
        json!(["running"])
    );
    let unknown = post(&stack.url(&format!("/api/v1/vms/{UNKNOWN_VM}/start"))).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // CPU, memory, dynamic memory and notes (the VM is off).
    run(
        &stack,
        Method::PATCH,
        &format!("/api/v1/vms/{id}"),
        "/api/v1/vms/{id}",
        &json!({"cpu_count": 4, "memory_startup_bytes": 4 * GIB, "dynamic_memory_enabled": true,
                "memory_minimum_bytes": 2 * GIB, "memory_maximum_bytes": 8 * GIB, "notes": "resized"}),
    )
    .await;
    let simulated = sim_vm(&host, &id);
    assert_eq!(
        (simulated.cpu_count, simulated.memory_startup_bytes),
        (4, 4 * GIB)
    );
    assert_eq!(
        (
            simulated.memory_minimum_bytes,
            simulated.memory_maximum_bytes
        ),
        (Some(2 * GIB), Some(8 * GIB))
    );
    assert_eq!(simulated.notes, "resized");
    vm_until(&stack, &id, "the change in inventory", |vm| {
        vm["cpu_count"] == 4
            && vm["memory_startup_bytes"] == 4 * GIB
            && vm["dynamic_memory_enabled"] == true
            && vm["memory_maximum_bytes"] == 8 * GIB
            && vm["notes"] == "resized"
    })
    .await;

    // Disks: add, grow, remove.
    let added = run(
        &stack,
        Method::POST,
        &format!("/api/v1/vms/{id}/disks"),
        "/api/v1/vms/{id}/disks",
        &json!({"disk": {"size_bytes": 5 * GIB}}),
    )
    .await;
    assert_eq!(added["type"], "create_disk");
    assert_eq!(sim_vm(&host, &id).disks.len(), 3);
    let vm = vm_until(&stack, &id, "three disks", |vm| {
        vm["disks"].as_array().map(Vec::len) == Some(3)
    })
    .await;
    let Some(new_disk) = vm["disks"][2]["id"].as_str().map(String::from) else {
        panic!("no third disk: {vm}");
    };
    let disk_path = format!("/api/v1/vms/{id}/disks/{}", encode(&new_disk));
    run(
        &stack,
        Method::PATCH,
        &disk_path,
        "/api/v1/vms/{id}/disks/{disk_id}",
        &json!({"size_bytes": 8 * GIB}),
    )
    .await;
    assert_eq!(sim_vm(&host, &id).disks[2].capacity_bytes, Some(8 * GIB));
    vm_until(&stack, &id, "the grown disk", |vm| {
        vm["disks"][2]["capacity_bytes"] == 8 * GIB
    })
    .await;
    let shrink = send_json(
        &stack,
        Method::PATCH,
        &disk_path,
        &json!({"size_bytes": 4 * GIB}),
    )
    .await;
    assert_eq!(
        shrink.status,
        StatusCode::CONFLICT,
        "a disk never shrinks: {}",
        shrink.text()
    );
    check(
        "PATCH",
        "/api/v1/vms/{id}/disks/{disk_id}",
        409,
        &shrink.json(),
    );
    let file = sim_vm(&host, &id).disks[2].path.clone();
    run(
        &stack,
        Method::DELETE,
        &disk_path,
        "/api/v1/vms/{id}/disks/{disk_id}",
        &json!({}),
    )
    .await;
    assert_eq!(sim_vm(&host, &id).disks.len(), 2);
    assert!(host.file(&file).is_none(), "the disk file was deleted");
    vm_until(&stack, &id, "two disks again", |vm| {
        vm["disks"].as_array().map(Vec::len) == Some(2)
    })
    .await;

    // Adapters: add, change, remove.
    run(
        &stack,
        Method::POST,
        &format!("/api/v1/vms/{id}/nics"),
        "/api/v1/vms/{id}/nics",
        &json!({"nic": {"network": "Production", "name": "backend"}}),
    )
    .await;
    let simulated = sim_vm(&host, &id);
    assert_eq!(simulated.nics.len(), 3);
    let Some(backend) = simulated
        .nics
        .iter()
        .find(|n| n.name == "backend")
        .map(|n| n.id.to_string())
    else {
        panic!("no adapter named backend");
    };
    let nic_path = format!("/api/v1/vms/{id}/nics/{}", encode(&backend));
    run(
        &stack,
        Method::PATCH,
        &nic_path,
        "/api/v1/vms/{id}/nics/{nic_id}",
        &json!({"vlan_id": 42}),
    )
    .await;
    let changed = sim_vm(&host, &id);
    assert_eq!(
        changed
            .nics
            .iter()
            .find(|n| n.name == "backend")
            .and_then(|n| n.vlan_id),
        Some(42)
    );
    vm_until(&stack, &id, "the changed adapter", |vm| {
        vm["nics"].as_array().is_some_and(|nics| {
            nics.iter()
                .any(|n| n["name"] == "backend" && n["vlan_id"] == 42)
        })
    })
    .await;
    run(
        &stack,
        Method::DELETE,
        &nic_path,
        "/api/v1/vms/{id}/nics/{nic_id}",
        &json!({}),
    )
    .await;
    assert_eq!(sim_vm(&host, &id).nics.len(), 2);
    vm_until(&stack, &id, "two adapters again", |vm| {
        vm["nics"].as_array().map(Vec::len) == Some(2)
    })
    .await;

    // Delete: a running VM needs force (409 naming the parameter); then it is gone.
    run(
        &stack,
        Method::POST,
        &format!("/api/v1/vms/{id}/start"),
        "/api/v1/vms/{id}/start",
        &json!({}),
    )
    .await;
    vm_until(&stack, &id, "running before delete", |vm| {
        vm["state"] == "running"
    })
    .await;
    let refused = send(
        Method::DELETE,
        &stack.url(&format!("/api/v1/vms/{id}")),
        &[],
        b"",
    )
    .await;
    let body = refused.json();
    assert_eq!(refused.status, StatusCode::CONFLICT, "{body}");
    check("DELETE", "/api/v1/vms/{id}", 409, &body);
    assert_eq!(
        body["error"]["details"]["violations"][0]["pointer"],
        "/force"
    );
    assert_eq!(
        body["error"]["details"]["violations"][0]["parameter"],
        "force"
    );
    let files: Vec<String> = sim_vm(&host, &id)
        .disks
        .iter()
        .map(|d| d.path.clone())
        .collect();
    run(
        &stack,
        Method::DELETE,
        &format!("/api/v1/vms/{id}?force=true&delete_disks=true"),
        "/api/v1/vms/{id}",
        &json!({}),
    )
    .await;
    assert!(
        host.vms().iter().all(|vm| vm.id.to_string() != id),
        "gone from the simulator"
    );
    assert!(
        files.iter().all(|f| host.file(f).is_none()),
        "its disk files are deleted"
    );
    let url = stack.url(&format!("/api/v1/vms/{id}"));
    wait_for("the vm to leave inventory", Duration::from_secs(30), || {
        let url = url.clone();
        async move { (get(&url).await.status == StatusCode::NOT_FOUND).then_some(()) }
    })
    .await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_specs_are_422_naming_the_field_and_nothing_happens_on_the_host() {
    let stack = Stack::builder().hosts(2).vms_per_host(2).start().await;
    let host = first_host(&stack);
    let host_name = host.name().to_lowercase();
    let Some(existing) = host.vms().first().map(|vm| vm.id.to_string()) else {
        panic!("no vm on the first host");
    };
    let before: Vec<Vec<String>> = stack.fleet.hosts().iter().map(changes).collect();

    let cases: Vec<(Method, String, &str, Value, Vec<&str>)> = vec![
        (
            Method::POST,
            "/api/v1/vms".to_string(),
            "/api/v1/vms",
            json!({"host": host_name, "vm": {"name": "bad/name", "cpu_count": 0, "storage_class": "fast-ssd"}}),
            vec!["/vm/name", "/vm/cpu_count"],
        ),
        (
            Method::POST,
            "/api/v1/deployments".to_string(),
            "/api/v1/deployments",
            json!({"host": host_name, "vm": {"name": "ok-name", "storage_class": "fast-ssd",
                   "memory_startup_bytes": 1000}, "nics": [{"network": "Production", "vlan_id": 5000}]}),
            vec!["/vm/memory_startup_bytes", "/nics/0"],
        ),
        (
            Method::POST,
            format!("/api/v1/vms/{existing}/disks"),
            "/api/v1/vms/{id}/disks",
            json!({"disk": {"size_bytes": 12}}),
            vec!["/disk/size_bytes"],
        ),
        (
            Method::PATCH,
            format!("/api/v1/vms/{existing}"),
            "/api/v1/vms/{id}",
            json!({"notes": 7}),
            vec!["/notes"],
        ),
        (
            Method::POST,
            format!("/api/v1/vms/{existing}/shutdown"),
            "/api/v1/vms/{id}/shutdown",
            json!({"timeout_seconds": 0}),
            vec!["/timeout_seconds"],
        ),
        (
            Method::POST,
            "/api/v1/jobs".to_string(),
            "/api/v1/jobs",
            json!({"type": "start_vm", "spec": {"host": host_name}}),
            vec![""],
        ),
    ];
    for (method, path, route, body, pointers) in cases {
        let reply = send_json(&stack, method.clone(), &path, &body).await;
        let answer = reply.json();
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {path}: {answer}"
        );
        check(method.as_str(), route, 422, &answer);
        assert_eq!(answer["error"]["code"], "INVALID_ARGUMENT");
        let violations = answer["error"]["details"]["violations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for pointer in pointers {
            assert!(
                violations.iter().any(|v| {
                    v["pointer"]
                        .as_str()
                        .is_some_and(|p| p.starts_with(pointer))
                        && v["rule"].is_string()
                        && v["message"].as_str().is_some_and(|m| !m.is_empty())
                }),
                "{method} {path}: no violation at {pointer}: {answer}"
            );
        }
    }
    // Pre-checks against the host's catalogue: 409 with what would be valid; an unknown
    // host 404.
    let reply = send_json(
        &stack,
        Method::POST,
        "/api/v1/vms",
        &json!({"host": host_name, "vm": {"name": "no-class", "storage_class": "gold"}}),
    )
    .await;
    let answer = reply.json();
    assert_eq!(reply.status, StatusCode::CONFLICT, "{answer}");
    check("POST", "/api/v1/vms", 409, &answer);
    let violation = &answer["error"]["details"]["violations"][0];
    assert_eq!(violation["pointer"], "/vm/storage_class");
    assert!(
        violation["allowed"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("fast-ssd"))),
        "{answer}"
    );
    let taken = host
        .vms()
        .first()
        .map(|vm| vm.name.clone())
        .unwrap_or_default();
    let reply = send_json(
        &stack,
        Method::POST,
        "/api/v1/vms",
        &json!({"host": host_name, "vm": {"name": taken, "storage_class": "fast-ssd"}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text());
    assert_eq!(
        reply.json()["error"]["details"]["violations"][0]["rule"],
        "name_free"
    );
    let reply = send_json(
        &stack,
        Method::POST,
        "/api/v1/vms",
        &json!({"host": "hv-nowhere.example", "vm": {"name": "x", "storage_class": "fast-ssd"}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text());
    check("POST", "/api/v1/vms", 404, &reply.json());
    assert_eq!(
        reply.json()["error"]["details"]["violations"][0]["pointer"],
        "/host"
    );

    let after: Vec<Vec<String>> = stack.fleet.hosts().iter().map(changes).collect();
    assert_eq!(before, after, "nothing ran on any host");
    let jobs = get(&stack.url("/api/v1/jobs")).await.json();
    assert_eq!(jobs["total_size"], 0, "no job was created: {jobs}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordering_cancel_retry_and_bulk_through_rest() {
    let stack = Stack::builder().hosts(2).vms_per_host(3).start().await;
    let host = first_host(&stack);
    let host_name = host.name().to_lowercase();

    // A VM of our own, off.
    let created = run(
        &stack,
        Method::POST,
        "/api/v1/vms",
        "/api/v1/vms",
        &json!({"host": host_name, "vm": {"name": "gw-order-01", "storage_class": "fast-ssd"}}),
    )
    .await;
    let Some(id) = created["vm_id"].as_str().map(String::from) else {
        panic!("no vm id: {created}");
    };
    vm_until(&stack, &id, "the new vm in inventory", |vm| {
        vm["state"] == "off"
    })
    .await;

    // Two jobs on one VM: the second waits for the first (vm_busy), then runs.
    host.set_operation_latency(Operation::VmPower, Duration::from_secs(2));
    let first = accepted(
        &post(&stack.url(&format!("/api/v1/vms/{id}/start"))).await,
        "POST",
        "/api/v1/vms/{id}/start",
    );
    let second = accepted(
        &post(&stack.url(&format!("/api/v1/vms/{id}/stop"))).await,
        "POST",
        "/api/v1/vms/{id}/stop",
    );
    let waiting = job_until(&stack, &second, "waiting for the first", |job| {
        job["state"] == "waiting"
    })
    .await;
    assert_eq!(waiting["waiting"]["reason"], "vm_busy", "{waiting}");
    assert_eq!(waiting["waiting"]["blocking_job_id"], first.as_str());
    let one = job_until(&stack, &first, "finished", finished).await;
    let two = job_until(&stack, &second, "finished", finished).await;
    assert_eq!(
        (one["state"].clone(), two["state"].clone()),
        (json!("succeeded"), json!("succeeded"))
    );
    host.set_operation_latency(Operation::VmPower, Duration::ZERO);
    let records = host.operations();
    let of = |job: &str| match records
        .iter()
        .find(|r| r.correlation_id.as_deref() == Some(job))
    {
        Some(record) => record.clone(),
        None => panic!("job {job} never reached the host"),
    };
    let (a, b) = (of(&first), of(&second));
    assert!(a.seq < b.seq);
    assert!(
        a.finished_at
            .as_ref()
            .is_some_and(|done| *done <= b.started_at),
        "the second job started after the first ended: {a:?} {b:?}"
    );
    assert_eq!(sim_vm(&host, &id).state, VmState::Off);

    // Cancel: a long disk step stopped on the host; a finished job cannot be cancelled.
    host.set_operation_latency(Operation::DiskCreate, Duration::from_secs(60));
    let long = accepted(
        &send_json(
            &stack,
            Method::POST,
            &format!("/api/v1/vms/{id}/disks"),
            &json!({"disk": {"size_bytes": GIB}}),
        )
        .await,
        "POST",
        "/api/v1/vms/{id}/disks",
    );
    job_until(&stack, &long, "running", |job| {
        job["steps"][0]["state"] == "running"
    })
    .await;
    let url = stack.url(&format!("/api/v1/jobs/{long}/cancel"));
    wait_for(
        "the disk step to reach the host",
        Duration::from_secs(30),
        || {
            let host = host.clone();
            let long = long.clone();
            async move {
                host.operations()
                    .iter()
                    .any(|r| r.correlation_id.as_deref() == Some(long.as_str()))
                    .then_some(())
            }
        },
    )
    .await;
    let cancelled = post(&url).await;
    let cancelled_id = accepted(&cancelled, "POST", "/api/v1/jobs/{id}/cancel");
    assert_eq!(cancelled_id, long);
    let job = job_until(&stack, &long, "finished", finished).await;
    assert_eq!(job["state"], "cancelled", "{job}");
    assert_eq!(job["cancel_requested"], true);
    let record = host
        .operations()
        .into_iter()
        .find(|r| r.correlation_id.as_deref() == Some(long.as_str()));
    assert_eq!(
        record.map(|r| r.outcome),
        Some(Outcome::Terminated),
        "stopped on the host"
    );
    assert!(sim_vm(&host, &id).disks.is_empty());
    host.set_operation_latency(Operation::DiskCreate, Duration::ZERO);
    let again = post(&url).await;
    let body = again.json();
    assert_eq!(again.status, StatusCode::CONFLICT, "{body}");
    check("POST", "/api/v1/jobs/{id}/cancel", 409, &body);
    assert_eq!(body["error"]["details"]["job_state"], "cancelled");

    // Retry: a deployment that fails at its adapter, then resumes there.
    if let Err(error) = host.fail_next(FailNext {
        count: 1,
        operation: Some(Operation::NicCreate),
        code: AgentErrorCode::OperationFailed,
        message: "Add-VMNetworkAdapter failed (injected)".into(),
    }) {
        panic!("{error}");
    }
    let deployment = accepted(
        &send_json(
            &stack,
            Method::POST,
            "/api/v1/deployments",
            &json!({"host": host_name, "vm": {"name": "gw-retry-01", "storage_class": "fast-ssd"},
                    "nics": [{"network": "Production"}]}),
        )
        .await,
        "POST",
        "/api/v1/deployments",
    );
    let failed = job_until(&stack, &deployment, "finished", finished).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["error"]["details"]["agent_code"], "OPERATION_FAILED");
    assert_eq!(
        failed["created_resources"].as_array().map(Vec::len),
        Some(1)
    );
    let retried = post(&stack.url(&format!("/api/v1/jobs/{deployment}/retry"))).await;
    accepted(&retried, "POST", "/api/v1/jobs/{id}/retry");
    assert_eq!(retried.json()["job"]["attempt"], 2);
    let done = job_until(&stack, &deployment, "finished again", |job| {
        finished(job) && job["attempt"] == 2
    })
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let attempts: Vec<u64> = done["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["attempt"].as_u64())
        .collect();
    assert_eq!(attempts, [1, 2, 1], "resumed at the failed step");
    assert_eq!(
        host.vms()
            .iter()
            .filter(|vm| vm.name == "gw-retry-01")
            .count(),
        1
    );

    // Bulk: one result per VM, in order (the deployed VM runs, ours is off).
    let Some(running) = host.vm_by_name("gw-retry-01").map(|vm| vm.id.to_string()) else {
        panic!("no deployed vm");
    };
    vm_until(&stack, &running, "the deployed vm running", |vm| {
        vm["state"] == "running"
    })
    .await;
    let reply = send_json(
        &stack,
        Method::POST,
        "/api/v1/vms/power",
        &json!({"action": "stop", "vm_ids": [running, id, UNKNOWN_VM]}),
    )
    .await;
    let body = reply.json();
    assert_eq!(reply.status, StatusCode::OK, "{body}");
    check("POST", "/api/v1/vms/power", 200, &body);
    assert_eq!(
        (
            body["requested"].clone(),
            body["accepted"].clone(),
            body["refused"].clone()
        ),
        (json!(3), json!(1), json!(2))
    );
    let results = body["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results[0]["vm_id"], running.as_str());
    assert_eq!(results[0]["status"], "accepted");
    assert_eq!(results[0]["previous_state"], "running");
    assert_eq!(results[1]["status"], "refused");
    assert_eq!(results[1]["http_status"], 409);
    assert_eq!(results[1]["error"]["details"]["vm_state"], "off");
    assert_eq!(results[2]["http_status"], 404);
    assert_eq!(results[2]["vm"], Value::Null);
    let Some(bulk_job) = results[0]["job_id"].as_str().map(String::from) else {
        panic!("no job for the accepted vm: {body}");
    };
    let job = job_until(&stack, &bulk_job, "finished", finished).await;
    assert_eq!(job["state"], "succeeded");
    assert_eq!(sim_vm(&host, &running).state, VmState::Off);

    // The jobs list: filters, pages both ways, the deployments list.
    let all = get(&stack.url("/api/v1/jobs?page_size=2")).await;
    let page = all.json();
    check("GET", "/api/v1/jobs", 200, &page);
    let total = page["total_size"].as_u64().unwrap_or(0);
    assert!(total >= 6, "{page}");
    assert_eq!(
        (page["offset"].clone(), page["prev_page_token"].clone()),
        (json!(0), Value::Null)
    );
    let Some(next) = page["next_page_token"].as_str() else {
        panic!("no second page: {page}");
    };
    let second_page = get(&stack.url(&format!("/api/v1/jobs?page_size=2&page_token={next}")))
        .await
        .json();
    assert_eq!(second_page["offset"], 2);
    let Some(back) = second_page["prev_page_token"].as_str() else {
        panic!("no way back: {second_page}");
    };
    let first_again = get(&stack.url(&format!("/api/v1/jobs?page_size=2&page_token={back}")))
        .await
        .json();
    assert_eq!(first_again["jobs"], page["jobs"]);
    let stops = get(&stack.url(&format!("/api/v1/jobs?type=stop_vm&vm_id={id}")))
        .await
        .json();
    assert_eq!(stops["total_size"], 1, "{stops}");
    let failed_list = get(&stack.url("/api/v1/jobs?state=cancelled")).await.json();
    assert_eq!(failed_list["jobs"][0]["id"], long.as_str());
    let deployments = get(&stack.url("/api/v1/deployments")).await.json();
    check("GET", "/api/v1/deployments", 200, &deployments);
    assert_eq!(deployments["total_size"], 1);
    let mismatched = get(&stack.url(&format!(
        "/api/v1/jobs?page_size=2&state=failed&page_token={next}"
    )))
    .await;
    assert_eq!(
        mismatched.status,
        StatusCode::BAD_REQUEST,
        "a token of other filters"
    );

    // Notifications: one per job, marked read, all read, deleted.
    let url = stack.url("/api/v1/notifications?limit=100");
    let about_cancelled = wait_for(
        "a notification about the cancelled job",
        Duration::from_secs(30),
        || {
            let url = url.clone();
            let long = long.clone();
            async move {
                let list = get(&url).await.json();
                check("GET", "/api/v1/notifications", 200, &list);
                list["notifications"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|n| {
                        n["related"]["id"] == long.as_str()
                            && n["title"]
                                .as_str()
                                .is_some_and(|t| t.ends_with("cancelled"))
                    })
                    .cloned()
            }
        },
    )
    .await;
    assert_eq!(about_cancelled["level"], "warning");
    let Some(ntf) = about_cancelled["id"].as_str() else {
        panic!("no id: {about_cancelled}");
    };
    let read = post(&stack.url(&format!("/api/v1/notifications/{ntf}/read")))
        .await
        .json();
    check("POST", "/api/v1/notifications/{id}/read", 200, &read);
    assert_eq!(read["notification"]["read"], true);
    let all_read = post(&stack.url("/api/v1/notifications/read-all"))
        .await
        .json();
    check("POST", "/api/v1/notifications/read-all", 200, &all_read);
    assert_eq!(all_read["unread_count"], 0);
    let deleted = send(
        Method::DELETE,
        &stack.url(&format!("/api/v1/notifications/{ntf}")),
        &[],
        b"",
    )
    .await;
    assert_eq!(deleted.status, StatusCode::OK);
    check("DELETE", "/api/v1/notifications/{id}", 200, &deleted.json());
    let gone = send(
        Method::DELETE,
        &stack.url(&format!("/api/v1/notifications/{ntf}")),
        &[],
        b"",
    )
    .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_summary_and_vm_pages_both_ways() {
    let stack = Stack::builder().hosts(2).vms_per_host(5).start().await;
    let host = first_host(&stack).name().to_lowercase();
    let refreshed = post(&stack.url(&format!("/api/v1/hosts/{host}/refresh"))).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text());
    let body = refreshed.json();
    check("POST", "/api/v1/hosts/{host}/refresh", 200, &body);
    assert_eq!(body["ok"], true);
    assert_eq!(body["host"]["name"], host.as_str());
    let unknown = post(&stack.url("/api/v1/hosts/nowhere.example/refresh")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    let summary = get(&stack.url("/api/v1/summary")).await.json();
    check("GET", "/api/v1/summary", 200, &summary);
    assert_eq!(summary["counts"]["vms"], 10);
    assert!(summary.get("hosts").is_none());

    // Pages of 3 of 10 VMs: next, next, previous, previous; a link to page 3 goes back.
    let page = |token: Option<&str>| {
        let url = match token {
            Some(token) => stack.url(&format!(
                "/api/v1/vms?page_size=3&sort=name&page_token={token}"
            )),
            None => stack.url("/api/v1/vms?page_size=3&sort=name"),
        };
        async move {
            let reply = get(&url).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
            let body = reply.json();
            check("GET", "/api/v1/vms", 200, &body);
            body
        }
    };
    let ids = |page: &Value| -> Vec<String> {
        page["vms"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|vm| vm["id"].as_str().map(String::from))
            .collect()
    };
    let one = page(None).await;
    let two = page(one["next_page_token"].as_str()).await;
    let three = page(two["next_page_token"].as_str()).await;
    let four = page(three["next_page_token"].as_str()).await;
    assert_eq!(
        [&one, &two, &three, &four].map(|p| p["offset"].as_u64()),
        [Some(0), Some(3), Some(6), Some(9)]
    );
    assert_eq!(four["next_page_token"], Value::Null);
    assert_eq!(ids(&four).len(), 1);
    let back = page(four["prev_page_token"].as_str()).await;
    assert_eq!(ids(&back), ids(&three));
    let back = page(back["prev_page_token"].as_str()).await;
    assert_eq!(
        ids(&back),
        ids(&two),
        "from a page opened by its token, back again"
    );
    let back = page(back["prev_page_token"].as_str()).await;
    assert_eq!(ids(&back), ids(&one));
    assert_eq!(back["prev_page_token"], Value::Null);
    stack.stop().await;
}
