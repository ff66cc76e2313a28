//! End to end: a simulated fleet (`aetherv-hvsim`, real WinRM endpoints), the real
//! remote-tasks service, inventory refreshing through it and publishing to this service.
//! An unresponsive host produces exactly one "host unreachable" notification, which its
//! recovery updates in place; a slow host raises a warning that is resolved in place when
//! it is fast again; grpcurl sees what the producers published.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use aetherv_hvsim::{Responsiveness, SimFleet};
use aetherv_notifications::Config;
use aetherv_proto::inventory::v1 as inv;
use aetherv_proto::inventory::v1::inventory_client::InventoryClient;
use aetherv_proto::notifications::v1 as pb;
use aetherv_proto::notifications::v1::notification_event::Event as Kind;
use aetherv_runtime::{ClientConfig, connect_lazy};
use support::{Client, Service, grpcurl, kind, subscribe, until_synced};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::Streaming;
use tonic::transport::Channel;

const USERNAME: &str = "aetherv";
/// The simulator user's password (test-only).
const PASSWORD: &str = "Sim-Passw0rd-for-notification-tests";

/// A service running in this process until stopped or dropped.
struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn bind() -> (TcpListener, SocketAddr) {
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(error) => panic!("bind: {error}"),
    };
    match listener.local_addr() {
        Ok(address) => (listener, address),
        Err(error) => panic!("local address: {error}"),
    }
}

/// The fleet, remote-tasks, inventory (publishing to `notifications`) and a client of each.
struct Stack {
    fleet: SimFleet,
    remote_tasks: Running,
    inventory: Running,
    inventory_client: InventoryClient<Channel>,
}

impl Stack {
    async fn start(
        notifications: SocketAddr,
        hosts: u32,
        tweak: impl FnOnce(&mut aetherv_inventory::Config),
    ) -> Stack {
        let fleet = match SimFleet::builder()
            .hosts(hosts)
            .vms_per_host(2)
            .seed(23)
            .user(USERNAME, PASSWORD)
            .start()
            .await
        {
            Ok(fleet) => fleet,
            Err(error) => panic!("simulated fleet: {error}"),
        };
        let entries = fleet
            .hosts()
            .iter()
            .filter_map(|host| {
                let endpoint = host.http_endpoint()?;
                Some(aetherv_remote_tasks::HostEntry::at(host.name(), &endpoint))
            })
            .collect();
        let mut rt_config = aetherv_remote_tasks::Config::for_testing(entries, USERNAME, PASSWORD);
        // An unresponsive host is noticed after this long.
        rt_config.winrm.operation_timeout = Duration::from_secs(3);
        let (listener, rt_address) = bind().await;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(error) = aetherv_remote_tasks::serve(rt_config, listener, shutdown).await {
                panic!("remote-tasks: {error}");
            }
        });
        let remote_tasks = Running {
            stop: Some(stop),
            task,
        };

        let mut config = aetherv_inventory::Config::for_testing(&format!("http://{rt_address}"));
        config.refresh_interval = Duration::from_secs(2);
        config.host_timeout = Duration::from_secs(6);
        config.remote_tasks.request_timeout = Duration::from_secs(5);
        config.notifications = ClientConfig {
            endpoint: format!("http://{notifications}"),
            ..ClientConfig::local(0)
        };
        tweak(&mut config);
        let (listener, inv_address) = bind().await;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(error) = aetherv_inventory::serve(config, listener, shutdown).await {
                panic!("inventory: {error}");
            }
        });
        let inventory = Running {
            stop: Some(stop),
            task,
        };
        let channel = match connect_lazy(&ClientConfig {
            endpoint: format!("http://{inv_address}"),
            ..ClientConfig::local(0)
        }) {
            Ok(channel) => channel,
            Err(error) => panic!("channel: {error}"),
        };
        Stack {
            fleet,
            remote_tasks,
            inventory_client: InventoryClient::new(channel),
            inventory,
        }
    }

    async fn hosts(&self) -> Vec<inv::Host> {
        let listed = self
            .inventory_client
            .clone()
            .list_hosts(inv::ListHostsRequest::default())
            .await;
        match listed {
            Ok(response) => response.into_inner().hosts,
            Err(status) => panic!("ListHosts: {status}"),
        }
    }

    /// Polls inventory's hosts every 100 ms until `check` holds (a bound on waiting, not
    /// a timing assertion).
    async fn until_hosts(&self, what: &str, check: impl Fn(&[inv::Host]) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let hosts = self.hosts().await;
            if check(&hosts) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited 60 s for {what}; hosts: {hosts:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn stop(self) {
        self.inventory.stop().await;
        self.remote_tasks.stop().await;
        self.fleet.shutdown().await;
    }
}

fn host_named<'a>(hosts: &'a [inv::Host], name: &str) -> Option<&'a inv::Host> {
    hosts.iter().find(|host| host.host == name)
}

