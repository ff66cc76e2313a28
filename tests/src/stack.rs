//! [`TestStack`]: the simulated fleet and every service in this process, on port 0, wired
//! as in production — remote-tasks holds the fleet's password and reaches each simulated
//! host over WinRM (NTLM with message encryption); inventory refreshes through
//! remote-tasks' gRPC API and publishes to notifications; jobs runs changes through
//! remote-tasks and reads inventory; the gateway fronts all of them over gRPC. Nothing is
//! mocked.
//!
//! ```no_run
//! # async fn demo() -> Result<(), aetherv_tests::Error> {
//! let stack = aetherv_tests::TestStack::builder().hosts(3).vms_per_host(5).start().await?;
//! stack.wait_for_converged().await?;
//! let hosts = stack.get("/api/v1/hosts").await?.json()?;
//! # let _ = hosts;
//! stack.stop().await
//! # }
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use aetherv_hvsim::SimFleet;
use aetherv_proto::inventory::v1::inventory_client::InventoryClient;
use aetherv_proto::jobs::v1::jobs_client::JobsClient;
use aetherv_proto::notifications::v1::notifications_client::NotificationsClient;
use aetherv_proto::remotetasks::v1::remote_tasks_client::RemoteTasksClient;
use aetherv_runtime::{ClientConfig, connect_lazy};
use tonic::transport::Channel;

use crate::error::Error;
use crate::http::{HttpClient, Reply};
use crate::service::Running;
use crate::ws::WsClient;

mod waits;

/// The simulated hosts' account (a test-only password, never a real secret).
pub const USERNAME: &str = "aetherv";
/// The simulated hosts' password.
pub const PASSWORD: &str = "Sim-Passw0rd-for-end-to-end";

/// Largest gRPC message the clients accept (inventory pages of many VMs).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

type Tweak<C> = Box<dyn FnOnce(&mut C) + Send>;

/// How a [`TestStack`] is built. Defaults: 4 hosts (3 in one cluster, 1 standalone), 6
/// VMs each, seed 7, simulated durations at a tenth, inventory refreshing every 2 s,
/// unresponsive hosts noticed after 5 s.
pub struct TestStackBuilder {
    hosts: u32,
    vms_per_host: u32,
    clusters: u32,
    seed: u64,
    time_scale: f64,
    control_api: bool,
    remote_tasks: Tweak<aetherv_remote_tasks::Config>,
    inventory: Tweak<aetherv_inventory::Config>,
    jobs: Tweak<aetherv_jobs::Config>,
    notifications: Tweak<aetherv_notifications::Config>,
    gateway: Tweak<aetherv_gateway::Config>,
}

impl TestStackBuilder {
    /// Hosts in the fleet.
    pub fn hosts(mut self, n: u32) -> Self {
        self.hosts = n;
        self
    }

    /// VMs on each host.
    pub fn vms_per_host(mut self, n: u32) -> Self {
        self.vms_per_host = n;
        self
    }

    /// Failover clusters.
    pub fn clusters(mut self, n: u32) -> Self {
        self.clusters = n;
        self
    }

