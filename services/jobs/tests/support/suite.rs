//! The in-process suite for end-to-end tests: a simulated fleet (`aetherv-hvsim`, real
//! WinRM endpoints on 127.0.10.x), the real remote-tasks, inventory and notifications
//! services, and jobs — each on its own loopback port, spoken to over gRPC like any
//! client would.

use std::net::SocketAddr;
use std::time::Duration;

use aetherv_hvsim::{SimFleet, SimHost};
use aetherv_jobs::Config;
use aetherv_proto::inventory::v1 as inv;
use aetherv_proto::inventory::v1::inventory_client::InventoryClient;
use aetherv_proto::jobs::v1 as pb;
use aetherv_proto::jobs::v1::jobs_client::JobsClient;
use aetherv_proto::notifications::v1::notifications_client::NotificationsClient;
use aetherv_runtime::{ClientConfig, connect_lazy};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// The simulator users' password (test-only, never a real secret).
pub const PASSWORD: &str = "Sim-Passw0rd-for-jobs-tests";
/// The simulator user.
pub const USERNAME: &str = "aetherv";

/// A service running in this process until stopped or dropped.
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

pub async fn bind() -> TcpListener {
    match TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(error) => panic!("bind: {error}"),
    }
}

fn local(listener: &TcpListener) -> SocketAddr {
    match listener.local_addr() {
        Ok(address) => address,
        Err(error) => panic!("local address: {error}"),
    }
}

fn spawn<F, E>(
    listener: TcpListener,
    name: &'static str,
    serve: impl FnOnce(TcpListener, oneshot::Receiver<()>) -> F,
) -> Running
where
    F: std::future::Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    let address = local(&listener);
    let (stop, stopped) = oneshot::channel::<()>();
    let future = serve(listener, stopped);
    let task = tokio::spawn(async move {
        if let Err(error) = future.await {
            panic!("{name}: {error}");
        }
    });
    Running {
        address,
        stop: Some(stop),
        task,
    }
}

/// Starts remote-tasks for every host of `fleet`.
pub async fn remote_tasks(fleet: &SimFleet) -> Running {
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
    config.winrm.operation_timeout = Duration::from_secs(5);
    spawn(
        bind().await,
        "remote-tasks",
        |listener, stopped| async move {
            aetherv_remote_tasks::serve(config, listener, async {
                let _ = stopped.await;
            })
            .await
            .map(|_| ())
        },
    )
}

/// Starts inventory over remote-tasks (a long interval: jobs refresh what they change).
pub async fn inventory(remote_tasks: SocketAddr) -> Running {
    let mut config = aetherv_inventory::Config::for_testing(&format!("http://{remote_tasks}"));
    config.refresh_interval = Duration::from_secs(60);
    config.host_timeout = Duration::from_secs(20);
    inventory_with(config).await
}

/// Starts inventory with `config`.
pub async fn inventory_with(config: aetherv_inventory::Config) -> Running {
    spawn(bind().await, "inventory", |listener, stopped| async move {
        aetherv_inventory::serve(config, listener, async {
            let _ = stopped.await;
        })
        .await
        .map(|_| ())
    })
}

/// Starts notifications.
pub async fn notifications() -> Running {
    let config = aetherv_notifications::Config::for_testing();
    spawn(
        bind().await,
        "notifications",
        |listener, stopped| async move {
            aetherv_notifications::serve(config, listener, async {
                let _ = stopped.await;
            })
            .await
            .map(|_| ())
        },
    )
}

