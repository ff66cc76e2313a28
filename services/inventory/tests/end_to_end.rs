//! Inventory end to end, in process: a simulated fleet reached over real WinRM (NTLM with
//! message encryption) by the real remote-tasks service, and inventory refreshing through
//! remote-tasks' gRPC API. Everything is checked through inventory's own gRPC API.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use aetherv_hvsim::{Responsiveness, VmChange};
use aetherv_hyperv::ops::inventory::InventoryCollectResult;
use aetherv_proto::inventory::v1 as pb;
use aetherv_proto::inventory::v1::watch_event::Event;
use aetherv_runtime::detail_of;
use support::suite::{self, Suite};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

fn state_name(state: i32) -> String {
    pb::VmState::try_from(state)
        .map_or_else(|_| format!("?{state}"), |s| s.as_str_name().to_string())
}

fn expected_state(state: aetherv_hyperv::VmState) -> String {
    let name = match state {
        aetherv_hyperv::VmState::Reset => "RESETTING".to_string(),
        other => other.as_str().to_uppercase(),
    };
    format!("VM_STATE_{name}")
}

fn ts_seconds(time: &Option<prost_types::Timestamp>) -> Option<i64> {
    time.as_ref().map(|t| t.seconds)
}

/// Compares inventory's records of one host with the simulator's model; the first
/// difference as `Err`.
fn compare(sim: &InventoryCollectResult, host: &pb::Host, vms: &[pb::Vm]) -> Result<(), String> {
    let facts = &sim.host;
    let cluster = facts
        .cluster_name
        .clone()
        .unwrap_or_default()
        .to_lowercase();
    let check = |what: &str, ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(format!("{}: {what}", host.host))
        }
    };
    check("status", host.status == pb::HostStatus::Reachable as i32)?;
    check("fqdn", host.fqdn == facts.fqdn.to_lowercase())?;
    check("computer name", host.computer_name == facts.computer_name)?;
    check("cluster", host.cluster == cluster)?;
    check("cpu", host.cpu_cores == facts.logical_processor_count)?;
    check(
        "memory total",
        host.memory_total_bytes == facts.memory_total_bytes,
    )?;
    check(
        "memory available",
        host.memory_available_bytes == facts.memory_available_bytes,
    )?;
    let mut switches = facts.virtual_switches.clone();
    switches.sort_by(|a, b| a.name.cmp(&b.name));
    check(
        "switches",
        host.virtual_switches
            .iter()
            .map(|s| (s.id.clone(), s.name.clone(), s.uplink.clone()))
            .collect::<Vec<_>>()
            == switches
                .iter()
                .map(|s| {
                    (
                        s.id.hyphenated().to_string(),
                        s.name.clone(),
                        s.uplink.clone().unwrap_or_default(),
                    )
                })
                .collect::<Vec<_>>(),
    )?;
    check(
        "storage",
        host.storage_locations
            .iter()
            .map(|s| (s.path.clone(), s.total_bytes, s.free_bytes))
            .collect::<Vec<_>>()
            == facts
                .storage_locations
                .iter()
                .map(|s| (s.path.clone(), s.total_bytes, s.free_bytes))
                .collect::<Vec<_>>(),
    )?;
    let resources = host.resources.clone().unwrap_or_default();
    check(
        "catalogue",
        resources
            .storage_classes
            .iter()
            .map(|c| (c.name.clone(), c.path.clone()))
            .collect::<Vec<_>>()
            == facts
                .resources
                .storage_classes
                .iter()
                .map(|c| (c.name.clone(), c.path.clone()))
                .collect::<Vec<_>>()
            && resources
                .networks
                .iter()
                .map(|n| (n.name.clone(), n.switch_name.clone(), n.vlan_id))
                .collect::<Vec<_>>()
                == facts
                    .resources
                    .networks
                    .iter()
                    .map(|n| {
                        (
                            n.name.clone(),
                            n.switch_name.clone(),
                            n.vlan_id.map(u32::from),
                        )
                    })
                    .collect::<Vec<_>>()
            && resources
                .images
                .iter()
                .map(|i| i.name.clone())
                .collect::<Vec<_>>()
                == facts
                    .resources
                    .images
                    .iter()
                    .map(|i| i.name.clone())
                    .collect::<Vec<_>>(),
    )?;
    check(
        "vm count",
        host.vm_count as usize == sim.vms.len() && vms.len() == sim.vms.len(),
    )?;
    let by_id: BTreeMap<String, &pb::Vm> = vms.iter().map(|vm| (vm.id.clone(), vm)).collect();
    for want in &sim.vms {
        let id = want.id.to_string();
        let Some(got) = by_id.get(&id) else {
            return Err(format!("{}: vm {id} missing", host.host));
        };
        let field = |name: &str, ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(format!("vm {} ({id}): {name}", want.name))
            }
        };
        field("name", got.name == want.name)?;
        field("host", got.host == host.host)?;
        field("cluster", got.cluster == cluster)?;
        field("state", state_name(got.state) == expected_state(want.state))?;
        field("cpu", got.cpu_count == want.cpu_count)?;
        field(
            "memory assigned",
            got.memory_assigned_bytes == want.memory_assigned_bytes,
        )?;
        field(
            "memory startup",
            got.memory_startup_bytes == want.memory_startup_bytes,
        )?;
        field(
            "memory min",
            got.memory_minimum_bytes == want.memory_minimum_bytes,
        )?;
        field(
            "memory max",
            got.memory_maximum_bytes == want.memory_maximum_bytes,
        )?;
        field(
            "dynamic",
            got.dynamic_memory_enabled == want.dynamic_memory_enabled,
        )?;
        field(
            "generation",
            got.generation == u32::from(want.generation.number()),
        )?;
        field(
            "version",
            got.configuration_version == want.configuration_version,
        )?;
        field("notes", got.notes == want.notes)?;
        field(
            "os",
            got.os_name == want.guest_os_name.clone().unwrap_or_default(),
        )?;
        field(
            "created",
            ts_seconds(&got.creation_time) == Some(want.creation_time.get().unix_timestamp()),
        )?;
        let uptime = got.uptime.as_ref().map_or(0, |u| u.seconds);
        field("uptime", (uptime - want.uptime_seconds as i64).abs() <= 5)?;
        field("clustered", got.clustered == want.clustered)?;
        field(
            "secure boot",
            got.secure_boot_enabled == want.secure_boot_enabled,
        )?;
        field(
            "secure boot template",
            got.secure_boot_template
                == want
                    .secure_boot_template
                    .map(|t| format!("{t:?}"))
                    .unwrap_or_default(),
        )?;
        field(
            "configuration path",
            got.configuration_path == want.configuration_path,
        )?;
        let ips: Vec<String> = want.ip_addresses.iter().map(ToString::to_string).collect();
        field("ips", got.ip_addresses == ips)?;
        let primary = want
            .ip_addresses
            .iter()
            .find(|ip| ip.is_ipv4())
            .or(want.ip_addresses.first())
            .map(ToString::to_string)
            .unwrap_or_default();
        field("primary ip", got.primary_ip == primary)?;
        field("stale", !got.stale)?;
        field("nic count", got.nics.len() == want.nics.len())?;
        for (g, w) in got.nics.iter().zip(&want.nics) {
            field("nic id", g.id == w.id.as_str())?;
            field("nic name", g.name == w.name)?;
            field(
                "nic switch",
                g.switch_name == w.switch_name.clone().unwrap_or_default(),
            )?;
            field("nic vlan", g.vlan_id == w.vlan_id.map(u32::from))?;
            field("nic mac", g.mac_address == w.mac_address)?;
            field(
                "nic static mac",
                g.mac_address_static == w.mac_address_static,
            )?;
            field(
                "nic ips",
                g.ip_addresses
                    == w.ip_addresses
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>(),
            )?;
            field(
                "nic network",
                g.network_name == w.network_name.clone().unwrap_or_default(),
            )?;
        }
        let mut disks = want.disks.clone();
        disks.sort_by_key(|d| {
            (
                d.controller_type as u8,
                d.controller_number,
                d.controller_location,
            )
        });
        field("disk count", got.disks.len() == disks.len())?;
        for (g, w) in got.disks.iter().zip(&disks) {
            field("disk id", g.id == w.id.as_str())?;
            field("disk name", g.name == w.name)?;
            field("disk path", g.path == w.path)?;
            let kind = match w.disk_type {
                None => pb::DiskType::Unspecified,
                Some(aetherv_hyperv::DiskType::Dynamic) => pb::DiskType::Dynamic,
                Some(aetherv_hyperv::DiskType::Fixed) => pb::DiskType::Fixed,
                Some(aetherv_hyperv::DiskType::Differencing) => pb::DiskType::Differencing,
            };
            field("disk type", g.r#type == kind as i32)?;
            field(
                "disk capacity",
                g.capacity_bytes == w.capacity_bytes.unwrap_or(0),
            )?;
            field(
                "disk file size",
                g.file_size_bytes == w.file_size_bytes.unwrap_or(0),
            )?;
            let controller = match w.controller_type {
                aetherv_hyperv::ControllerType::Scsi => pb::ControllerType::Scsi,
                aetherv_hyperv::ControllerType::Ide => pb::ControllerType::Ide,
            };
            field("disk controller", g.controller_type == controller as i32)?;
            field(
                "disk position",
                (g.controller_number, g.controller_location)
                    == (
                        u32::from(w.controller_number),
                        u32::from(w.controller_location),
                    ),
            )?;
        }
    }
    Ok(())
}