    /// The fleet's seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Scale of simulated durations (power transitions); 1 keeps uptimes in real time.
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.time_scale = scale;
        self
    }

    /// Also serve the simulator's HTTP control API (for scripts in other processes).
    pub fn control_api(mut self) -> Self {
        self.control_api = true;
        self
    }

    /// Adjusts remote-tasks' configuration.
    pub fn remote_tasks(
        mut self,
        tweak: impl FnOnce(&mut aetherv_remote_tasks::Config) + Send + 'static,
    ) -> Self {
        self.remote_tasks = Box::new(tweak);
        self
    }

    /// Adjusts inventory's configuration.
    pub fn inventory(
        mut self,
        tweak: impl FnOnce(&mut aetherv_inventory::Config) + Send + 'static,
    ) -> Self {
        self.inventory = Box::new(tweak);
        self
    }

    /// Adjusts jobs' configuration.
    pub fn jobs(mut self, tweak: impl FnOnce(&mut aetherv_jobs::Config) + Send + 'static) -> Self {
        self.jobs = Box::new(tweak);
        self
    }

    /// Adjusts notifications' configuration.
    pub fn notifications(
        mut self,
        tweak: impl FnOnce(&mut aetherv_notifications::Config) + Send + 'static,
    ) -> Self {
        self.notifications = Box::new(tweak);
        self
    }

    /// Adjusts the gateway's configuration.
    pub fn gateway(
        mut self,
        tweak: impl FnOnce(&mut aetherv_gateway::Config) + Send + 'static,
    ) -> Self {
        self.gateway = Box::new(tweak);
        self
    }

    /// Starts the fleet, then remote-tasks, notifications, inventory and the gateway, and
    /// waits until the gateway is ready (every service serving).
    pub async fn start(self) -> Result<TestStack, Error> {
        crate::logs::init();
        let fleet = SimFleet::builder()
            .hosts(self.hosts)
            .vms_per_host(self.vms_per_host)
            .clusters(self.clusters)
            .seed(self.seed)
            .time_scale(self.time_scale)
            .user(USERNAME, PASSWORD)
            .start()
            .await
            .map_err(|e| Error::start("the simulated fleet", e))?;
        let sim_control = if self.control_api {
            let address = fleet
                .start_control_api(SocketAddr::from(([127, 0, 0, 1], 0)))
                .await
                .map_err(|e| Error::start("the simulator's control api", e))?;
            Some(address)
        } else {
            None
        };
        let hosts = fleet
            .hosts()
            .iter()
            .filter_map(|h| {
                let endpoint = h.http_endpoint()?;
                Some(aetherv_remote_tasks::HostEntry::at(h.name(), &endpoint))
            })
            .collect();
        let mut remote_config =
            aetherv_remote_tasks::Config::for_testing(hosts, USERNAME, PASSWORD);
        // An unresponsive host is noticed after this long (long enough for a loaded machine).
        remote_config.winrm.operation_timeout = Duration::from_secs(5);
        (self.remote_tasks)(&mut remote_config);
        let remote_tasks = Running::start("remote-tasks", |listener, shutdown| {
            aetherv_remote_tasks::serve(remote_config, listener, shutdown)
        })
        .await?;

        let mut notifications_config = aetherv_notifications::Config::for_testing();
        (self.notifications)(&mut notifications_config);
        let notifications = Running::start("notifications", |listener, shutdown| async move {
            aetherv_notifications::serve(notifications_config, listener, shutdown)
                .await
                .map(|_| ())
        })
        .await?;

        let mut inventory_config = aetherv_inventory::Config::for_testing(&remote_tasks.url());
        inventory_config.refresh_interval = Duration::from_secs(2);
        inventory_config.host_timeout = Duration::from_secs(10);
        inventory_config.slow_host_threshold = Duration::from_secs(5);
        inventory_config.heartbeat_interval = Duration::from_secs(1);
        inventory_config.remote_tasks.request_timeout = Duration::from_secs(5);
        inventory_config.notifications.endpoint = notifications.url();
        (self.inventory)(&mut inventory_config);
        let inventory = Running::start("inventory", |listener, shutdown| async move {
            aetherv_inventory::serve(inventory_config, listener, shutdown)
                .await
                .map(|_| ())
        })
        .await?;

        let mut jobs_config =
            aetherv_jobs::Config::for_testing(&remote_tasks.url(), &inventory.url());
        jobs_config.notifications.endpoint = notifications.url();
        (self.jobs)(&mut jobs_config);
        let jobs = Running::start("jobs", |listener, shutdown| async move {
            aetherv_jobs::serve(jobs_config, listener, shutdown)
                .await
                .map(|_| ())
        })
        .await?;

        let mut gateway_config =
            aetherv_gateway::Config::for_testing(&inventory.url(), &remote_tasks.url());
        gateway_config.notifications.endpoint = notifications.url();
        gateway_config.jobs.endpoint = jobs.url();
        (self.gateway)(&mut gateway_config);
        let gateway = Running::start("gateway", |listener, shutdown| {
            aetherv_gateway::serve(gateway_config, listener, shutdown)
        })
        .await?;

        let stack = TestStack {
            fleet,
            sim_control,
            http: HttpClient::new(),
            services: vec![remote_tasks, notifications, inventory, jobs, gateway],
        };
        stack.wait_for_ready().await?;
        Ok(stack)
    }
}

/// The running suite.
pub struct TestStack {
    /// The simulated fleet: the truth about every host and VM, its fault knobs, and
    /// out-of-band changes.
    pub fleet: SimFleet,
    sim_control: Option<SocketAddr>,
    http: HttpClient,
    /// In start order: remote-tasks, notifications, inventory, jobs, gateway.
    services: Vec<Running>,
}

