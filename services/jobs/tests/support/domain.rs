//! Scripted ports for the domain tests (no I/O): a fleet whose facts the test sets, and an
//! executor that answers each operation like an agent would, records every run (with the
//! params it got and how many ran at once), and can hold runs of an operation until the
//! test releases them — or until the job's cancel token fires.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aetherv_hyperv::{
    ControllerType, Generation, HostId, Image, Network, Operation, OsFamily, ResourceCatalogue,
    StorageClass, VmId, VmState,
};
use aetherv_jobs::domain::Job;
use aetherv_jobs::domain::facts::{DiskFacts, HostFacts, HostStatus, NicFacts, VmFacts};
use aetherv_jobs::domain::model::Level;
use aetherv_jobs::domain::store::{Store, StoreSettings};
use aetherv_jobs::engine::ports::{Executor, Fleet, JobHooks, RunError, RunEvent, RunRequest};
use aetherv_jobs::engine::{Engine, EngineSettings, Submission};
use aetherv_jobs::spec::JobType;
use aetherv_runtime::{ApiError, ErrorCode};
use futures::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub const GIB: u64 = 1 << 30;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn host(name: &str) -> HostId {
    match HostId::parse(name) {
        Ok(host) => host,
        Err(error) => panic!("{error}"),
    }
}

pub fn vm_id(n: u32) -> VmId {
    match VmId::parse(&format!("00000000-0000-4000-8000-{n:012}")) {
        Ok(id) => id,
        Err(error) => panic!("{error}"),
    }
}

pub fn disk_id(vm: VmId, location: u32) -> String {
    format!(
        "Microsoft:{}\\83F8638B-8DCA-4152-9EDA-2CA8B33039B4\\0\\{location}\\D",
        vm.to_string().to_uppercase()
    )
}

pub fn nic_id(vm: VmId, n: u32) -> String {
    format!(
        "Microsoft:{}\\5B3B0E4C-4B87-4F4C-9C59-{n:012}",
        vm.to_string().to_uppercase()
    )
}

/// The catalogue every scripted host has.
pub fn catalogue() -> ResourceCatalogue {
    ResourceCatalogue {
        catalogue_path: Some("C:\\ProgramData\\Aether-V\\hostresources.json".into()),
        storage_classes: vec![
            StorageClass {
                name: "fast-ssd".into(),
                path: "C:\\ClusterStorage\\Volume1\\VMs".into(),
                total_bytes: Some(1 << 40),
                free_bytes: Some(1 << 39),
            },
            StorageClass {
                name: "bulk".into(),
                path: "C:\\ClusterStorage\\Volume2\\VMs".into(),
                total_bytes: Some(1 << 40),
                free_bytes: Some(1 << 39),
            },
        ],
        networks: vec![
            Network {
                name: "Production".into(),
                switch_name: "External-Switch".into(),
                vlan_id: Some(100),
            },
            Network {
                name: "Isolated".into(),
                switch_name: "Private".into(),
                vlan_id: None,
            },
        ],
        images: vec![
            Image {
                name: "ubuntu-24.04".into(),
                path: "C:\\Images\\ubuntu-24.04.vhdx".into(),
                os_family: OsFamily::Linux,
                capacity_bytes: Some(32 * GIB),
                file_size_bytes: Some(3 * GIB),
            },
            Image {
                name: "win2022".into(),
                path: "C:\\Images\\win2022.vhdx".into(),
                os_family: OsFamily::Windows,
                capacity_bytes: Some(127 * GIB),
                file_size_bytes: Some(14 * GIB),
            },
        ],
    }
}

