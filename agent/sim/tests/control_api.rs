//! The control API over HTTP: inspection of the fleet, hosts, VMs and the operation log;
//! knobs; out-of-band changes; the manual clock stepping a VM through its transition.

mod common;

use common::http;

use std::time::Duration;

use aetherv_hvsim::SimFleet;
use aetherv_hyperv::Operation;
use serde_json::{Value, json};

async fn start(fleet: &SimFleet) -> String {
    let addr = fleet
        .start_control_api("127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    format!("http://{addr}")
}

#[tokio::test]
async fn inspects_the_fleet_hosts_vms_and_log() {
    let fleet = common::fleet(3, 4, 1).await;
    let base = start(&fleet).await;
    let (status, f) = http("GET", &format!("{base}/fleet"), None).await;
    assert_eq!(status, 200);
    assert_eq!(f["hosts"].as_array().map(Vec::len), Some(3));
    assert_eq!(f["hosts"][0]["name"], json!("hv-ams-c1-n01.corp.example"));
    assert_eq!(f["hosts"][0]["cluster"], json!("HV-AMS-C1"));
    assert_eq!(f["hosts"][2]["cluster"], Value::Null);
    assert_eq!(
        f["hosts"][0]["http_endpoint"],
        json!(fleet.hosts()[0].http_endpoint())
    );
    assert_eq!(f["usernames"], json!([fleet.username()]));
    assert!(
        !f.to_string().contains(fleet.password().expose()),
        "no password in the api"
    );

    let host = &fleet.hosts()[1];
    let (status, h) = http(
        "GET",
        &format!("{base}/hosts/{}", host.computer_name()),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(h["inventory"]["computer_name"], json!(host.computer_name()));
    assert_eq!(h["knobs"]["responsiveness"], json!("normal"));
    assert_eq!(h["vms"].as_array().map(Vec::len), Some(4));

    let (_, vms) = http("GET", &format!("{base}/hosts/{}/vms", host.name()), None).await;
    let name = vms[0]["name"].as_str().unwrap_or_default().to_owned();
    let (status, vm) = http(
        "GET",
        &format!("{base}/hosts/{}/vms/{name}", host.name()),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (vm["vm"]["id"].clone(), vm["vm"]["disks"].clone()),
        (vms[0]["id"].clone(), vms[0]["disks"].clone()),
        "the same vm by name"
    );
    assert_eq!(vm["guest_ignores_shutdown"], json!(false));
    aetherv_hyperv::validate_result(Operation::VmCreate, &vm["vm"])
        .unwrap_or_else(|e| panic!("the model's vm has the schema's shape: {e}"));

    common::call(host, "noop", json!({})).await;
    let (_, log) = http(
        "GET",
        &format!("{base}/hosts/{}/operations", host.name()),
        None,
    )
    .await;
    assert_eq!(log["records"][0]["operation"], json!("noop"));
    assert_eq!(log["records"][0]["correlation_id"], json!("test-1"));
    assert_eq!(log["records"][0]["outcome"], json!("ok"));
    let (_, later) = http(
        "GET",
        &format!("{base}/hosts/{}/operations?since=1", host.name()),
        None,
    )
    .await;
    assert_eq!(later["records"].as_array().map(Vec::len), Some(0));
    let (status, _) = http(
        "DELETE",
        &format!("{base}/hosts/{}/operations", host.name()),
        None,
    )
    .await;
    assert_eq!(status, 204);

    let (status, e) = http("GET", &format!("{base}/hosts/nope"), None).await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (404, json!("NOT_FOUND"))
    );
    let (status, _) = http(
        "GET",
        &format!("{base}/hosts/{}/vms/nope", host.name()),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn sets_knobs_and_changes_vms_out_of_band() {
    let fleet = common::fleet(1, 2, 0).await;
    let base = start(&fleet).await;
    let host = &fleet.hosts()[0];
    let url = format!("{base}/hosts/{}", host.name());
    let vm = host.vms()[0].name.clone();
    let (status, k) = http(
        "PATCH",
        &format!("{url}/knobs"),
        Some(json!({
            "latency_ms": 25,
            "operation_latency_ms": {"vm.power": 100},
            "fail_next": [{"count": 1, "operation": "noop", "code": "HYPERV_UNAVAILABLE", "message": "vmms stopped"}],
            "malformed": {"mode": "two_results", "operation": "host.resources", "count": 1},
            "guest_ignores_shutdown": {vm.clone(): true},
        })),
    )
    .await;
    assert_eq!(status, 200, "{k}");
    assert_eq!(
        (
            k["latency_ms"].clone(),
            k["operation_latency_ms"]["vm.power"].clone()
        ),
        (json!(25), json!(100))
    );
    assert_eq!(k["fail_next"][0]["code"], json!("HYPERV_UNAVAILABLE"));
    let id = host.resolve_vm(&vm).unwrap_or_else(|| panic!("vm"));
    assert_eq!(host.guest_ignores_shutdown(id), Some(true));
    assert_eq!(
        common::call(host, "noop", json!({})).await.code(),
        "HYPERV_UNAVAILABLE"
    );
    let ran = common::agent_line(
        host,
        &common::request_line("host.resources", json!({})),
        None,
    )
    .await;
    assert!(
        common::check(Operation::HostResources, &ran).is_err(),
        "two result lines"
    );

    for (body, field) in [
        (
            json!({"fail_next": [{"count": 0, "code": "TIMEOUT"}]}),
            "fail_next[0].count",
        ),
        (json!({"latency": 5}), "."),
        (json!({"responsiveness": "sleepy"}), "responsiveness"),
        (
            json!({"guest_ignores_shutdown": {"no-such-vm": true}}),
            "guest_ignores_shutdown.no-such-vm",
        ),
    ] {
        let (status, e) = http("PATCH", &format!("{url}/knobs"), Some(body.clone())).await;
        assert_eq!(status, 400, "{body}");
        let named = e["error"]["field"].as_str().unwrap_or_default();
        assert!(field == "." || named == field, "{body}: {e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let (_, k) = http("POST", &format!("{url}/knobs/reset"), None).await;
    assert_eq!(
        (k["latency_ms"].clone(), k["malformed"].clone()),
        (json!(0), Value::Null)
    );

    let (status, added) = http("POST", &format!("{url}/vms"), Some(json!({"name": "oob-01", "state": "Running", "guest_os_name": "Windows Server 2022 Datacenter"}))).await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["state"], json!("Running"));
    let (status, e) = http(
        "POST",
        &format!("{url}/vms"),
        Some(json!({"name": "bad/name"})),
    )
    .await;
    assert_eq!((status, e["error"]["field"].clone()), (400, json!("name")));
    let (status, e) = http(
        "POST",
        &format!("{url}/vms"),
        Some(json!({"name": "oob-01"})),
    )
    .await;
    assert_eq!(status, 409, "{e}");
    let (status, changed) = http("PATCH", &format!("{url}/vms/oob-01"), Some(json!({"state": "Paused", "cpu_count": 6, "notes": "by hand", "dynamic_memory_enabled": true}))).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (
            changed["state"].clone(),
            changed["cpu_count"].clone(),
            changed["dynamic_memory_enabled"].clone()
        ),
        (json!("Paused"), json!(6), json!(true))
    );
    let inventory = common::call(host, "inventory.collect", json!({})).await;
    let seen = inventory.data()["vms"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["name"] == "oob-01").cloned())
        .unwrap_or_default();
    assert_eq!(
        (seen["state"].clone(), seen["notes"].clone()),
        (json!("Paused"), json!("by hand")),
        "the next inventory sees it"
    );
    let (status, e) = http(
        "PATCH",
        &format!("{url}/vms/oob-01"),
        Some(json!({"cpu_count": 0})),
    )
    .await;
    assert_eq!(
        (status, e["error"]["field"].clone()),
        (400, json!("cpu_count"))
    );
    let (status, _) = http("DELETE", &format!("{url}/vms/oob-01"), None).await;
    assert_eq!(status, 204);
    let (status, _) = http("GET", &format!("{url}/vms/oob-01"), None).await;
    assert_eq!(status, 404);

    let (status, e) = http(
        "POST",
        &format!("{base}/fleet/clock/advance"),
        Some(json!({"ms": 1})),
    )
    .await;
    assert_eq!(
        (status, e["error"]["field"].clone()),
        (400, json!("ms")),
        "a scaled clock cannot be stepped"
    );
    let (status, _) = http(
        "PATCH",
        &format!("{base}/fleet/knobs"),
        Some(json!({"latency_ms": 1})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(host.knobs().latency_ms, 1);
}

#[tokio::test]
async fn a_manual_clock_steps_a_vm_through_its_transition() {
    let fleet = SimFleet::builder()
        .hosts(1)
        .vms_per_host(0)
        .clusters(0)
        .manual_clock()
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let base = start(&fleet).await;
    let host = fleet.hosts()[0].clone();
    let (_, added) = http(
        "POST",
        &format!("{base}/hosts/{}/vms", host.name()),
        Some(json!({"name": "step"})),
    )
    .await;
    let id = added["id"].as_str().unwrap_or_default().to_owned();
    let worker = {
        let host = host.clone();
        let id = id.clone();
        tokio::spawn(async move {
            common::call(&host, "vm.power", json!({"vm_id": id, "action": "start"})).await
        })
    };
    let url = format!("{base}/hosts/{}/vms/{id}", host.name());
    let mut state = Value::Null;
    for _ in 0..200 {
        state = http("GET", &url, None).await.1["vm"]["state"].clone();
        if state == json!("Starting") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(state, json!("Starting"));
    let (_, now) = http(
        "POST",
        &format!("{base}/fleet/clock/advance"),
        Some(json!({"ms": 3999})),
    )
    .await;
    assert_eq!(now["now_ms"], json!(3999));
    assert_eq!(
        http("GET", &url, None).await.1["vm"]["state"],
        json!("Starting")
    );
    assert!(!worker.is_finished());
    http(
        "POST",
        &format!("{base}/fleet/clock/advance"),
        Some(json!({"ms": 1})),
    )
    .await;
    let answer = worker.await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer.data()["state"], json!("Running"));
    assert_eq!(
        http("GET", &url, None).await.1["vm"]["state"],
        json!("Running")
    );
}
