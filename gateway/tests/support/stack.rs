//! The whole suite in-process on port 0, as the gateway sees it in production: a simulated
//! fleet (`aetherv-hvsim`, real WinRM endpoints on loopback addresses), remote-tasks
//! reaching it over WinRM, inventory refreshing through remote-tasks over gRPC,
//! notifications, jobs running through remote-tasks and inventory, and the gateway in front
//! of all four.

use std::time::Duration;

use aetherv_gateway::Config as GatewayConfig;
use aetherv_hvsim::{SimFleet, SimHost};
use aetherv_proto::inventory::v1 as pb;
use aetherv_proto::inventory::v1::inventory_client::InventoryClient;
use aetherv_proto::jobs::v1::jobs_client::JobsClient;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

use super::{Gateway, wait_for};

/// How the stack is built.
pub struct StackBuilder {
    hosts: u32,
    vms_per_host: u32,
    clusters: u32,
    seed: u64,
    time_scale: f64,
    refresh_interval: Duration,
    gateway: Box<dyn FnOnce(&mut GatewayConfig) + Send>,
    jobs: Box<dyn FnOnce(&mut aetherv_jobs::Config) + Send>,
}

impl StackBuilder {
    /// Hosts in the fleet.
    pub fn hosts(mut self, n: u32) -> Self {
        self.hosts = n;
        self
    }

    /// VMs per host.
    pub fn vms_per_host(mut self, n: u32) -> Self {
        self.vms_per_host = n;
        self
    }

    /// Failover clusters.
    pub fn clusters(mut self, n: u32) -> Self {
        self.clusters = n;
        self
    }