/// Reads the stream until a created/updated event of `key` matching `check` arrives;
/// returns it and every created/updated event of `key` seen on the way.
async fn until_event(
    stream: &mut Streaming<pb::NotificationEvent>,
    key: &str,
    check: impl Fn(&Kind) -> bool,
) -> (pb::Notification, Vec<pb::NotificationEvent>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let event = match tokio::time::timeout(remaining, stream.message()).await {
            Ok(Ok(Some(event))) => event,
            Ok(other) => panic!("the stream ended: {other:?}"),
            Err(_) => panic!("waited 60 s for an event of {key}; saw {seen:?}"),
        };
        let notification = match kind(&event) {
            Kind::Created(n) | Kind::Updated(n) if n.dedup_key == key => n.clone(),
            _ => continue,
        };
        seen.push(event.clone());
        if check(kind(&event)) {
            return (notification, seen);
        }
    }
}

async fn list(client: &mut Client) -> Vec<pb::Notification> {
    match client
        .list(pb::ListNotificationsRequest {
            limit: 1000,
            unread_only: false,
        })
        .await
    {
        Ok(response) => response.into_inner().notifications,
        Err(status) => panic!("List: {status:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresponsive_host_produces_one_notification_that_its_recovery_updates() {
    let notifications = Service::start(Config::for_testing()).await;
    let mut client = notifications.client.clone();
    let mut stream = subscribe(&mut client, 0).await;
    until_synced(&mut stream).await;

    let stack = Stack::start(notifications.address, 3, |_| {}).await;
    let names: Vec<String> = stack
        .fleet
        .hosts()
        .iter()
        .map(|h| h.name().to_lowercase())
        .collect();
    stack
        .until_hosts("every host reachable", |hosts| {
            hosts.len() == names.len()
                && hosts
                    .iter()
                    .all(|h| h.status == inv::HostStatus::Reachable as i32)
        })
        .await;

    let bad = stack.fleet.hosts()[0].clone();
    let bad_name = bad.name().to_lowercase();
    let key = format!("host-unreachable:{bad_name}");
    bad.set_responsiveness(Responsiveness::Unresponsive);
    let (raised, created) = until_event(
        &mut stream,
        &key,
        |kind| matches!(kind, Kind::Created(n) if n.level == pb::Level::Error as i32),
    )
    .await;
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(raised.title, format!("Host {bad_name} unreachable"));
    assert_eq!(raised.category, pb::Category::Host as i32);
    assert!(
        raised.message.contains("timed out"),
        "the reason is in the message: {}",
        raised.message
    );
    assert_eq!(
        raised.related.as_ref().map(|r| r.id.as_str()),
        Some(bad_name.as_str())
    );
    assert!(!raised.read);

    // It stays unreachable for two more refreshes: still one notification, published once.
    let Some(first_failure) = host_named(&stack.hosts().await, &bad_name)
        .and_then(|h| h.last_refresh)
        .map(|t| t.seconds)
    else {
        panic!("the host has a last refresh")
    };
    stack
        .until_hosts("two more refreshes of the silent host", |hosts| {
            host_named(hosts, &bad_name).is_some_and(|h| {
                h.status == inv::HostStatus::Unreachable as i32
                    && h.last_refresh
                        .is_some_and(|t| t.seconds >= first_failure + 4)
            })
        })
        .await;
    let keyed: Vec<pb::Notification> = list(&mut client)
        .await
        .into_iter()
        .filter(|n| n.dedup_key == key)
        .collect();
    assert_eq!(keyed.len(), 1);
    assert_eq!(
        (keyed[0].id.as_str(), keyed[0].occurrences),
        (raised.id.as_str(), 1)
    );

    // The operator reads it; recovery is news, so it is unread again, in place.
    assert!(
        client
            .mark_read(pb::MarkReadRequest {
                id: raised.id.clone()
            })
            .await
            .is_ok()
    );
    bad.set_responsiveness(Responsiveness::Normal);
    let (recovered, _) = until_event(
        &mut stream,
        &key,
        |kind| matches!(kind, Kind::Updated(n) if n.level == pb::Level::Success as i32),
    )
    .await;
    assert_eq!(recovered.id, raised.id);
    assert_eq!(recovered.title, format!("Host {bad_name} reachable again"));
    assert_eq!(recovered.occurrences, 2);
    assert!(!recovered.read);
    assert_eq!(recovered.created_at, raised.created_at);

    let all = list(&mut client).await;
    let host_notifications: Vec<&pb::Notification> = all
        .iter()
        .filter(|n| n.dedup_key.starts_with("host-unreachable:"))
        .collect();
    assert_eq!(
        host_notifications.len(),
        1,
        "only the silent host has one: {all:?}"
    );

    // A third-party client sees what inventory published.
    let output = tokio::process::Command::new(grpcurl())
        .args(["-plaintext", "-max-time", "20", "-d", r#"{"limit":50}"#])
        .arg(notifications.address.to_string())
        .arg("aetherv.notifications.v1.Notifications/List")
        .output()
        .await;
    let output = match output {
        Ok(output) => output,
        Err(error) => panic!("grpcurl could not run: {error}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!(r#""title": "Host {bad_name} reachable again""#))
            && stdout.contains(&format!(r#""dedupKey": "{key}""#))
            && stdout.contains(r#""occurrences": 2"#),
        "{stdout}"
    );

    stack.stop().await;
    notifications.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_host_raises_a_warning_resolved_in_place_when_it_is_fast_again() {
    let notifications = Service::start(Config::for_testing()).await;
    let mut client = notifications.client.clone();
    let mut stream = subscribe(&mut client, 0).await;
    until_synced(&mut stream).await;

    let stack = Stack::start(notifications.address, 2, |config| {
        config.slow_host_threshold = Duration::from_millis(800);
    })
    .await;
    stack
        .until_hosts("every host reachable", |hosts| {
            hosts.len() == 2
                && hosts
                    .iter()
                    .all(|h| h.status == inv::HostStatus::Reachable as i32)
        })
        .await;
    let slow = stack.fleet.hosts()[1].clone();
    let slow_name = slow.name().to_lowercase();
    let key = format!("inventory-slow-host:{slow_name}");
    slow.set_latency(Duration::from_millis(1500));
    let (raised, _) = until_event(
        &mut stream,
        &key,
        |kind| matches!(kind, Kind::Created(n) if n.level == pb::Level::Warning as i32),
    )
    .await;
    assert_eq!(
        raised.title,
        format!("Slow inventory refresh on {slow_name}")
    );
    assert_eq!(
        raised.metadata.get("threshold_seconds").map(String::as_str),
        Some("0.8")
    );

    slow.set_latency(Duration::ZERO);
    let (resolved, _) = until_event(
        &mut stream,
        &key,
        |kind| matches!(kind, Kind::Updated(n) if n.level == pb::Level::Success as i32),
    )
    .await;
    assert_eq!(resolved.id, raised.id);
    assert_eq!(resolved.occurrences, 2);
    assert_eq!(
        resolved.title,
        format!("Inventory refresh on {slow_name} back to normal")
    );
    stack.stop().await;
    notifications.stop().await;
}
