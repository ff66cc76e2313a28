//! The WinRM `HostAgent` against `aetherv-hvsim`, in process, over real WinRM: every
//! operation end to end over NTLM/HTTP (message encryption) and Basic/HTTPS (the fleet's
//! self-signed CA); events before the result; a deadline and a cancel terminate the
//! command on the simulated host (its operation log says so); every fault knob gives the
//! typed error a caller acts on.

use std::path::PathBuf;
use std::time::Duration;

use aetherv_hvsim::{
    FailNext, Malformed, MalformedMode, OperationRecord, Outcome, Responsiveness, SimFleet, SimHost,
};
use aetherv_hyperv::ops::agent::{AgentInfoParams, NoopParams};
use aetherv_hyperv::ops::disk::{DiskCreateParams, DiskDeleteParams, DiskResizeParams};
use aetherv_hyperv::ops::inventory::{HostResourcesParams, InventoryCollectParams};
use aetherv_hyperv::ops::nic::{NicCreateParams, NicDeleteParams, NicUpdateParams};
use aetherv_hyperv::ops::vm::{VmCreateParams, VmDeleteParams, VmPowerParams, VmUpdateParams};
use aetherv_hyperv::*;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const GIB: u64 = 1 << 30;

type Called<T> = (Result<T, Error>, Vec<AgentEvent>);

/// How the test reaches the fleet.
#[derive(Clone, Copy, Debug)]
enum Scheme {
    NtlmHttp,
    BasicHttps,
}

struct Sim {
    fleet: SimFleet,
    host: SimHost,
    ca: Option<PathBuf>,
    _dir: tempfile::TempDir,
}

impl Sim {
    async fn start(builder: aetherv_hvsim::SimFleetBuilder) -> Sim {
        let fleet = builder.start().await.expect("the fleet starts");
        let host = fleet.hosts()[0].clone();
        let dir = tempfile::tempdir().expect("a temporary folder");
        let ca = fleet.ca_pem().map(|_| {
            let path = dir.path().join("ca.pem");
            fleet.write_ca_file(&path).expect("the ca file is written");
            path
        });
        Sim {
            fleet,
            host,
            ca,
            _dir: dir,
        }
    }

    /// One host, a few VMs, simulated time 1000 times faster, HTTP and HTTPS.
    async fn scaled() -> Sim {
        Sim::start(
            SimFleet::builder()
                .hosts(1)
                .vms_per_host(4)
                .clusters(0)
                .seed(42)
                .time_scale(0.001)
                .https(0),
        )
        .await
    }

    /// Simulated time that only moves when the test says so.
    async fn manual() -> Sim {
        Sim::start(
            SimFleet::builder()
                .hosts(1)
                .vms_per_host(2)
                .clusters(0)
                .seed(7)
                .manual_clock(),
        )
        .await
    }

    fn target(&self, scheme: Scheme) -> HostTarget {
        self.target_with(scheme, self.fleet.password().expose())
    }

    fn target_with(&self, scheme: Scheme, password: &str) -> HostTarget {
        let (url, auth, ca_file) = match scheme {
            Scheme::NtlmHttp => (self.host.http_endpoint(), AuthKind::Ntlm, None),
            Scheme::BasicHttps => (self.host.https_endpoint(), AuthKind::Basic, self.ca.clone()),
        };
        let settings = EndpointSettings {
            url: Some(url.expect("the endpoint is bound")),
            auth,
            username: self.fleet.username().to_owned(),
            password: Secret::new(password),
            ca_file,
            insecure_http: false,
            timeouts: Timeouts {
                connect: Duration::from_secs(5),
                request: Duration::from_secs(10),
                command: Duration::from_secs(60),
            },
        };
        HostTarget::new(self.host.name(), settings).expect("a valid target")
    }