    /// Fleet seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The simulator's time scale (0.05: host operations take a twentieth of real time).
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.time_scale = scale;
        self
    }

    /// Adjusts the jobs service's configuration before it starts.
    pub fn jobs(mut self, change: impl FnOnce(&mut aetherv_jobs::Config) + Send + 'static) -> Self {
        self.jobs = Box::new(change);
        self
    }

    /// Inventory's refresh interval.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// Adjusts the gateway's configuration before it starts.
    pub fn gateway(mut self, change: impl FnOnce(&mut GatewayConfig) + Send + 'static) -> Self {
        self.gateway = Box::new(change);
        self
    }

    /// Starts the fleet, remote-tasks, inventory and the gateway, and waits until
    /// inventory has seen every VM.
    pub async fn start(self) -> Stack {
        super::init_logs();
        let fleet = SimFleet::builder()
            .hosts(self.hosts)
            .vms_per_host(self.vms_per_host)
            .clusters(self.clusters)
            .seed(self.seed)
            .time_scale(self.time_scale)
            .start()
            .await;
        let fleet = match fleet {
            Ok(fleet) => fleet,
            Err(error) => panic!("the simulated fleet did not start: {error}"),
        };
        let hosts = fleet
            .hosts()
            .iter()
            .filter_map(|host| {
                host.http_endpoint()
                    .map(|endpoint| aetherv_remote_tasks::HostEntry::at(host.name(), &endpoint))
            })
            .collect();
        let password = fleet.password();
        let remote_config =
            aetherv_remote_tasks::Config::for_testing(hosts, fleet.username(), password.expose());
        let (remote_tasks_url, remote_tasks) = spawn(|listener, stop| {
            tokio::spawn(async move {
                aetherv_remote_tasks::serve(remote_config, listener, stop)
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .await;
        let notifications_config = aetherv_notifications::Config::for_testing();
        let (notifications_url, notifications) = spawn(|listener, stop| {
            tokio::spawn(async move {
                aetherv_notifications::serve(notifications_config, listener, stop)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        })
        .await;
        let mut inventory_config = aetherv_inventory::Config::for_testing(&remote_tasks_url);
        inventory_config.refresh_interval = self.refresh_interval;
        inventory_config.notifications.endpoint = notifications_url.clone();
        let (inventory_url, inventory) = spawn(|listener, stop| {
            tokio::spawn(async move {
                aetherv_inventory::serve(inventory_config, listener, stop)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        })
        .await;
        let mut jobs_config = aetherv_jobs::Config::for_testing(&remote_tasks_url, &inventory_url);
        jobs_config.notifications.endpoint = notifications_url.clone();
        (self.jobs)(&mut jobs_config);
        let (jobs_url, jobs) = spawn(|listener, stop| {
            tokio::spawn(async move {
                aetherv_jobs::serve(jobs_config, listener, stop)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        })
        .await;
        let mut gateway_config = GatewayConfig::for_testing(&inventory_url, &remote_tasks_url);
        gateway_config.jobs.endpoint = jobs_url.clone();
        gateway_config.notifications.endpoint = notifications_url.clone();
        (self.gateway)(&mut gateway_config);
        let gateway = Gateway::start(gateway_config).await;
        let stack = Stack {
            fleet,
            gateway,
            inventory_url,
            remote_tasks_url,
            jobs_url,
            notifications_url,
            services: vec![
                ("jobs".to_string(), jobs),
                ("inventory".to_string(), inventory),
                ("notifications".to_string(), notifications),
                ("remote_tasks".to_string(), remote_tasks),
            ],
        };
        let expected = u64::from(self.hosts) * u64::from(self.vms_per_host);
        stack.wait_converged(expected).await;
        let ready = stack.url("/readyz");
        wait_for("every service to be ready", Duration::from_secs(30), || {
            let ready = ready.clone();
            async move { (super::http::get(&ready).await.status == 200).then_some(()) }
        })
        .await;
        stack
    }
}

/// A running service: its stop signal and task.
pub struct Service {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), String>>,
}

impl Service {
    async fn stop(mut self, name: &str) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match tokio::time::timeout(Duration::from_secs(60), self.task).await {
            Ok(Ok(Ok(()))) => {}
            other => panic!("{name} did not stop cleanly: {other:?}"),
        }
    }
}

async fn spawn<F>(start: F) -> (String, Service)
where
    F: FnOnce(
        TcpListener,
        futures::future::BoxFuture<'static, ()>,
    ) -> JoinHandle<Result<(), String>>,
{
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(error) => panic!("cannot bind: {error}"),
    };
    let url = match listener.local_addr() {
        Ok(addr) => format!("http://{addr}"),
        Err(error) => panic!("no address: {error}"),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = start(
        listener,
        Box::pin(async move {
            let _ = stopped.await;
        }),
    );
    (
        url,
        Service {
            stop: Some(stop),
            task,
        },
    )
}

/// The running suite.
pub struct Stack {
    /// The simulated fleet (knobs, out-of-band changes, the true state of each VM).
    pub fleet: SimFleet,
    /// The gateway under test.
    pub gateway: Gateway,
    /// inventory's gRPC address.
    pub inventory_url: String,
    /// remote-tasks' gRPC address.
    pub remote_tasks_url: String,
    /// jobs' gRPC address.
    pub jobs_url: String,
    /// notifications' gRPC address.
    pub notifications_url: String,
    services: Vec<(String, Service)>,
}

impl Stack {
    /// A builder: 3 hosts (2 in one cluster, 1 standalone), 8 VMs each, refresh every 2 s.
    pub fn builder() -> StackBuilder {
        StackBuilder {
            hosts: 3,
            vms_per_host: 8,
            clusters: 1,
            seed: 7,
            time_scale: 0.05,
            refresh_interval: Duration::from_secs(2),
            gateway: Box::new(|_| {}),
            jobs: Box::new(|_| {}),
        }
    }

    /// A gateway URL.
    pub fn url(&self, path: &str) -> String {
        self.gateway.url(path)
    }

    /// A client of inventory (for refreshing hosts at once).
    pub async fn inventory(&self) -> InventoryClient<Channel> {
        match InventoryClient::connect(self.inventory_url.clone()).await {
            Ok(client) => client,
            Err(error) => panic!("cannot reach inventory: {error}"),
        }
    }

    /// Refreshes one host in inventory now.
    pub async fn refresh(&self, host: &str) -> pb::RefreshHostResponse {
        let mut client = self.inventory().await;
        match client
            .refresh_host(pb::RefreshHostRequest {
                host: host.to_string(),
            })
            .await
        {
            Ok(response) => response.into_inner(),
            Err(status) => panic!("refresh of {host} failed: {status}"),
        }
    }

    /// Waits until inventory reports every host refreshed and `vms` VMs.
    pub async fn wait_converged(&self, vms: u64) {
        let url = self.url("/api/v1/inventory");
        wait_for("inventory to converge", Duration::from_secs(60), || {
            let url = url.clone();
            async move {
                let reply = super::http::get(&url).await;
                if reply.status != 200 {
                    return None;
                }
                let body = reply.json();
                let done = body["refresh"]["initial_refresh_done"] == true
                    && body["counts"]["vms"].as_u64() == Some(vms)
                    && body["counts"]["hosts_by_status"]["reachable"] == body["counts"]["hosts"];
                done.then_some(())
            }
        })
        .await;
    }

    /// A client of the jobs service (to compare the gateway with the service itself).
    pub async fn jobs(&self) -> JobsClient<Channel> {
        match JobsClient::connect(self.jobs_url.clone()).await {
            Ok(client) => client,
            Err(error) => panic!("cannot reach jobs: {error}"),
        }
    }

    /// The simulated host named `name` (any case).
    pub fn host(&self, name: &str) -> SimHost {
        match self.fleet.hosts().iter().find(|host| host.is_named(name)) {
            Some(host) => host.clone(),
            None => panic!("no simulated host {name}"),
        }
    }

    /// Restarts notifications on the address it had (its history is gone, as after a
    /// real restart).
    pub async fn restart_notifications(&mut self) {
        self.stop_service("notifications").await;
        let address = self
            .notifications_url
            .trim_start_matches("http://")
            .to_string();
        let listener = match TcpListener::bind(&address).await {
            Ok(listener) => listener,
            Err(error) => panic!("cannot bind {address} again: {error}"),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let config = aetherv_notifications::Config::for_testing();
        let task = tokio::spawn(async move {
            aetherv_notifications::serve(config, listener, async {
                let _ = stopped.await;
            })
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
        });
        self.services.push((
            "notifications".to_string(),
            Service {
                stop: Some(stop),
                task,
            },
        ));
    }

    /// Stops one service (`inventory`, `remote_tasks`, `jobs`, `notifications`) and waits
    /// until it is gone.
    pub async fn stop_service(&mut self, name: &str) {
        let Some(index) = self.services.iter().position(|(n, _)| n == name) else {
            panic!("no running service {name}");
        };
        let (_, service) = self.services.remove(index);
        service.stop(name).await;
    }

    /// Stops the gateway, jobs, inventory, notifications and remote-tasks (in that order)
    /// and the fleet.
    pub async fn stop(mut self) {
        self.gateway.stop().await;
        for (name, service) in self.services.drain(..) {
            service.stop(&name).await;
        }
        self.fleet.shutdown().await;
    }
}
