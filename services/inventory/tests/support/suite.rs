//! The in-process suite for end-to-end tests: a simulated fleet (`aetherv-hvsim`, real
//! WinRM endpoints on 127.0.10.x), the real remote-tasks service holding its credentials,
//! and inventory refreshing through it — each on its own loopback port, spoken to over
//! gRPC like any client would.

use std::net::SocketAddr;
use std::time::Duration;

use aetherv_hvsim::SimFleet;
use aetherv_inventory::Config;
use aetherv_proto::inventory::v1 as pb;
use aetherv_proto::inventory::v1::inventory_client::InventoryClient;
use aetherv_runtime::{ClientConfig, connect_lazy};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// The simulator users' password (test-only, never a real secret).
pub const PASSWORD: &str = "Sim-Passw0rd-for-tests";
/// The simulator user.
pub const USERNAME: &str = "aetherv";

/// A service running in this process until dropped.
pub struct Running {
    pub address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    /// Begins shutdown and waits for it.
    pub async fn stop(mut self) {
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

pub async fn bind(address: &str) -> TcpListener {
    match TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(error) => panic!("bind {address}: {error}"),
    }
}

fn local(listener: &TcpListener) -> SocketAddr {
    match listener.local_addr() {
        Ok(address) => address,
        Err(error) => panic!("local address: {error}"),
    }
}

/// Starts a simulated fleet (real clock, so uptimes advance in real time).
pub async fn fleet(hosts: u32, vms_per_host: u32, clusters: u32) -> SimFleet {
    let started = SimFleet::builder()
        .hosts(hosts)
        .vms_per_host(vms_per_host)
        .clusters(clusters)
        .seed(11)
        .user(USERNAME, PASSWORD)
        .start()
        .await;
    match started {
        Ok(fleet) => fleet,
        Err(error) => panic!("simulated fleet: {error}"),
    }
}

/// Starts remote-tasks for every host of `fleet` on `listener`.
pub fn remote_tasks(fleet: &SimFleet, listener: TcpListener) -> Running {
    let hosts = fleet
        .hosts()
        .iter()
        .filter_map(|host| {
            Some(aetherv_remote_tasks::HostEntry::at(
                host.name(),
                &host.http_endpoint()?,
            ))
        })
        .collect();
    let mut config = aetherv_remote_tasks::Config::for_testing(hosts, USERNAME, PASSWORD);
    // An unresponsive host is noticed after this long.
    config.winrm.operation_timeout = Duration::from_secs(3);
    let address = local(&listener);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(error) = aetherv_remote_tasks::serve(config, listener, shutdown).await {
            panic!("remote-tasks: {error}");
        }
    });
    Running {
        address,
        stop: Some(stop),
        task,
    }
}

/// Inventory's test configuration: remote-tasks at `remote_tasks`, a short interval.
pub fn inventory_config(remote_tasks: SocketAddr) -> Config {
    let mut config = Config::for_testing(&format!("http://{remote_tasks}"));
    config.refresh_interval = Duration::from_secs(2);
    config.host_timeout = Duration::from_secs(6);
    config.heartbeat_interval = Duration::from_secs(1);
    config.remote_tasks.request_timeout = Duration::from_secs(5);
    config
}

/// Starts inventory on `listener`.
pub fn inventory(config: Config, listener: TcpListener) -> Running {
    let address = local(&listener);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(error) = aetherv_inventory::serve(config, listener, shutdown).await {
            panic!("inventory: {error}");
        }
    });
    Running {
        address,
        stop: Some(stop),
        task,
    }
}

/// A channel to a service.
pub fn channel(address: SocketAddr) -> Channel {
    match connect_lazy(&ClientConfig {
        endpoint: format!("http://{address}"),
        ..ClientConfig::local(0)
    }) {
        Ok(channel) => channel,
        Err(error) => panic!("channel: {error}"),
    }
}

/// The whole suite.
pub struct Suite {
    pub fleet: SimFleet,
    pub remote_tasks: Running,
    pub inventory: Running,
    pub client: InventoryClient<Channel>,
}

impl Suite {
    /// Fleet, remote-tasks and inventory, with `tweak` applied to inventory's config.
    pub async fn start(
        hosts: u32,
        vms_per_host: u32,
        clusters: u32,
        tweak: impl FnOnce(&mut Config),
    ) -> Suite {
        let fleet = fleet(hosts, vms_per_host, clusters).await;
        let remote_tasks = remote_tasks(&fleet, bind("127.0.0.1:0").await);
        let mut config = inventory_config(remote_tasks.address);
        tweak(&mut config);
        let inventory = inventory(config, bind("127.0.0.1:0").await);
        let client = InventoryClient::new(channel(inventory.address));
        Suite {
            fleet,
            remote_tasks,
            inventory,
            client,
        }
    }

    /// The summary.
    pub async fn summary(&self) -> pb::Summary {
        match self
            .client
            .clone()
            .get_summary(pb::GetSummaryRequest {})
            .await
        {
            Ok(response) => response.into_inner(),
            Err(status) => panic!("GetSummary: {status}"),
        }
    }

    /// Every host.
    pub async fn hosts(&self) -> Vec<pb::Host> {
        match self
            .client
            .clone()
            .list_hosts(pb::ListHostsRequest::default())
            .await
        {
            Ok(response) => response.into_inner().hosts,
            Err(status) => panic!("ListHosts: {status}"),
        }
    }

    /// Every VM of a host (one page holds them).
    pub async fn vms_of(&self, host: &str) -> Vec<pb::Vm> {
        let request = pb::ListVmsRequest {
            host: host.to_string(),
            page: Some(aetherv_proto::common::v1::PageRequest {
                page_size: 1000,
                page_token: String::new(),
            }),
            ..pb::ListVmsRequest::default()
        };
        match self.client.clone().list_vms(request).await {
            Ok(response) => response.into_inner().vms,
            Err(status) => panic!("ListVms: {status}"),
        }
    }

    /// Polls `check` on the summary every 100 ms until it holds; panics with `what`
    /// after `limit` (a bound on waiting, not a timing assertion).
    pub async fn until<F>(&self, what: &str, limit: Duration, mut check: F) -> pb::Summary
    where
        F: FnMut(&pb::Summary) -> bool,
    {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let summary = self.summary().await;
            if check(&summary) {
                return summary;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("waited {limit:?} for {what}; last summary: {summary:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until every host has been refreshed and is reachable.
    pub async fn converged(&self) -> pb::Summary {
        let hosts = self.fleet.hosts().len() as u32;
        self.until("every host reachable", Duration::from_secs(60), |summary| {
            summary
                .refresh
                .as_ref()
                .is_some_and(|r| r.initial_refresh_done)
                && summary
                    .hosts_by_status
                    .iter()
                    .any(|c| c.status == pb::HostStatus::Reachable as i32 && c.count == hosts)
        })
        .await
    }
}