    /// The log record of a correlation id, once it has ended.
    async fn ended_record(&self, correlation_id: &str) -> OperationRecord {
        for _ in 0..100 {
            let record = self
                .host
                .operations()
                .into_iter()
                .find(|r| r.correlation_id.as_deref() == Some(correlation_id));
            if let Some(record) = record
                && record.outcome != Outcome::Running
            {
                return record;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the host never finished {correlation_id}")
    }
}

fn agent() -> WinrmHostAgent {
    WinrmHostAgent::new().expect("the built-in bootstrap fits")
}

/// Runs typed params, collecting the events.
async fn run<P: OperationParams>(
    agent: &WinrmHostAgent,
    target: &HostTarget,
    params: &P,
) -> Called<P::Result> {
    run_with(
        agent,
        target,
        params,
        CallOptions::default(),
        CorrelationId::random(),
    )
    .await
}

async fn run_with<P: OperationParams>(
    agent: &WinrmHostAgent,
    target: &HostTarget,
    params: &P,
    options: CallOptions,
    correlation_id: CorrelationId,
) -> Called<P::Result> {
    let (events, mut received) = mpsc::channel(16);
    let collector = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Some(event) = received.recv().await {
            all.push(event);
        }
        all
    });
    let result = agent
        .run_correlated(target, correlation_id, params, options, events)
        .await;
    (result, collector.await.expect("the collector ends"))
}

fn ok<T>(outcome: Called<T>, what: &str) -> (T, Vec<AgentEvent>) {
    match outcome {
        (Ok(value), events) => (value, events),
        (Err(error), events) => panic!("{what} failed: {error:?}; events {events:?}"),
    }
}

fn agent_code<T: std::fmt::Debug>(outcome: &Called<T>) -> Option<AgentErrorCode> {
    match &outcome.0 {
        Err(error) => error.agent_code(),
        Ok(_) => None,
    }
}

fn log_messages(events: &[AgentEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Log(log) => Some(log.message.clone()),
            _ => None,
        })
        .collect()
}