impl TestStack {
    /// A builder with the defaults.
    pub fn builder() -> TestStackBuilder {
        TestStackBuilder {
            hosts: 4,
            vms_per_host: 6,
            clusters: 1,
            seed: 7,
            time_scale: 0.1,
            control_api: false,
            remote_tasks: Box::new(|_| {}),
            inventory: Box::new(|_| {}),
            jobs: Box::new(|_| {}),
            notifications: Box::new(|_| {}),
            gateway: Box::new(|_| {}),
        }
    }

    fn service(&self, name: &str) -> Result<&Running, Error> {
        self.services
            .iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| Error::Stop {
                service: name.to_string(),
                message: "it is not running".to_string(),
            })
    }

    /// The gRPC (or, for `gateway`, HTTP) address of `remote-tasks`, `notifications`,
    /// `inventory`, `jobs` or `gateway`.
    pub fn address(&self, name: &str) -> Result<SocketAddr, Error> {
        self.service(name).map(Running::address)
    }

    /// The names and addresses of the gRPC services.
    pub fn grpc_services(&self) -> Vec<(&'static str, SocketAddr)> {
        self.services
            .iter()
            .filter(|s| s.name() != "gateway")
            .map(|s| (s.name(), s.address()))
            .collect()
    }

    /// The simulator's control API (`http://…`), when started with
    /// [`TestStackBuilder::control_api`].
    pub fn sim_control_url(&self) -> Option<String> {
        self.sim_control.map(|a| format!("http://{a}"))
    }

    /// The gateway's base URL, `http://127.0.0.1:<port>`.
    pub fn gateway_url(&self) -> Result<String, Error> {
        self.service("gateway").map(Running::url)
    }

    /// The gateway's URL of `path`.
    pub fn url(&self, path: &str) -> Result<String, Error> {
        Ok(format!("{}{path}", self.gateway_url()?))
    }

    /// `ws://…/ws`.
    pub fn ws_url(&self) -> Result<String, Error> {
        Ok(format!("ws://{}/ws", self.address("gateway")?))
    }

    /// The HTTP client (one keep-alive pool).
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// `GET` a gateway path.
    pub async fn get(&self, path: &str) -> Result<Reply, Error> {
        self.http.get(&self.url(path)?).await
    }

    /// `POST` a gateway path without a body.
    pub async fn post(&self, path: &str) -> Result<Reply, Error> {
        self.http.post(&self.url(path)?).await
    }

    /// A `/ws` connection (after its hello frame).
    pub async fn ws(&self) -> Result<WsClient, Error> {
        WsClient::connect(&self.ws_url()?).await
    }

    fn channel(&self, name: &str) -> Result<Channel, Error> {
        let endpoint = self.service(name)?.url();
        connect_lazy(&ClientConfig {
            endpoint,
            ..ClientConfig::local(0)
        })
        .map_err(|e| Error::start(name, format!("no channel: {e}")))
    }

    /// An inventory client.
    pub fn inventory(&self) -> Result<InventoryClient<Channel>, Error> {
        Ok(InventoryClient::new(self.channel("inventory")?).max_decoding_message_size(MAX_MESSAGE))
    }

    /// A remote-tasks client.
    pub fn remote_tasks(&self) -> Result<RemoteTasksClient<Channel>, Error> {
        Ok(RemoteTasksClient::new(self.channel("remote-tasks")?)
            .max_decoding_message_size(MAX_MESSAGE))
    }

    /// A jobs client.
    pub fn jobs(&self) -> Result<JobsClient<Channel>, Error> {
        Ok(JobsClient::new(self.channel("jobs")?).max_decoding_message_size(MAX_MESSAGE))
    }

    /// A notifications client.
    pub fn notifications(&self) -> Result<NotificationsClient<Channel>, Error> {
        Ok(NotificationsClient::new(self.channel("notifications")?))
    }

    /// Stops the gateway, jobs, inventory, notifications and remote-tasks (the reverse of
    /// their start), then the fleet. The first failure is returned after everything stopped.
    pub async fn stop(mut self) -> Result<(), Error> {
        let mut first = None;
        while let Some(service) = self.services.pop() {
            if let Err(error) = service.stop().await {
                tracing::error!(%error, "service did not stop cleanly");
                first.get_or_insert(error);
            }
        }
        self.fleet.shutdown().await;
        first.map_or(Ok(()), Err)
    }
}