/// Starts jobs with `config`.
pub async fn jobs(config: Config, listener: TcpListener) -> Running {
    spawn(listener, "jobs", |listener, stopped| async move {
        aetherv_jobs::serve(config, listener, async {
            let _ = stopped.await;
        })
        .await
        .map(|_| ())
    })
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

/// How the suite's fleet is made.
#[derive(Debug, Clone, Copy)]
pub struct FleetShape {
    pub hosts: u32,
    pub vms_per_host: u32,
    /// Simulated durations scaled by this (0.05: twenty times faster).
    pub time_scale: f64,
}

impl Default for FleetShape {
    fn default() -> FleetShape {
        FleetShape {
            hosts: 2,
            vms_per_host: 3,
            time_scale: 0.05,
        }
    }
}

/// The whole suite.
pub struct Suite {
    pub fleet: SimFleet,
    pub remote_tasks: Running,
    pub inventory: Running,
    pub notifications: Running,
    pub jobs: Running,
    pub client: JobsClient<Channel>,
    pub inventory_client: InventoryClient<Channel>,
    pub notifications_client: NotificationsClient<Channel>,
}

impl Suite {
    /// Fleet, remote-tasks, inventory, notifications and jobs, with `tweak` applied to
    /// jobs' configuration; returns once inventory has seen every host.
    pub async fn start(shape: FleetShape, tweak: impl FnOnce(&mut Config)) -> Suite {
        let fleet = match SimFleet::builder()
            .hosts(shape.hosts)
            .vms_per_host(shape.vms_per_host)
            .clusters(0)
            .seed(23)
            .time_scale(shape.time_scale)
            .user(USERNAME, PASSWORD)
            .start()
            .await
        {
            Ok(fleet) => fleet,
            Err(error) => panic!("simulated fleet: {error}"),
        };
        let remote_tasks = remote_tasks(&fleet).await;
        let inventory = inventory(remote_tasks.address).await;
        let notifications = notifications().await;
        let mut config = Config::for_testing(
            &format!("http://{}", remote_tasks.address),
            &format!("http://{}", inventory.address),
        );
        config.notifications.endpoint = format!("http://{}", notifications.address);
        tweak(&mut config);
        let jobs = jobs(config, bind().await).await;
        let suite = Suite {
            client: JobsClient::new(channel(jobs.address)),
            inventory_client: InventoryClient::new(channel(inventory.address)),
            notifications_client: NotificationsClient::new(channel(notifications.address)),
            fleet,
            remote_tasks,
            inventory,
            notifications,
            jobs,
        };
        suite.converged().await;
        suite
    }

    /// The i-th host.
    pub fn host(&self, index: usize) -> SimHost {
        match self.fleet.hosts().get(index) {
            Some(host) => host.clone(),
            None => panic!("no host {index}"),
        }
    }

    /// Waits until inventory has refreshed every host once and each is reachable.
    pub async fn converged(&self) {
        let hosts = self.fleet.hosts().len() as u32;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let summary = self
                .inventory_client
                .clone()
                .get_summary(inv::GetSummaryRequest {})
                .await;
            if let Ok(summary) = summary {
                let summary = summary.into_inner();
                let reachable = summary
                    .hosts_by_status
                    .iter()
                    .any(|c| c.status == inv::HostStatus::Reachable as i32 && c.count == hosts);
                if reachable {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "inventory did not reach every host in 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Submits a job; panics on refusal.
    pub async fn submit(&self, job_type: pb::JobType, spec: serde_json::Value) -> pb::Job {
        match self.try_submit(job_type, spec).await {
            Ok(job) => job,
            Err(status) => panic!("Submit {job_type:?}: {status:?}"),
        }
    }

    /// Submits a job.
    pub async fn try_submit(
        &self,
        job_type: pb::JobType,
        spec: serde_json::Value,
    ) -> Result<pb::Job, tonic::Status> {
        let response = self
            .client
            .clone()
            .submit(pb::SubmitRequest {
                r#type: job_type as i32,
                spec_json: spec.to_string(),
                request_id: String::new(),
            })
            .await?
            .into_inner();
        response
            .job
            .ok_or_else(|| tonic::Status::internal("no job in the Submit answer"))
    }

    /// A job.
    pub async fn get(&self, id: &str, include_output: bool) -> pb::Job {
        match self
            .client
            .clone()
            .get(pb::GetJobRequest {
                job_id: id.to_owned(),
                include_output,
            })
            .await
        {
            Ok(job) => job.into_inner(),
            Err(status) => panic!("Get {id}: {status:?}"),
        }
    }

    /// Polls a job until `check` holds (at most `limit`; a bound on waiting, not a timing
    /// assertion).
    pub async fn until(
        &self,
        id: &str,
        limit: Duration,
        check: impl Fn(&pb::Job) -> bool,
    ) -> pb::Job {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let job = self.get(id, true).await;
            if check(&job) {
                return job;
            }
            if tokio::time::Instant::now() > deadline {
                let output: Vec<&str> = job.output.iter().map(|l| l.text.as_str()).collect();
                panic!(
                    "waited {limit:?} on job {id}; it is {:?}, steps {:?}, output {output:#?}",
                    pb::JobState::try_from(job.state),
                    job.steps
                        .iter()
                        .map(|s| (s.name.as_str(), pb::StepState::try_from(s.state)))
                        .collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for a job to finish and returns it.
    pub async fn finished(&self, id: &str) -> pb::Job {
        self.until(id, Duration::from_secs(120), |job| {
            matches!(
                pb::JobState::try_from(job.state),
                Ok(pb::JobState::Succeeded | pb::JobState::Failed | pb::JobState::Cancelled)
            )
        })
        .await
    }

    /// Submits and waits for success; panics with the job otherwise.
    pub async fn run(&self, job_type: pb::JobType, spec: serde_json::Value) -> pb::Job {
        let job = self.submit(job_type, spec).await;
        let done = self.finished(&job.id).await;
        assert_eq!(
            done.state,
            pb::JobState::Succeeded as i32,
            "job {} {:?} did not succeed: {:?}\noutput: {:#?}",
            done.id,
            job_type,
            done.error,
            done.output.iter().map(|l| &l.text).collect::<Vec<_>>()
        );
        done
    }

    /// Inventory's record of a VM, or `None` when it has none.
    pub async fn inventory_vm(&self, id: &str) -> Option<inv::Vm> {
        match self
            .inventory_client
            .clone()
            .get_vm(inv::GetVmRequest {
                vm_id: id.to_owned(),
            })
            .await
        {
            Ok(vm) => Some(vm.into_inner()),
            Err(status) if status.code() == tonic::Code::NotFound => None,
            Err(status) => panic!("GetVm {id}: {status:?}"),
        }
    }
}