/// Every operation of the protocol, in an order that uses each one's effects.
async fn every_operation(scheme: Scheme) {
    let sim = Sim::scaled().await;
    let target = sim.target(scheme);
    let agent = agent();

    let (info, _) = ok(
        run(&agent, &target, &AgentInfoParams {}).await,
        "agent.info",
    );
    assert_eq!(info.agent_sha256, agent.bundle().sha256());
    assert_eq!(info.agent_version, agent.bundle().version());
    assert_eq!(info.operations.len(), Operation::ALL.len());

    let echo = json!({"text": "héllo ✓ 日本", "one": [1], "nested": {"n": 9007199254740993_u64, "f": 1.5}});
    let params = NoopParams(echo.as_object().cloned().unwrap_or_default());
    let id = CorrelationId::parse("job-42.step:1").expect("a valid id");
    let (noop, _) = ok(
        run_with(&agent, &target, &params, CallOptions::default(), id).await,
        "noop",
    );
    assert_eq!(serde_json::Value::Object(noop.echo), echo);
    assert_eq!(noop.correlation_id, "job-42.step:1");

    let (resources, _) = ok(
        run(&agent, &target, &HostResourcesParams {}).await,
        "host.resources",
    );
    assert_eq!(resources, sim.host.resources());
    let class = resources.storage_classes[0].name.clone();
    let network = resources.networks[0].name.clone();
    let image = resources.images[0].clone();

    let (inventory, _) = ok(
        run(&agent, &target, &InventoryCollectParams::default()).await,
        "inventory.collect",
    );
    let mut listed: Vec<VmId> = inventory.vms.iter().map(|v| v.id).collect();
    let mut truth: Vec<VmId> = sim.host.vms().iter().map(|v| v.id).collect();
    listed.sort();
    truth.sort();
    assert_eq!(listed, truth);
    assert_eq!(inventory.host.computer_name, sim.host.computer_name());

    let create = VmCreateParams {
        name: format!("it-{scheme:?}").to_lowercase(),
        cpu_count: 2,
        generation: Generation::Two,
        memory_startup_bytes: 2 * GIB,
        dynamic_memory_enabled: false,
        memory_minimum_bytes: None,
        memory_maximum_bytes: None,
        secure_boot_enabled: Some(true),
        secure_boot_template: Some(SecureBootTemplate::MicrosoftUEFICertificateAuthority),
        notes: Some("created by the integration test".into()),
        storage_class: class.clone(),
    };
    let (vm, _) = ok(run(&agent, &target, &create).await, "vm.create");
    assert_eq!(vm.state, VmState::Off);
    assert!(vm.nics.is_empty() && vm.disks.is_empty());
    assert_eq!(
        sim.host.vm(vm.id).map(|v| v.name),
        Some(create.name.clone())
    );

    let mut update = VmUpdateParams::new(vm.id);
    update.cpu_count = Some(4);
    update.notes = Some("changed".into());
    let (updated, _) = ok(run(&agent, &target, &update).await, "vm.update");
    assert_eq!((updated.cpu_count, updated.notes.as_str()), (4, "changed"));
    assert_eq!(sim.host.vm(vm.id).map(|v| v.cpu_count), Some(4));

    let empty = DiskCreateParams {
        vm_id: vm.id,
        image: None,
        size_bytes: Some(10 * GIB),
        disk_type: NewDiskType::Dynamic,
        storage_class: None,
        controller_type: ControllerType::Scsi,
    };
    let (data_disk, _) = ok(run(&agent, &target, &empty).await, "disk.create (empty)");
    assert_eq!(data_disk.capacity_bytes, Some(10 * GIB));

    let clone = DiskCreateParams {
        image: Some(image.name.clone()),
        size_bytes: None,
        ..empty.clone()
    };
    let (boot_disk, events) = ok(run(&agent, &target, &clone).await, "disk.create (image)");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AgentEvent::Progress(p) if p.step == "copy image")),
        "an image copy reports progress: {events:?}"
    );
    assert_eq!(boot_disk.capacity_bytes, image.capacity_bytes);

    let grow = DiskResizeParams {
        vm_id: vm.id,
        disk_id: data_disk.id.clone(),
        size_bytes: 20 * GIB,
    };
    let (grown, _) = ok(run(&agent, &target, &grow).await, "disk.resize");
    assert_eq!(grown.capacity_bytes, Some(20 * GIB));
    let shrink = DiskResizeParams {
        size_bytes: 5 * GIB,
        ..grow
    };
    assert_eq!(
        agent_code(&run(&agent, &target, &shrink).await),
        Some(AgentErrorCode::InvalidRequest)
    );

    let remove = DiskDeleteParams {
        vm_id: vm.id,
        disk_id: data_disk.id.clone(),
        delete_file: true,
    };
    let (removed, _) = ok(run(&agent, &target, &remove).await, "disk.delete");
    assert!(removed.file_deleted);
    assert!(sim.host.file(&data_disk.path).is_none(), "the file is gone");

    let add = NicCreateParams {
        vm_id: vm.id,
        network: Some(network.clone()),
        switch_name: None,
        vlan_id: None,
        name: Some("Frontend".into()),
        mac_address: None,
    };
    let (nic, _) = ok(run(&agent, &target, &add).await, "nic.create");
    assert_eq!(nic.network_name.as_deref(), Some(network.as_str()));
    let mut change = NicUpdateParams::new(vm.id, nic.id.clone());
    change.vlan_id = Some(None);
    change.name = Some("Backend".into());
    let (changed, _) = ok(run(&agent, &target, &change).await, "nic.update");
    assert_eq!((changed.vlan_id, changed.name.as_str()), (None, "Backend"));
    let drop_nic = NicDeleteParams {
        vm_id: vm.id,
        nic_id: nic.id.clone(),
    };
    ok(run(&agent, &target, &drop_nic).await, "nic.delete");
    assert_eq!(sim.host.vm(vm.id).map(|v| v.nics.len()), Some(0));

    let (started, _) = ok(
        run(
            &agent,
            &target,
            &VmPowerParams::new(vm.id, PowerAction::Start),
        )
        .await,
        "vm.power start",
    );
    assert_eq!(
        (started.previous_state, started.state),
        (VmState::Off, VmState::Running)
    );
    assert_eq!(sim.host.vm(vm.id).map(|v| v.state), Some(VmState::Running));
    let refused = run(
        &agent,
        &target,
        &VmPowerParams::new(vm.id, PowerAction::Resume),
    )
    .await;
    assert_eq!(agent_code(&refused), Some(AgentErrorCode::InvalidState));

    let delete = VmDeleteParams {
        vm_id: vm.id,
        force: true,
        delete_disks: true,
    };
    let (deleted, _) = ok(run(&agent, &target, &delete).await, "vm.delete");
    assert_eq!(deleted.deleted_disk_paths, vec![boot_disk.path.clone()]);
    assert!(sim.host.vm(vm.id).is_none());
    assert!(sim.host.file(&boot_disk.path).is_none());

    for record in sim.host.operations() {
        assert_ne!(record.outcome, Outcome::Running, "{record:?}");
    }
    sim.fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_over_ntlm_with_message_encryption() {
    every_operation(Scheme::NtlmHttp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_over_basic_on_https() {
    every_operation(Scheme::BasicHttps).await;
}

/// Starts an image copy on a host whose clock stands still: it cannot finish.
fn endless_copy(sim: &Sim) -> DiskCreateParams {
    let vm = sim.host.vms()[0].id;
    let image = sim.host.resources().images[0].name.clone();
    DiskCreateParams {
        vm_id: vm,
        image: Some(image),
        size_bytes: None,
        disk_type: NewDiskType::Dynamic,
        storage_class: None,
        controller_type: ControllerType::Scsi,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_while_the_operation_runs_and_before_its_result() {
    let sim = Sim::manual().await;
    let target = sim.target(Scheme::NtlmHttp);
    let agent = agent();
    let params = endless_copy(&sim);
    let (events, mut received) = mpsc::channel(16);
    let call = agent.run(&target, &params, CallOptions::default(), events);
    tokio::pin!(call);
    let first = tokio::select! {
        event = received.recv() => event,
        result = &mut call => panic!("the result came before any event: {result:?}"),
    };
    assert!(matches!(first, Some(AgentEvent::Log(_))), "{first:?}");
    // The copy is waiting for simulated time: step it through, then the result comes.
    let pump = async {
        let mut progress = 0;
        while let Some(event) = received.recv().await {
            if matches!(event, AgentEvent::Progress(_)) {
                progress += 1;
            }
        }
        progress
    };
    let advance = async {
        for _ in 0..400 {
            sim.fleet.advance(Duration::from_secs(30));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let (result, progress, ()) = tokio::join!(call, pump, advance);
    let disk = result.expect("the copy finishes once time moves");
    assert!(progress >= 2, "{progress} progress events");
    assert!(disk.path.ends_with(".vhdx"));
    sim.fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_terminates_the_command_on_the_host() {
    let sim = Sim::manual().await;
    let target = sim.target(Scheme::NtlmHttp);
    let agent = agent();
    let id = CorrelationId::parse("deadline-1").expect("a valid id");
    let options = CallOptions {
        timeout: Some(Duration::from_secs(1)),
        ..CallOptions::default()
    };
    let (result, _) = run_with(&agent, &target, &endless_copy(&sim), options, id).await;
    assert!(
        matches!(&result, Err(Error::Timeout { timeout, .. }) if *timeout == Duration::from_secs(1)),
        "{result:?}"
    );
    assert_eq!(
        sim.ended_record("deadline-1").await.outcome,
        Outcome::Terminated
    );
    assert_eq!(sim.host.running_operations(), 0);
    sim.fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_terminates_the_command_on_the_host() {
    let sim = Sim::manual().await;
    let target = sim.target(Scheme::NtlmHttp);
    let agent = agent();
    let cancel = CancellationToken::new();
    let options = CallOptions {
        timeout: None,
        cancel: cancel.clone(),
    };
    let (events, mut received) = mpsc::channel(16);
    let id = CorrelationId::parse("cancel-1").expect("a valid id");
    let call = agent.run_correlated(&target, id, &endless_copy(&sim), options, events);
    let cancel_after_first_event = async {
        let first = received.recv().await;
        cancel.cancel();
        while received.recv().await.is_some() {}
        first
    };
    let (result, first) = tokio::join!(call, cancel_after_first_event);
    assert!(first.is_some(), "the operation had started");
    assert!(matches!(result, Err(Error::Cancelled { .. })), "{result:?}");
    assert_eq!(
        sim.ended_record("cancel-1").await.outcome,
        Outcome::Terminated
    );
    assert_eq!(sim.host.running_operations(), 0);
    sim.fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_injected_error_code_reaches_the_caller_typed() {
    let sim = Sim::scaled().await;
    let target = sim.target(Scheme::NtlmHttp);
    let agent = agent();
    for code in AgentErrorCode::ALL {
        sim.host
            .fail_next(FailNext {
                count: 1,
                operation: Some(Operation::AgentInfo),
                code,
                message: format!("injected {code}"),
            })
            .expect("a valid knob");
        let outcome = run(&agent, &target, &AgentInfoParams {}).await;
        match &outcome.0 {
            Err(Error::Agent {
                error,
                operation,
                host,
            }) => {
                assert_eq!(error.code(), code);
                assert_eq!(*operation, Operation::AgentInfo);
                assert_eq!(host, target.id());
            }
            other => panic!("{code}: {other:?}"),
        }
    }
    ok(
        run(&agent, &target, &AgentInfoParams {}).await,
        "agent.info after the failures",
    );
    sim.fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_output_is_a_protocol_violation_naming_host_and_operation() {
    let sim = Sim::scaled().await;
    let target = sim.target(Scheme::NtlmHttp);
    let agent = agent();
    let modes = [
        (MalformedMode::NoResult, "no result"),
        (MalformedMode::TwoResults, "second result"),
        (MalformedMode::NonJsonLine, "not json"),
        (MalformedMode::InvalidResult, "does not match"),
    ];
    for (mode, words) in modes {
        sim.host
            .set_malformed(Some(Malformed {
                mode,
                operation: None,
                count: Some(1),
            }))
            .expect("a valid knob");
        let (result, _) = run(&agent, &target, &HostResourcesParams {}).await;
        let Err(Error::Protocol(violation)) = &result else {
            panic!("{mode:?}: {result:?}");
        };
        assert_eq!(&violation.host, target.id());
        assert_eq!(violation.operation, Operation::HostResources);
        let text = violation.to_string();
        assert!(text.contains(words), "{mode:?}: {text}");
    }
    ok(
        run(&agent, &target, &HostResourcesParams {}).await,
        "host.resources after the knob",
    );
    sim.fleet.shutdown().await;
}

fn transport_kind<T: std::fmt::Debug>(outcome: &Called<T>) -> TransportErrorKind {
    match &outcome.0 {
        Err(Error::Transport { source, .. }) => source.kind.clone(),
        other => panic!("expected a transport error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_knobs_and_credentials_give_transport_errors() {
    let sim = Sim::scaled().await;
    let target = sim.target(Scheme::NtlmHttp);
    let agent = agent();
    ok(
        run(&agent, &target, &AgentInfoParams {}).await,
        "agent.info",
    );
    assert_eq!(agent.cached_hosts(), 1);

    let wrong = sim.target_with(Scheme::NtlmHttp, "not-the-password");
    assert_eq!(
        transport_kind(&run(&agent, &wrong, &AgentInfoParams {}).await),
        TransportErrorKind::Authentication
    );
    let wrong_basic = sim.target_with(Scheme::BasicHttps, "not-the-password");
    assert_eq!(
        transport_kind(&run(&agent, &wrong_basic, &AgentInfoParams {}).await),
        TransportErrorKind::Authentication
    );

    sim.host.set_responsiveness(Responsiveness::Refuse);
    assert_eq!(
        transport_kind(&run(&agent, &target, &AgentInfoParams {}).await),
        TransportErrorKind::Connect
    );

    sim.host.set_responsiveness(Responsiveness::Unresponsive);
    let mut patient = sim.target(Scheme::NtlmHttp);
    patient = HostTarget::new(
        patient.id().as_str(),
        EndpointSettings {
            url: Some(patient.url().to_string()),
            auth: patient.auth(),
            username: patient.username().to_owned(),
            password: patient.password().clone(),
            ca_file: None,
            insecure_http: false,
            timeouts: Timeouts {
                connect: Duration::from_secs(2),
                request: Duration::from_secs(1),
                command: Duration::from_secs(60),
            },
        },
    )
    .expect("a valid target");
    assert_eq!(
        transport_kind(&run(&agent, &patient, &AgentInfoParams {}).await),
        TransportErrorKind::Timeout
    );

    sim.host.set_responsiveness(Responsiveness::Normal);
    ok(
        run(&agent, &target, &AgentInfoParams {}).await,
        "agent.info once the host answers again",
    );
    sim.fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_past_the_deadline_times_out_and_stops_the_command() {
    let sim = Sim::scaled().await;
    let target = sim.target(Scheme::NtlmHttp);
    let agent = agent();
    sim.host
        .set_operation_latency(Operation::InventoryCollect, Duration::from_secs(600));
    let options = CallOptions {
        timeout: Some(Duration::from_millis(800)),
        ..CallOptions::default()
    };
    let id = CorrelationId::parse("slow-inventory").expect("a valid id");
    let (result, _) = run_with(
        &agent,
        &target,
        &InventoryCollectParams::default(),
        options,
        id,
    )
    .await;
    assert!(
        matches!(
            result,
            Err(Error::Timeout {
                operation: Operation::InventoryCollect,
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(
        sim.ended_record("slow-inventory").await.outcome,
        Outcome::Terminated
    );
    sim.fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_band_changes_show_in_inventory_and_in_the_state_rules() {
    let sim = Sim::scaled().await;
    let target = sim.target(Scheme::NtlmHttp);
    let agent = agent();
    let vm = sim.host.vms()[0].id;
    sim.host
        .set_vm_state(vm, VmState::Off)
        .expect("the vm exists");
    sim.host
        .set_vm_state(vm, VmState::Paused)
        .expect("the vm exists");
    let (inventory, _) = ok(
        run(
            &agent,
            &target,
            &InventoryCollectParams {
                vm_ids: Some(vec![vm]),
            },
        )
        .await,
        "inventory",
    );
    assert_eq!(inventory.vms.len(), 1);
    assert_eq!(inventory.vms[0].state, VmState::Paused);
    let outcome = run(
        &agent,
        &target,
        &VmPowerParams::new(vm, PowerAction::Shutdown),
    )
    .await;
    match &outcome.0 {
        Err(Error::Agent { error, .. }) => match &error.details {
            ErrorDetails::InvalidState(details) => {
                assert_eq!(details.state, VmState::Paused);
                assert_eq!(details.allowed_states, vec![VmState::Running]);
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    sim.host
        .set_vm_state(vm, VmState::Running)
        .expect("the vm exists");
    sim.host
        .set_guest_ignores_shutdown(vm, true)
        .expect("the vm exists");
    let mut shutdown = VmPowerParams::new(vm, PowerAction::Shutdown);
    shutdown.shutdown_timeout_seconds = Some(5);
    assert_eq!(
        agent_code(&run(&agent, &target, &shutdown).await),
        Some(AgentErrorCode::Timeout)
    );
    shutdown.turn_off_after_timeout = Some(true);
    let (stopped, events) = ok(
        run(&agent, &target, &shutdown).await,
        "shutdown with turn-off",
    );
    assert!(stopped.turned_off_after_timeout);
    assert_eq!(stopped.state, VmState::Off);
    assert!(!log_messages(&events).is_empty());
    sim.fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_the_bootstrap_does_not_pin_is_refused_by_the_host() {
    let sim = Sim::scaled().await;
    let target = sim.target(Scheme::NtlmHttp);
    let builtin = AgentBundle::builtin();
    let bootstrap = Bootstrap::for_bundle(builtin).expect("the bootstrap fits");
    let mut files: Vec<(&str, &str)> = BUNDLE_FILES.to_vec();
    files.push(("extra.ps1", "Write-Output 'not the pinned code'"));
    let tampered = AgentBundle::from_files(&files);
    let agent =
        WinrmHostAgent::from_parts(bootstrap, tampered.clone(), WinrmAgentOptions::default());
    let outcome = run(&agent, &target, &AgentInfoParams {}).await;
    match &outcome.0 {
        Err(Error::Agent { error, .. }) => match &error.details {
            ErrorDetails::AgentIntegrity(details) => {
                assert_eq!(details.expected_sha256, builtin.sha256());
                assert_eq!(details.actual_sha256, tampered.sha256());
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    sim.fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_connection_per_call_works_too() {
    let sim = Sim::scaled().await;
    let target = sim.target(Scheme::NtlmHttp);
    let agent = WinrmHostAgent::with_options(WinrmAgentOptions {
        reuse_connections: false,
        ..WinrmAgentOptions::default()
    })
    .expect("the bootstrap fits");
    for _ in 0..3 {
        ok(
            run(&agent, &target, &InventoryCollectParams::default()).await,
            "inventory",
        );
    }
    assert_eq!(agent.cached_hosts(), 0);
    sim.fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_concurrent_calls_than_connections_do_not_starve() {
    let sim = Sim::scaled().await;
    let target = sim.target(Scheme::NtlmHttp);
    let agent = std::sync::Arc::new(
        WinrmHostAgent::with_options(WinrmAgentOptions {
            reuse_connections: true,
            max_connections_per_host: 2,
        })
        .expect("the bootstrap fits"),
    );
    let calls = (0..6).map(|_| {
        let (agent, target) = (agent.clone(), target.clone());
        tokio::spawn(async move {
            // Far below the 5 s Receive long poll: a call that waited for a connection held
            // by another call's long poll would miss it.
            let options = CallOptions {
                timeout: Some(Duration::from_secs(4)),
                ..CallOptions::default()
            };
            agent.collect_inventory(&target, options).await
        })
    });
    for call in futures::future::join_all(calls).await {
        let inventory = call.expect("the task ends").expect("the call succeeds");
        assert_eq!(inventory.vms.len(), sim.host.vms().len());
    }
    sim.fleet.shutdown().await;
}