/// A VM with one SCSI disk and one adapter.
pub fn vm(n: u32, on: &HostId, state: VmState) -> VmFacts {
    let id = vm_id(n);
    VmFacts {
        id,
        name: format!("vm-{n:02}"),
        host: on.clone(),
        state,
        generation: Generation::Two,
        memory_startup_bytes: 4 * GIB,
        dynamic_memory_enabled: false,
        memory_minimum_bytes: None,
        memory_maximum_bytes: None,
        disks: vec![DiskFacts {
            id: disk_id(id, 0),
            path: format!("C:\\VMs\\vm-{n:02}\\disk0.vhdx"),
            capacity_bytes: 40 * GIB,
            controller_type: ControllerType::Scsi,
        }],
        nics: vec![NicFacts {
            id: nic_id(id, 1),
            name: "Network Adapter".into(),
        }],
    }
}

/// A fleet whose facts the test sets.
#[derive(Default)]
pub struct ScriptedFleet {
    pub hosts: Mutex<BTreeMap<HostId, HostFacts>>,
    pub vms: Mutex<HashMap<VmId, VmFacts>>,
    pub refreshes: Mutex<HashMap<HostId, u32>>,
    pub catalogue_fetches: AtomicU64,
}

impl ScriptedFleet {
    /// Reachable hosts `hv01`.. with the standard catalogue and two switches.
    pub fn with_hosts(n: u32) -> ScriptedFleet {
        let fleet = ScriptedFleet::default();
        for i in 1..=n {
            let id = host(&format!("hv{i:02}"));
            lock(&fleet.hosts).insert(
                id.clone(),
                HostFacts {
                    host: id,
                    status: HostStatus::Reachable,
                    cpu_cores: 64,
                    switches: vec!["External-Switch".into(), "Private".into()],
                },
            );
        }
        fleet
    }

    pub fn add_vm(&self, vm: VmFacts) {
        lock(&self.vms).insert(vm.id, vm);
    }

    pub fn set_status(&self, on: &HostId, status: HostStatus) {
        if let Some(facts) = lock(&self.hosts).get_mut(on) {
            facts.status = status;
        }
    }

    pub fn refreshes(&self, on: &HostId) -> u32 {
        lock(&self.refreshes).get(on).copied().unwrap_or(0)
    }
}

impl Fleet for ScriptedFleet {
    fn host<'a>(&'a self, on: &'a HostId) -> BoxFuture<'a, Result<Option<HostFacts>, ApiError>> {
        Box::pin(async move { Ok(lock(&self.hosts).get(on).cloned()) })
    }

    fn hosts(&self) -> BoxFuture<'_, Result<Vec<String>, ApiError>> {
        Box::pin(async move { Ok(lock(&self.hosts).keys().map(|h| h.to_string()).collect()) })
    }

    fn vm(&self, vm: VmId) -> BoxFuture<'_, Result<Option<VmFacts>, ApiError>> {
        Box::pin(async move { Ok(lock(&self.vms).get(&vm).cloned()) })
    }

    fn vm_named<'a>(
        &'a self,
        on: &'a HostId,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<VmId>, ApiError>> {
        Box::pin(async move {
            Ok(lock(&self.vms)
                .values()
                .find(|vm| &vm.host == on && vm.name.eq_ignore_ascii_case(name))
                .map(|vm| vm.id))
        })
    }

    fn catalogue<'a>(
        &'a self,
        _: &'a HostId,
    ) -> BoxFuture<'a, Result<ResourceCatalogue, ApiError>> {
        self.catalogue_fetches.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move { Ok(catalogue()) })
    }

    fn refresh<'a>(&'a self, on: &'a HostId) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            *lock(&self.refreshes).entry(on.clone()).or_default() += 1;
            Ok(())
        })
    }
}

/// One recorded run.
#[derive(Debug, Clone)]
pub struct Run {
    pub host: HostId,
    pub operation: Operation,
    pub params: Value,
    pub correlation_id: String,
    /// Order of start and end among all runs' events.
    pub started: u64,
    pub ended: Option<u64>,
    /// How it ended: "ok", "failed", "cancelled".
    pub outcome: &'static str,
}

