//! A host that stops answering (the simulator accepts its connections and never replies)
//! is marked unreachable with the reason — through gRPC, REST and `/ws` — its VMs are kept
//! and marked stale, the notifications service gets one error notification for it, and
//! the other hosts keep being refreshed meanwhile. When it answers again it recovers: the
//! status, the VMs and the same notification (resolved in place).

use std::time::Duration;

use aetherv_hvsim::Responsiveness;
use aetherv_proto::inventory::v1 as pb;
use aetherv_proto::notifications::v1 as npb;
use aetherv_tests::TestStack;
use serde_json::Value;

/// remote-tasks notices after 5 s, inventory gives a host 10 s; refreshes every 2 s.
const LIMIT: Duration = Duration::from_secs(60);

fn seconds(time: Option<&prost_types::Timestamp>) -> i64 {
    time.map_or(0, |t| t.seconds)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresponsive_host_is_unreachable_with_its_reason_and_recovers() -> anyhow::Result<()> {
    let stack = TestStack::builder()
        .hosts(4)
        .vms_per_host(3)
        .clusters(1)
        .time_scale(1.0)
        .start()
        .await?;
    let summary = stack.wait_for_converged().await?;
    let mut ws = stack.ws().await?;
    ws.subscribe("inventory", Some(&summary.revision.to_string()))
        .await?;

    let sick = stack.fleet.hosts()[0].clone();
    let name = sick.name().to_string();
    let before = stack.hosts().await?;
    sick.set_responsiveness(Responsiveness::Unresponsive);

    let down = stack
        .wait_for_host(&name, LIMIT, |h| {
            h.status == pb::HostStatus::Unreachable as i32
        })
        .await?;
    assert!(!down.status_reason.is_empty(), "{down:?}");
    assert!(down.stale, "{down:?}");
    let last_seen = seconds(down.last_seen.as_ref());
    assert!(last_seen > 0, "last_seen kept: {down:?}");

    // The others go on being refreshed and stay reachable: each gets a refresh that ends
    // after the sick host was found unreachable.
    let marked = seconds(down.last_refresh.as_ref());
    for other in before.iter().filter(|h| h.host != name) {
        let fresh = stack
            .wait_for_host(&other.host, LIMIT, |h| {
                seconds(h.last_refresh.as_ref()) > marked
            })
            .await?;
        assert_eq!(fresh.status, pb::HostStatus::Reachable as i32, "{fresh:?}");
        assert!(!fresh.stale);
    }

    // REST: the host with its reason and last-seen time, its VMs kept and stale.
    let host = stack.get(&format!("/api/v1/hosts/{name}")).await?.json()?;
    assert_eq!(host["status"], "unreachable", "{host}");
    assert_eq!(
        host["status_reason"],
        Value::from(down.status_reason.as_str())
    );
    assert!(host["last_seen"].is_string(), "{host}");
    let vms = stack
        .get(&format!("/api/v1/hosts/{name}/vms"))
        .await?
        .json()?;
    let vms = vms["vms"].as_array().cloned().unwrap_or_default();
    assert_eq!(vms.len(), 3);
    for vm in &vms {
        assert_eq!(vm["stale"], true, "{vm}");
        assert_eq!(vm["power_actions"], serde_json::json!([]), "{vm}");
    }
    let others = stack.get("/api/v1/vms?page_size=1000").await?.json()?;
    let fresh_vms = others["vms"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|vm| vm["host"] != name.as_str())
        .inspect(|vm| assert_eq!(vm["stale"], false, "{vm}"))
        .count();
    assert_eq!(fresh_vms, 9);

    // /ws carried the change.
    let event = ws
        .wait_for("the host marked unreachable", LIMIT, |f| {
            f["kind"] == "host_upserted"
                && f["data"]["name"] == name.as_str()
                && f["data"]["status"] == "unreachable"
        })
        .await?;
    assert!(event["data"]["status_reason"].is_string(), "{event}");

    // One error notification, keyed by the host.
    let key = format!("host-unreachable:{name}");
    let notice = stack
        .wait_for_notification("the unreachable host's notification", LIMIT, |n| {
            n.dedup_key == key
        })
        .await?;
    assert_eq!(notice.level, npb::Level::Error as i32, "{notice:?}");
    assert_eq!(notice.category, npb::Category::Host as i32, "{notice:?}");

    // Recovery.
    sick.set_responsiveness(Responsiveness::Normal);
    let up = stack
        .wait_for_host(&name, LIMIT, |h| {
            h.status == pb::HostStatus::Reachable as i32
        })
        .await?;
    assert!(up.status_reason.is_empty(), "{up:?}");
    assert!(!up.stale);
    ws.wait_for("the host reachable again", LIMIT, |f| {
        f["kind"] == "host_upserted"
            && f["data"]["name"] == name.as_str()
            && f["data"]["status"] == "reachable"
    })
    .await?;
    let vms = stack
        .get(&format!("/api/v1/hosts/{name}/vms"))
        .await?
        .json()?;
    for vm in vms["vms"].as_array().into_iter().flatten() {
        assert_eq!(vm["stale"], false, "{vm}");
    }
    let resolved = stack
        .wait_for_notification("the notification resolved in place", LIMIT, |n| {
            n.dedup_key == key && n.level == npb::Level::Success as i32
        })
        .await?;
    assert_eq!(
        resolved.id, notice.id,
        "resolved in place, not a new notification"
    );
    ws.close().await;

    stack.stop().await?;
    Ok(())
}
