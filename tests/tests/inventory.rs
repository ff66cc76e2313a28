//! The whole suite converges on the simulated fleet: every field of every host, VM, NIC
//! and disk the REST API shows equals what the simulator's model holds (worked out in
//! `aetherv_tests::expect` from the agent protocol's JSON, not from the services' own
//! conversions), inventory's gRPC ListVms pages through the same VMs, and the summary and
//! clusters count them right. Fleet → WinRM → remote-tasks → gRPC → inventory → gRPC →
//! gateway → HTTP, all real.

use std::collections::BTreeMap;
use std::time::Duration;

use aetherv_proto::common::v1::PageRequest;
use aetherv_proto::inventory::v1 as pb;
use aetherv_tests::expect::{compare_host, compare_vm, state};
use aetherv_tests::wait::Outcome;
use aetherv_tests::{Error, TestStack, wait_for};
use serde_json::Value;

/// Every difference between the REST API and the simulator, one line each.
async fn rest_differences(stack: &TestStack) -> Result<Vec<String>, Error> {
    let mut wrong = Vec::new();
    for host in stack.fleet.hosts() {
        let truth = serde_json::to_value(host.inventory()).map_err(|e| Error::Unexpected {
            from: "the simulator".to_string(),
            message: e.to_string(),
        })?;
        let sim_vms = truth["vms"].as_array().cloned().unwrap_or_default();
        let rest_host = stack
            .get(&format!("/api/v1/hosts/{}", host.name()))
            .await?
            .json()?;
        wrong.extend(compare_host(
            &rest_host,
            &truth["host"],
            host.name(),
            &sim_vms,
        ));
        let page = stack
            .get(&format!("/api/v1/hosts/{}/vms?page_size=1000", host.name()))
            .await?
            .json()?;
        let rest_vms: BTreeMap<String, Value> = page["vms"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|vm| {
                (
                    vm["id"].as_str().unwrap_or_default().to_string(),
                    vm.clone(),
                )
            })
            .collect();
        if rest_vms.len() != sim_vms.len() {
            wrong.push(format!(
                "host {}: api lists {} vms, simulator has {}",
                host.name(),
                rest_vms.len(),
                sim_vms.len()
            ));
        }
        for sim_vm in &sim_vms {
            let id = sim_vm["id"].as_str().unwrap_or_default().to_lowercase();
            match rest_vms.get(&id) {
                Some(rest_vm) => {
                    wrong.extend(compare_vm(rest_vm, sim_vm, host.name(), host.cluster()));
                }
                None => wrong.push(format!("vm {id} on {} missing from the api", host.name())),
            }
        }
    }
    Ok(wrong)
}

/// Every VM through gRPC ListVms, 7 per page: id → state name.
async fn grpc_vms(stack: &TestStack) -> Result<BTreeMap<String, String>, Error> {
    let mut client = stack.inventory()?;
    let mut token = String::new();
    let mut vms = BTreeMap::new();
    loop {
        let page = client
            .list_vms(pb::ListVmsRequest {
                page: Some(PageRequest {
                    page_size: 7,
                    page_token: token.clone(),
                }),
                ..pb::ListVmsRequest::default()
            })
            .await
            .map_err(|status| Error::grpc("Inventory/ListVms", status))?
            .into_inner();
        for vm in page.vms {
            let state = pb::VmState::try_from(vm.state)
                .map(|s| {
                    s.as_str_name()
                        .trim_start_matches("VM_STATE_")
                        .to_lowercase()
                })
                .unwrap_or_default();
            vms.insert(vm.id, state);
        }
        token = page.page.map(|p| p.next_page_token).unwrap_or_default();
        if token.is_empty() {
            return Ok(vms);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_converges_with_every_field() -> anyhow::Result<()> {
    // Real-time simulated clock: uptimes advance as inventory expects.
    let stack = TestStack::builder()
        .hosts(4)
        .vms_per_host(9)
        .clusters(1)
        .time_scale(1.0)
        .start()
        .await?;
    stack.wait_for_converged().await?;

    // Every field through REST equals the simulator (polled: the first refresh may land
    // while we compare).
    wait_for(
        "the api to show the simulator's fleet",
        Duration::from_secs(30),
        || async {
            let wrong = rest_differences(&stack).await?;
            Ok(if wrong.is_empty() {
                Outcome::Done(())
            } else {
                Outcome::NotYet(wrong.join("\n"))
            })
        },
    )
    .await?;

    // gRPC pages through exactly the simulator's VMs, with their states.
    let want: BTreeMap<String, String> = stack
        .fleet
        .hosts()
        .iter()
        .flat_map(|h| h.vms())
        .map(|vm| {
            let value = serde_json::to_value(&vm).unwrap_or_default();
            (
                value["id"].as_str().unwrap_or_default().to_lowercase(),
                state(value["state"].as_str().unwrap_or_default()),
            )
        })
        .collect();
    assert_eq!(want.len(), 36);
    assert_eq!(grpc_vms(&stack).await?, want);

    // The summary and the clusters count the same fleet.
    let summary = stack.get("/api/v1/inventory").await?.json()?;
    let counts = &summary["counts"];
    assert_eq!(counts["hosts"], 4, "{summary}");
    assert_eq!(counts["hosts_by_status"]["reachable"], 4, "{summary}");
    assert_eq!(counts["vms"], 36, "{summary}");
    assert_eq!(counts["stale_vms"], 0, "{summary}");
    let standalone = stack
        .fleet
        .hosts()
        .iter()
        .filter(|h| h.cluster().is_none())
        .count();
    assert_eq!(standalone, 1);
    assert_eq!(counts["standalone_hosts"], 1, "{summary}");
    assert_eq!(counts["clusters"], 1, "{summary}");
    let mut by_state: BTreeMap<String, u64> = BTreeMap::new();
    for state in want.values() {
        *by_state.entry(state.clone()).or_default() += 1;
    }
    for (state, count) in &by_state {
        assert_eq!(counts["vms_by_state"][state], *count, "{state}: {summary}");
    }
    assert_eq!(summary["refresh"]["initial_refresh_done"], true);

    let clusters = stack.get("/api/v1/clusters").await?.json()?;
    let cluster = &clusters["clusters"][0];
    let members: Vec<&str> = stack
        .fleet
        .hosts()
        .iter()
        .filter(|h| h.cluster().is_some())
        .map(|h| h.name())
        .collect();
    assert_eq!(
        cluster["name"],
        Value::from(stack.fleet.hosts()[0].cluster().map(str::to_lowercase)),
        "{clusters}"
    );
    assert_eq!(cluster["host_count"], members.len(), "{clusters}");
    assert_eq!(cluster["reachable_hosts"], members.len(), "{clusters}");
    assert_eq!(cluster["vm_count"], members.len() * 9, "{clusters}");
    let mut hosts: Vec<&str> = cluster["hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    hosts.sort_unstable();
    let mut members = members;
    members.sort_unstable();
    assert_eq!(hosts, members);

    stack.stop().await?;
    Ok(())
}