/// An executor answering like an agent.
#[derive(Default)]
pub struct ScriptedExecutor {
    pub runs: Mutex<Vec<Run>>,
    clock: AtomicU64,
    held: Mutex<HashMap<Operation, Arc<Notify>>>,
    failures: Mutex<Vec<(Operation, ApiError)>>,
    /// Text appended to every log line (to check scrubbing).
    pub log_suffix: Mutex<String>,
    created: AtomicU64,
}

impl ScriptedExecutor {
    /// Runs of `operation` wait until [`ScriptedExecutor::release`] (or a cancel).
    pub fn hold(&self, operation: Operation) {
        lock(&self.held).insert(operation, Arc::new(Notify::new()));
    }

    /// Lets every held run of `operation` go on, and later ones run freely.
    pub fn release(&self, operation: Operation) {
        if let Some(gate) = lock(&self.held).remove(&operation) {
            gate.notify_waiters();
        }
    }

    /// The next run of `operation` fails with `error`.
    pub fn fail_next(&self, operation: Operation, error: ApiError) {
        lock(&self.failures).push((operation, error));
    }

    pub fn runs(&self) -> Vec<Run> {
        lock(&self.runs).clone()
    }

    /// Runs of an operation that have started and not ended.
    pub fn running(&self, operation: Operation) -> usize {
        lock(&self.runs)
            .iter()
            .filter(|r| r.operation == operation && r.ended.is_none())
            .count()
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn answer(&self, request: &RunRequest) -> Value {
        let n = self.created.fetch_add(1, Ordering::SeqCst) + 1;
        let params = request.params.expose();
        match request.operation {
            Operation::VmCreate => json!({
                "id": vm_id(1000 + n as u32).to_string(),
                "name": params["name"],
            }),
            Operation::DiskCreate => {
                let vm = params["vm_id"].as_str().unwrap_or_default();
                json!({
                    "id": format!("Microsoft:{}\\83F8638B-8DCA-4152-9EDA-2CA8B33039B4\\0\\{n}\\D", vm.to_uppercase()),
                    "path": format!("C:\\VMs\\disk-{n}.vhdx"),
                })
            }
            Operation::NicCreate => json!({
                "id": format!("Microsoft:{}\\5B3B0E4C-4B87-4F4C-9C59-{n:012}", params["vm_id"].as_str().unwrap_or_default().to_uppercase()),
                "name": "Network Adapter",
            }),
            Operation::Noop => {
                json!({ "echo": params.clone(), "correlation_id": request.correlation_id })
            }
            _ => json!({}),
        }
    }

    fn end(&self, index: usize, outcome: &'static str) {
        let tick = self.tick();
        if let Some(run) = lock(&self.runs).get_mut(index) {
            run.ended = Some(tick);
            run.outcome = outcome;
        }
    }
}

impl Executor for ScriptedExecutor {
    fn run<'a>(
        &'a self,
        request: RunRequest,
        events: &'a (dyn Fn(RunEvent) + Send + Sync),
        cancel: CancellationToken,
    ) -> BoxFuture<'a, Result<Value, RunError>> {
        Box::pin(async move {
            let index = {
                let started = self.tick();
                let mut runs = lock(&self.runs);
                runs.push(Run {
                    host: request.host.clone(),
                    operation: request.operation,
                    params: request.params.expose().clone(),
                    correlation_id: request.correlation_id.clone(),
                    started,
                    ended: None,
                    outcome: "running",
                });
                runs.len() - 1
            };
            events(RunEvent::Accepted {
                task_id: format!("task-{index}"),
            });
            events(RunEvent::Started);
            let suffix = lock(&self.log_suffix).clone();
            events(RunEvent::Log {
                level: Level::Info,
                message: format!("Executing {} operation{suffix}", request.operation),
            });
            let gate = lock(&self.held).get(&request.operation).cloned();
            if let Some(gate) = gate {
                let notified = gate.notified();
                tokio::select! {
                    () = notified => {}
                    () = cancel.cancelled() => {
                        self.end(index, "cancelled");
                        return Err(RunError::Failed(ApiError::new(ErrorCode::Cancelled, format!("{} was cancelled on the host", request.operation)).with_agent_code("CANCELLED")));
                    }
                }
            } else {
                // Yield so runs interleave like real ones.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            events(RunEvent::Progress {
                step: "working".into(),
                percent: 50,
                message: String::new(),
            });
            let failure = {
                let mut failures = lock(&self.failures);
                failures
                    .iter()
                    .position(|(op, _)| *op == request.operation)
                    .map(|i| failures.remove(i).1)
            };
            if let Some(error) = failure {
                self.end(index, "failed");
                return Err(RunError::Failed(error));
            }
            let answer = self.answer(&request);
            self.end(index, "ok");
            Ok(answer)
        })
    }
}

