//! Changes made behind the control plane's back — in the simulator, as someone in Hyper-V
//! Manager would — reach an inventory `Watch` stream (gRPC) and a `/ws` client (the
//! gateway's WebSocket) without anyone asking: a VM's notes and CPU count change, a VM is
//! added, another removed.

use std::time::Duration;

use aetherv_hvsim::{NewVm, VmChange};
use aetherv_hyperv::{Generation, VmState};
use aetherv_proto::inventory::v1 as pb;
use aetherv_proto::inventory::v1::watch_event::Event;
use aetherv_tests::TestStack;
use tokio::time::Instant;

/// The bound on waiting for a change (refreshes run every 2 s).
const LIMIT: Duration = Duration::from_secs(30);

/// What a stream must show.
#[derive(Debug, Default)]
struct Seen {
    notes: bool,
    added: bool,
    removed: bool,
}

impl Seen {
    fn all(&self) -> bool {
        self.notes && self.added && self.removed
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_band_changes_reach_watch_and_websocket() -> anyhow::Result<()> {
    let stack = TestStack::builder()
        .hosts(3)
        .vms_per_host(4)
        .clusters(1)
        .time_scale(1.0)
        .start()
        .await?;
    let summary = stack.wait_for_converged().await?;
    let from = summary.revision;

    // Both subscribers start from the converged revision, before the changes.
    let mut watch = stack
        .inventory()?
        .watch(pb::WatchRequest {
            from_revision: from,
        })
        .await?
        .into_inner();
    let mut ws = stack.ws().await?;
    ws.subscribe("inventory", Some(&from.to_string())).await?;

    let host = stack.fleet.hosts()[1].clone();
    let vms = host.vms();
    let (changed, removed) = (vms[0].id, vms[1].id);
    host.change_vm(
        changed,
        &VmChange {
            notes: Some("changed in Hyper-V Manager".to_string()),
            cpu_count: None,
            ..VmChange::default()
        },
    )?;
    let added = host.add_vm(&NewVm {
        name: "oob-added-vm".to_string(),
        cpu_count: 2,
        memory_startup_bytes: 2 << 30,
        generation: Generation::Two,
        state: VmState::Off,
        notes: "added out of band".to_string(),
        guest_os_name: None,
    })?;
    host.remove_vm(removed)?;
    let (changed, removed, added) = (
        changed.to_string(),
        removed.to_string(),
        added.id.to_string(),
    );

    // gRPC Watch: upserts of the changed and the added VM, a delete of the removed one.
    let deadline = Instant::now() + LIMIT;
    let mut grpc = Seen::default();
    while !grpc.all() {
        let event = tokio::time::timeout_at(deadline, watch.message())
            .await
            .map_err(|_| anyhow::anyhow!("Watch: only {grpc:?} after {LIMIT:?}"))??
            .ok_or_else(|| anyhow::anyhow!("Watch ended early"))?;
        match event.event {
            Some(Event::VmUpserted(vm)) if vm.id == changed => {
                grpc.notes |= vm.notes == "changed in Hyper-V Manager";
            }
            Some(Event::VmUpserted(vm)) if vm.id == added => {
                assert_eq!(vm.name, "oob-added-vm");
                assert_eq!(vm.host, host.name());
                grpc.added = true;
            }
            Some(Event::VmDeleted(deleted)) if deleted.id == removed => grpc.removed = true,
            Some(Event::Resync(resync)) => anyhow::bail!("unexpected resync: {resync:?}"),
            _ => {}
        }
    }

    // /ws: the same three, as the gateway's JSON events.
    let mut web = Seen::default();
    let deadline = Instant::now() + LIMIT;
    while !web.all() {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = ws
            .wait_for("an inventory event", left, |f| {
                f["type"] == "event" || f["type"] == "resync"
            })
            .await?;
        assert_eq!(frame["type"], "event", "{frame}");
        assert_eq!(frame["topic"], "inventory");
        let data = &frame["data"];
        match frame["kind"].as_str() {
            Some("vm_upserted") if data["id"] == changed.as_str() => {
                web.notes |= data["notes"] == "changed in Hyper-V Manager";
            }
            Some("vm_upserted") if data["id"] == added.as_str() => {
                assert_eq!(data["name"], "oob-added-vm");
                assert_eq!(data["state"], "off");
                web.added = true;
            }
            Some("vm_deleted") if data["id"] == removed.as_str() => {
                assert_eq!(data["host"], host.name());
                web.removed = true;
            }
            _ => {}
        }
    }
    ws.close().await;

    // REST agrees.
    let vm = stack.get(&format!("/api/v1/vms/{changed}")).await?.json()?;
    assert_eq!(vm["notes"], "changed in Hyper-V Manager");
    assert_eq!(
        stack.get(&format!("/api/v1/vms/{removed}")).await?.status,
        404
    );
    let vm = stack.get(&format!("/api/v1/vms/{added}")).await?.json()?;
    assert_eq!(vm["name"], "oob-added-vm");

    stack.stop().await?;
    Ok(())
}

/// With the refresh schedule an hour away, an out-of-band change reaches a `/ws` client
/// within the wait only through the host's `inventory.watch` (inventory refreshes the host
/// when the watch reports the change).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_watch_brings_an_out_of_band_change_to_websocket_without_the_schedule()
-> anyhow::Result<()> {
    let stack = TestStack::builder()
        .hosts(2)
        .vms_per_host(3)
        .clusters(1)
        .time_scale(1.0)
        .inventory(|config| {
            config.refresh_interval = Duration::from_secs(3600);
            config.watch.length = Duration::from_secs(60);
        })
        .start()
        .await?;
    let summary = stack.wait_for_converged().await?;
    let mut ws = stack.ws().await?;
    ws.subscribe("inventory", Some(&summary.revision.to_string()))
        .await?;
    let host = stack.fleet.hosts()[0].clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    while host.watchers() == 0 {
        anyhow::ensure!(Instant::now() < deadline, "no watch ran on {}", host.name());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let target = host.vms()[0].id;
    host.change_vm(
        target,
        &VmChange {
            notes: Some("changed while watched".to_string()),
            ..VmChange::default()
        },
    )?;
    let target = target.to_string();
    let frame = ws
        .wait_for("the watched change on /ws", Duration::from_secs(20), |f| {
            f["kind"] == "vm_upserted"
                && f["data"]["id"] == target.as_str()
                && f["data"]["notes"] == "changed while watched"
        })
        .await?;
    assert_eq!(frame["topic"], "inventory");
    ws.close().await;
    stack.stop().await?;
    Ok(())
}