async fn refresh(suite: &Suite, host: &str) -> pb::RefreshHostResponse {
    match suite
        .client
        .clone()
        .refresh_host(pb::RefreshHostRequest {
            host: host.to_string(),
        })
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("RefreshHost {host}: {status}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_converges_with_every_field_of_the_simulated_fleet() {
    let suite = Suite::start(3, 6, 1, |_| {}).await;
    let summary = suite.converged().await;
    assert_eq!(summary.hosts_total, 3);
    assert_eq!(summary.vms_total, 18);
    assert_eq!(summary.clusters_total, 1);
    assert_eq!(summary.standalone_hosts, 1);
    for sim_host in suite.fleet.hosts() {
        // The simulator's VMs may be mid-transition; a fresh refresh and a fresh read
        // agree within a few attempts.
        let mut last = String::new();
        let mut matched = false;
        for _ in 0..10 {
            let outcome = refresh(&suite, sim_host.name()).await;
            assert!(outcome.ok, "{:?}", outcome.error);
            let sim = sim_host.inventory();
            let Some(host) = outcome.host else {
                panic!("refresh answered no host")
            };
            let vms = suite.vms_of(sim_host.name()).await;
            match compare(&sim, &host, &vms) {
                Ok(()) => {
                    matched = true;
                    break;
                }
                Err(difference) => last = difference,
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        assert!(matched, "inventory never matched the simulator: {last}");
    }
    // Clusters and capacity add up.
    let clusters = match suite
        .client
        .clone()
        .list_clusters(pb::ListClustersRequest {})
        .await
    {
        Ok(response) => response.into_inner().clusters,
        Err(status) => panic!("ListClusters: {status}"),
    };
    let Some(cluster) = clusters.first() else {
        panic!("one cluster")
    };
    let members: Vec<String> = suite
        .fleet
        .hosts()
        .iter()
        .filter(|h| h.cluster().is_some())
        .map(|h| h.name().to_string())
        .collect();
    assert_eq!(cluster.hosts, members);
    let hosts = suite.hosts().await;
    let cores: u32 = hosts
        .iter()
        .filter(|h| h.cluster == cluster.name)
        .map(|h| h.cpu_cores)
        .sum();
    assert_eq!(cluster.capacity.map(|c| c.cpu_cores), Some(cores));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_band_change_reaches_a_watch_stream_after_a_refresh() {
    let suite = Suite::start(2, 4, 1, |_| {}).await;
    let summary = suite.converged().await;
    let mut stream = match suite
        .client
        .clone()
        .watch(pb::WatchRequest {
            from_revision: summary.revision,
        })
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("Watch: {status}"),
    };
    let sim_host = &suite.fleet.hosts()[1];
    let Some(target) = sim_host.vms().first().cloned() else {
        panic!("a vm")
    };
    let change = VmChange {
        notes: Some("changed in Hyper-V Manager".to_string()),
        cpu_count: Some(target.cpu_count + 1),
        ..VmChange::default()
    };
    if let Err(error) = sim_host.change_vm(target.id, &change) {
        panic!("out-of-band change: {error}");
    }
    // No RefreshHost: the schedule (2 s interval) picks it up.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut synced = false;
    let found = loop {
        let next = tokio::time::timeout_at(deadline, stream.message()).await;
        let event = match next {
            Ok(Ok(Some(event))) => event,
            Ok(Ok(None)) => panic!("watch ended"),
            Ok(Err(status)) => panic!("watch failed: {status}"),
            Err(_) => panic!("the change did not arrive within 30 s"),
        };
        match event.event {
            Some(Event::Synced(_)) => synced = true,
            Some(Event::Resync(_)) => panic!("a current revision must not resync"),
            Some(Event::VmUpserted(vm)) if vm.id == target.id.to_string() => {
                assert!(event.revision > summary.revision);
                assert_eq!(vm.revision, event.revision);
                break vm;
            }
            _ => {}
        }
    };
    assert!(synced, "synced comes before live changes");
    assert_eq!(found.notes, "changed in Hyper-V Manager");
    assert_eq!(found.cpu_count, target.cpu_count + 1);

    // A second watcher from revision 0 gets resync, the snapshot and synced.
    let mut fresh = match suite
        .client
        .clone()
        .watch(pb::WatchRequest { from_revision: 0 })
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("Watch: {status}"),
    };
    let mut kinds = BTreeMap::<&str, usize>::new();
    loop {
        let event = match tokio::time::timeout(Duration::from_secs(10), fresh.message()).await {
            Ok(Ok(Some(event))) => event,
            other => panic!("snapshot incomplete: {other:?}"),
        };
        let kind = match event.event {
            Some(Event::Resync(resync)) => {
                assert_eq!(resync.reason, pb::ResyncReason::Initial as i32);
                "resync"
            }
            Some(Event::ClusterUpserted(_)) => "cluster",
            Some(Event::HostUpserted(_)) => "host",
            Some(Event::VmUpserted(_)) => "vm",
            Some(Event::Synced(_)) => break,
            _ => "other",
        };
        *kinds.entry(kind).or_default() += 1;
    }
    assert_eq!(kinds.get("resync"), Some(&1));
    assert_eq!(kinds.get("cluster"), Some(&1));
    assert_eq!(kinds.get("host"), Some(&2));
    assert_eq!(kinds.get("vm"), Some(&8));
    // Idle streams get heartbeats (1 s in the suite) or changes; either way they live.
    let next = tokio::time::timeout(Duration::from_secs(10), fresh.message()).await;
    assert!(matches!(next, Ok(Ok(Some(_)))), "{next:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresponsive_host_is_unreachable_with_its_vms_kept_stale_then_recovers() {
    let suite = Suite::start(3, 4, 1, |_| {}).await;
    suite.converged().await;
    let bad = suite.fleet.hosts()[0].clone();
    let bad_name = bad.name().to_string();
    let before = suite.vms_of(&bad_name).await;
    assert_eq!(before.len(), 4);
    bad.set_responsiveness(Responsiveness::Unresponsive);
    let marked = tokio::time::Instant::now();
    let summary = suite
        .until("the host unreachable", Duration::from_secs(60), |summary| {
            summary
                .hosts_by_status
                .iter()
                .any(|c| c.status == pb::HostStatus::Unreachable as i32 && c.count == 1)
        })
        .await;
    assert_eq!(summary.stale_vms, 4);
    assert_eq!(summary.vms_total, 12, "nothing was dropped");
    let hosts = suite.hosts().await;
    let Some(host) = hosts.iter().find(|h| h.host == bad_name) else {
        panic!("host listed")
    };
    assert_eq!(host.status, pb::HostStatus::Unreachable as i32);
    // e.g. "inventory.collect on host hv-… failed in transport: ws-management request
    // timed out: …"
    assert!(
        host.status_reason.contains(&bad_name) && host.status_reason.contains("timed out"),
        "the reason says what failed: {}",
        host.status_reason
    );
    assert!(host.stale);
    assert!(host.last_seen.is_some(), "last seen is kept");
    let stale = suite.vms_of(&bad_name).await;
    assert_eq!(stale.len(), 4);
    assert!(stale.iter().all(|vm| vm.stale));
    assert_eq!(
        stale.iter().map(|vm| vm.name.clone()).collect::<Vec<_>>(),
        before.iter().map(|vm| vm.name.clone()).collect::<Vec<_>>()
    );
    // The others stay fresh: refreshed since the host went silent.
    let marked_wall = time::OffsetDateTime::now_utc() - marked.elapsed();
    for other in hosts.iter().filter(|h| h.host != bad_name) {
        assert_eq!(
            other.status,
            pb::HostStatus::Reachable as i32,
            "{}",
            other.host
        );
        let seen = other.last_seen.as_ref().map_or(0, |t| t.seconds);
        assert!(
            seen >= marked_wall.unix_timestamp() - 1,
            "{} is fresh",
            other.host
        );
        assert!(suite.vms_of(&other.host).await.iter().all(|vm| !vm.stale));
    }
    // RefreshHost on it answers with the failure as an outcome.
    let outcome = refresh(&suite, &bad_name).await;
    assert!(!outcome.ok);
    assert!(outcome.error.is_some());
    assert_eq!(
        outcome.host.map(|h| h.status),
        Some(pb::HostStatus::Unreachable as i32)
    );

    bad.set_responsiveness(Responsiveness::Normal);
    let summary = suite
        .until("the host back", Duration::from_secs(60), |summary| {
            summary.stale_vms == 0
                && summary
                    .hosts_by_status
                    .iter()
                    .all(|c| c.status == pb::HostStatus::Reachable as i32)
        })
        .await;
    assert_eq!(summary.vms_total, 12);
    let host = suite.hosts().await.into_iter().find(|h| h.host == bad_name);
    assert_eq!(host.as_ref().map(|h| h.status_reason.as_str()), Some(""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_host_applies_at_once_and_checks_its_input() {
    // A long interval: only RefreshHost refreshes after the first cycle.
    let suite = Suite::start(2, 3, 0, |config| {
        config.refresh_interval = Duration::from_secs(3600)
    })
    .await;
    suite.converged().await;
    let sim_host = &suite.fleet.hosts()[0];
    let Some(target) = sim_host.vms().first().cloned() else {
        panic!("a vm")
    };
    let change = VmChange {
        name: Some("renamed-out-of-band".into()),
        ..VmChange::default()
    };
    if let Err(error) = sim_host.change_vm(target.id, &change) {
        panic!("change: {error}");
    }
    let outcome = refresh(&suite, sim_host.name()).await;
    assert!(outcome.ok);
    assert_eq!(
        (outcome.vms_added, outcome.vms_changed, outcome.vms_removed),
        (0, 1, 0)
    );
    let vm = match suite
        .client
        .clone()
        .get_vm(pb::GetVmRequest {
            vm_id: target.id.to_string().to_uppercase(),
        })
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => panic!("GetVm: {status}"),
    };
    assert_eq!(vm.name, "renamed-out-of-band");
    assert_eq!(vm.revision, outcome.revision);

    let unknown = suite
        .client
        .clone()
        .refresh_host(pb::RefreshHostRequest {
            host: "nohost.lab".into(),
        })
        .await;
    let Err(status) = unknown else {
        panic!("unknown host refreshed")
    };
    assert_eq!(status.code(), Code::NotFound);
    let invalid = suite
        .client
        .clone()
        .refresh_host(pb::RefreshHostRequest {
            host: "not a host!".into(),
        })
        .await;
    let Err(status) = invalid else {
        panic!("invalid host accepted")
    };
    assert_eq!(status.code(), Code::InvalidArgument);
    let detail = detail_of(&status);
    assert_eq!(
        detail
            .and_then(|d| d.violations.first().map(|v| v.field.clone()))
            .as_deref(),
        Some("host")
    );
    let missing = suite
        .client
        .clone()
        .get_vm(pb::GetVmRequest {
            vm_id: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
        })
        .await;
    assert_eq!(missing.err().map(|s| s.code()), Some(Code::NotFound));
    let bad_page = suite
        .client
        .clone()
        .list_vms(pb::ListVmsRequest {
            page: Some(aetherv_proto::common::v1::PageRequest {
                page_size: 5000,
                page_token: String::new(),
            }),
            ..pb::ListVmsRequest::default()
        })
        .await;
    let Err(status) = bad_page else {
        panic!("page size accepted")
    };
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("page.page_size"),
        "{}",
        status.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_not_serving_until_remote_tasks_answers() {
    let fleet = suite::fleet(2, 2, 0).await;
    // A port with nothing behind it yet: remote-tasks comes up later.
    let placeholder = suite::bind("127.0.0.1:0").await;
    let remote_address = match placeholder.local_addr() {
        Ok(address) => address,
        Err(error) => panic!("{error}"),
    };
    drop(placeholder);
    let inventory = suite::inventory(
        suite::inventory_config(remote_address),
        suite::bind("127.0.0.1:0").await,
    );
    let mut health = HealthClient::new(suite::channel(inventory.address));
    let check = |service: &str| HealthCheckRequest {
        service: service.to_string(),
    };
    let status = |response: Result<
        tonic::Response<tonic_health::pb::HealthCheckResponse>,
        tonic::Status,
    >| { response.map(|r| r.into_inner().status).unwrap_or(-1) };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        status(health.check(check("")).await),
        ServingStatus::NotServing as i32
    );
    assert_eq!(
        status(health.check(check("aetherv.inventory.v1.Inventory")).await),
        ServingStatus::NotServing as i32
    );
    let mut diagnostics = aetherv_proto::common::v1::diagnostics_client::DiagnosticsClient::new(
        suite::channel(inventory.address),
    );
    let reasons = match diagnostics
        .get_status(aetherv_proto::common::v1::GetStatusRequest {})
        .await
    {
        Ok(response) => response.into_inner().reasons,
        Err(status) => panic!("GetStatus: {status}"),
    };
    assert!(
        reasons.iter().any(|r| r.contains("remote-tasks")),
        "{reasons:?}"
    );

    let remote = suite::remote_tasks(&fleet, suite::bind(&remote_address.to_string()).await);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if status(health.check(check("")).await) == ServingStatus::Serving as i32 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never became SERVING"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    inventory.stop().await;
    remote.stop().await;
}