/// Records the hooks' calls.
#[derive(Default)]
pub struct RecordingHooks {
    pub calls: Mutex<Vec<(String, &'static str, u32)>>,
}

impl JobHooks for RecordingHooks {
    fn changed(&self, job: &Job) {
        lock(&self.calls).push((job.id.to_string(), job.state.as_str(), job.attempt));
    }
}

/// An engine over scripted ports.
pub struct Harness {
    pub engine: Engine,
    pub store: Arc<Store>,
    pub fleet: Arc<ScriptedFleet>,
    pub executor: Arc<ScriptedExecutor>,
    pub hooks: Arc<RecordingHooks>,
}

pub fn settings() -> StoreSettings {
    StoreSettings {
        max_jobs: 1000,
        max_age: Duration::from_secs(3600),
        max_active: 10_000,
        max_output_lines: 500,
        event_log: 100_000,
        broadcast: 100_000,
    }
}

impl Harness {
    pub fn new(hosts: u32) -> Harness {
        Harness::with(hosts, settings())
    }

    pub fn with(hosts: u32, store_settings: StoreSettings) -> Harness {
        let store = Arc::new(Store::new(store_settings, 1_000_000));
        let fleet = Arc::new(ScriptedFleet::with_hosts(hosts));
        let executor = Arc::new(ScriptedExecutor::default());
        let hooks = Arc::new(RecordingHooks::default());
        let engine = Engine::new(
            store.clone(),
            executor.clone(),
            fleet.clone(),
            hooks.clone(),
            EngineSettings {
                dispatch_patience: Duration::from_secs(5),
                cancel_wait: Duration::from_secs(5),
                ..EngineSettings::default()
            },
        );
        Harness {
            engine,
            store,
            fleet,
            executor,
            hooks,
        }
    }

    pub async fn submit(&self, job_type: JobType, spec: Value) -> Result<Job, ApiError> {
        self.engine
            .submit(Submission {
                job_type,
                spec_json: spec.to_string(),
                request_id: None,
                requester: "user:tester".into(),
            })
            .await
    }

    pub async fn submitted(&self, job_type: JobType, spec: Value) -> Job {
        match self.submit(job_type, spec).await {
            Ok(job) => job,
            Err(error) => panic!("submit {}: {error:?}", job_type.as_str()),
        }
    }

    pub fn job(&self, job: &Job) -> Job {
        match self.store.get(&job.id, true) {
            Some(job) => job,
            None => panic!("job {} is gone", job.id),
        }
    }

    /// Waits until `check` holds for the job (yielding to the engine's tasks).
    pub async fn until(&self, job: &Job, check: impl Fn(&Job) -> bool) -> Job {
        for _ in 0..20_000 {
            let current = self.job(job);
            if check(&current) {
                return current;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("job {} never got there: {:#?}", job.id, self.job(job))
    }

    pub async fn finished(&self, job: &Job) -> Job {
        self.until(job, |j| j.state.is_terminal()).await
    }
}
