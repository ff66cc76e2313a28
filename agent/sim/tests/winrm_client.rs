//! Our own WinRM client (`aetherv-winrm`) and the product's WinRM `HostAgent` against the
//! simulated fleet over real sockets: NTLM with message encryption over HTTP, Basic and
//! NTLM over HTTPS with the written-out CA, cmd.exe's answer to other commands, refused
//! credentials, and each fault knob giving the error a caller can act on.

mod common;

use std::time::{Duration, Instant};

use aetherv_hvsim::{
    FailNext, Malformed, MalformedMode, Outcome, Responsiveness, SimFleet, SimHost, VmChange,
};
use aetherv_hyperv::winrm_agent::WinrmHostAgent;
use aetherv_hyperv::{
    AgentErrorCode, AgentRequest, AuthKind, CallOptions, CorrelationId, EndpointSettings,
    Error as AgentCallError, HostAgent, HostAgentExt, HostTarget, Operation, Secret, Timeouts,
    TransportErrorKind, ViolationKind,
};
use aetherv_winrm::client::{AuthMethod, TimeoutKind};
use common::{agent_winrm, check, client, request_line, run_winrm};
use serde_json::json;

fn target(host: &SimHost, fleet: &SimFleet, command_timeout: Duration) -> HostTarget {
    let settings = EndpointSettings {
        url: host.http_endpoint(),
        auth: AuthKind::Ntlm,
        username: fleet.username().to_owned(),
        password: Secret::new(fleet.password().expose()),
        ca_file: None,
        insecure_http: false,
        timeouts: Timeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(30),
            command: command_timeout,
        },
    };
    HostTarget::new(host.name(), settings).unwrap_or_else(|e| panic!("{e}"))
}

fn agent() -> WinrmHostAgent {
    WinrmHostAgent::new().unwrap_or_else(|e| panic!("{e}"))
}

fn request(op: &str, params: serde_json::Value) -> AgentRequest {
    let Some(operation) = Operation::from_wire(op) else {
        panic!("{op}")
    };
    let map = params.as_object().cloned().unwrap_or_default();
    AgentRequest::new(operation, CorrelationId::random(), map).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn ntlm_over_http_runs_the_agent_and_cmd_answers_the_rest() {
    let fleet = common::fleet(2, 3, 0).await;
    let host = &fleet.hosts()[1];
    let endpoint = host.http_endpoint().unwrap_or_default();
    assert!(endpoint.starts_with("http://127.0.10.2:"), "{endpoint}");
    let c = client(&endpoint, AuthMethod::Ntlm, &fleet, None);
    let ran = agent_winrm(&c, &request_line("inventory.collect", json!({})))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let answer = check(Operation::InventoryCollect, &ran).unwrap_or_else(|v| panic!("{v}"));
    assert_eq!(answer.exit, 0);
    assert_eq!(
        answer.data()["host"]["computer_name"],
        json!(host.computer_name())
    );
    assert_eq!(answer.data()["vms"].as_array().map(Vec::len), Some(3));

    let ran = run_winrm(&c, "ipconfig", vec!["/all".into()], None, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ran.exit, Some(1));
    assert_eq!(
        ran.stderr_text(),
        "'ipconfig' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
    );
    assert!(ran.stdout.is_empty());

    let ran = run_winrm(
        &c,
        "powershell.exe",
        vec!["-Command".into(), "Get-VM".into()],
        None,
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ran.exit, Some(1));
    assert!(ran.stderr_text().starts_with("#< CLIXML"));
    assert!(
        ran.stderr_text()
            .contains("The term 'Get-VM' is not recognized")
    );
    let ran = run_winrm(
        &c,
        "powershell.exe",
        vec!["-EncodedCommand".into()],
        None,
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ran.exit, Some(64));

    let ops: Vec<_> = host
        .operations()
        .into_iter()
        .map(|r| (r.operation, r.outcome))
        .collect();
    assert_eq!(ops[0], (Some("inventory.collect".to_owned()), Outcome::Ok));
    assert_eq!(ops[1], (None, Outcome::Rejected));

    let mut wrong = aetherv_winrm::ClientConfig::new(
        endpoint,
        AuthMethod::Ntlm,
        fleet.username(),
        "not-the-password",
    );
    wrong.connect_timeout = Duration::from_secs(5);
    let wrong = aetherv_winrm::Client::new(wrong).unwrap_or_else(|e| panic!("{e}"));
    let e = run_winrm(&wrong, "ipconfig", vec![], None, None).await;
    assert!(
        matches!(e, Err(aetherv_winrm::Error::Authentication { .. })),
        "{e:?}"
    );
}

#[tokio::test]
async fn basic_and_ntlm_over_https_with_the_written_ca() {
    let fleet = SimFleet::builder()
        .hosts(2)
        .vms_per_host(2)
        .clusters(1)
        .time_scale(0.001)
        .https(0)
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ca = dir.path().join("ca.pem");
    fleet.write_ca_file(&ca).unwrap_or_else(|e| panic!("{e}"));
    for host in fleet.hosts() {
        let endpoint = host.https_endpoint().unwrap_or_default();
        assert!(endpoint.starts_with("https://127.0.10."), "{endpoint}");
        for auth in [AuthMethod::Basic, AuthMethod::Ntlm] {
            let c = client(&endpoint, auth, &fleet, Some(ca.clone()));
            let ran = agent_winrm(&c, &request_line("agent.info", json!({})))
                .await
                .unwrap_or_else(|e| panic!("{auth:?}: {e}"));
            let a = check(Operation::AgentInfo, &ran).unwrap_or_else(|v| panic!("{v}"));
            assert_eq!(a.data()["fqdn"], json!(host.name()));
        }
    }
    // Without the CA the certificate is not trusted.
    let endpoint = fleet.hosts()[0].https_endpoint().unwrap_or_default();
    let c = client(&endpoint, AuthMethod::Basic, &fleet, None);
    let e = run_winrm(&c, "ipconfig", vec![], None, None).await;
    assert!(matches!(e, Err(aetherv_winrm::Error::Tls { .. })), "{e:?}");
}

#[tokio::test]
async fn latency_fail_next_and_out_of_band_changes() {
    let fleet = common::fleet(1, 4, 0).await;
    let host = &fleet.hosts()[0];
    let t = target(host, &fleet, Duration::from_secs(60));
    let agent = agent();

    host.set_latency(Duration::from_millis(300));
    let started = Instant::now();
    agent
        .agent_info(&t, CallOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(started.elapsed() >= Duration::from_millis(300));
    let record = host
        .operations()
        .pop()
        .unwrap_or_else(|| panic!("no record"));
    assert!(record.duration_ms.is_some_and(|d| d >= 300), "{record:?}");
    host.set_latency(Duration::ZERO);

    host.fail_next(FailNext {
        count: 2,
        operation: Some(Operation::VmPower),
        code: AgentErrorCode::OperationFailed,
        message: "Start-VM failed".into(),
    })
    .unwrap_or_else(|e| panic!("{e}"));
    agent
        .agent_info(&t, CallOptions::default())
        .await
        .unwrap_or_else(|e| panic!("other operations are not affected: {e}"));
    let vm = host.vms()[0].id;
    for _ in 0..2 {
        let e = agent
            .power(
                &t,
                vm,
                aetherv_hyperv::PowerAction::Stop,
                CallOptions::default(),
            )
            .await;
        assert_eq!(
            e.as_ref().err().and_then(AgentCallError::agent_code),
            Some(AgentErrorCode::OperationFailed),
            "{e:?}"
        );
    }
    assert!(host.knobs().fail_next.is_empty(), "both failures were used");

    let before = agent
        .collect_inventory(&t, CallOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let changed = host.vms()[1].id;
    host.change_vm(
        changed,
        &VmChange {
            state: Some(aetherv_hyperv::VmState::Off),
            cpu_count: Some(3),
            notes: Some("changed by hand".into()),
            ..VmChange::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let removed = host.vms()[2].id;
    host.remove_vm(removed).unwrap_or_else(|e| panic!("{e}"));
    let after = agent
        .collect_inventory(&t, CallOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let seen = after
        .vms
        .iter()
        .find(|v| v.id == changed)
        .unwrap_or_else(|| panic!("vm gone"));
    assert_eq!(
        (seen.state, seen.cpu_count, seen.notes.as_str()),
        (aetherv_hyperv::VmState::Off, 3, "changed by hand")
    );
    assert_eq!(before.vms.len() - 1, after.vms.len());
    assert!(after.vms.iter().all(|v| v.id != removed));
}

#[tokio::test]
async fn each_malformed_mode_is_a_protocol_violation() {
    let fleet = common::fleet(1, 1, 0).await;
    let host = &fleet.hosts()[0];
    let t = target(host, &fleet, Duration::from_secs(60));
    let agent = agent();
    for (mode, expected) in [
        (MalformedMode::NoResult, "no result"),
        (MalformedMode::TwoResults, "second result"),
        (MalformedMode::NonJsonLine, "not json"),
        (MalformedMode::InvalidResult, "does not match"),
    ] {
        host.set_malformed(Some(Malformed {
            mode,
            operation: None,
            count: Some(1),
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let e = agent
            .call(
                &t,
                request("inventory.collect", json!({})),
                CallOptions::default(),
                tokio::sync::mpsc::channel(8).0,
            )
            .await;
        match e {
            Err(AgentCallError::Protocol(v)) => {
                let kind_ok = matches!(
                    (mode, &v.kind),
                    (MalformedMode::NoResult, ViolationKind::NoResult)
                        | (
                            MalformedMode::TwoResults,
                            ViolationKind::DuplicateResult { .. }
                        )
                        | (MalformedMode::NonJsonLine, ViolationKind::NotJson { .. })
                        | (
                            MalformedMode::InvalidResult,
                            ViolationKind::InvalidResultData { .. }
                        )
                );
                assert!(kind_ok, "{mode:?} gave {:?}", v.kind);
                assert!(v.to_string().contains(expected), "{v}");
                assert_eq!(v.operation, Operation::InventoryCollect);
                assert!(!v.excerpt.is_empty() && v.excerpt.len() <= 200);
            }
            other => panic!("{mode:?}: expected a protocol violation, got {other:?}"),
        }
        assert_eq!(
            host.operations().pop().map(|r| r.outcome),
            Some(Outcome::Malformed)
        );
    }
    agent
        .agent_info(&t, CallOptions::default())
        .await
        .unwrap_or_else(|e| panic!("well-formed again: {e}"));
}

#[tokio::test]
async fn unresponsive_times_out_and_refused_cannot_connect() {
    let fleet = common::fleet(1, 1, 0).await;
    let host = &fleet.hosts()[0];
    let endpoint = host.http_endpoint().unwrap_or_default();
    let c = client(&endpoint, AuthMethod::Ntlm, &fleet, None);
    let line = request_line("noop", json!({}));
    agent_winrm(&c, &line)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    host.set_responsiveness(Responsiveness::Unresponsive);
    let e = common::run_winrm(
        &c,
        common::bootstrap().command(),
        common::bootstrap().arguments(),
        Some(common::stdin_for(&line)),
        Some(Duration::from_secs(1)),
    )
    .await;
    assert!(
        matches!(
            e,
            Err(aetherv_winrm::Error::Timeout {
                kind: TimeoutKind::Command,
                ..
            })
        ),
        "{e:?}"
    );
    let fresh = client(&endpoint, AuthMethod::Ntlm, &fleet, None);
    let e = common::run_winrm(
        &fresh,
        "ipconfig",
        vec![],
        None,
        Some(Duration::from_secs(1)),
    )
    .await;
    assert!(
        matches!(e, Err(aetherv_winrm::Error::Timeout { .. })),
        "a new connection is accepted and never answered: {e:?}"
    );

    host.set_responsiveness(Responsiveness::Refuse);
    tokio::task::yield_now().await;
    let refused = client(&endpoint, AuthMethod::Ntlm, &fleet, None);
    let mut e = common::run_winrm(
        &refused,
        "ipconfig",
        vec![],
        None,
        Some(Duration::from_secs(5)),
    )
    .await;
    for _ in 0..50 {
        if matches!(e, Err(aetherv_winrm::Error::Connect { .. })) {
            break;
        }
        // The listener closes on the host's own task; give it its turn.
        tokio::time::sleep(Duration::from_millis(20)).await;
        e = common::run_winrm(
            &refused,
            "ipconfig",
            vec![],
            None,
            Some(Duration::from_secs(5)),
        )
        .await;
    }
    assert!(
        matches!(e, Err(aetherv_winrm::Error::Connect { .. })),
        "{e:?}"
    );

    host.set_responsiveness(Responsiveness::Normal);
    let back = client(&endpoint, AuthMethod::Ntlm, &fleet, None);
    let mut ok = agent_winrm(&back, &line).await;
    for _ in 0..50 {
        if ok.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        ok = agent_winrm(&back, &line).await;
    }
    let ran = ok.unwrap_or_else(|e| panic!("answering again on the same port: {e}"));
    assert_eq!(ran.exit, Some(0));

    // The product's agent classifies both.
    let t = target(host, &fleet, Duration::from_secs(2));
    host.set_responsiveness(Responsiveness::Unresponsive);
    let e = agent().agent_info(&t, CallOptions::default()).await;
    assert!(matches!(e, Err(AgentCallError::Timeout { .. })), "{e:?}");
    host.set_responsiveness(Responsiveness::Refuse);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let e = agent().agent_info(&t, CallOptions::default()).await;
    assert!(
        matches!(&e, Err(AgentCallError::Transport { source, .. }) if source.kind == TransportErrorKind::Connect),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_terminated_image_copy_leaves_no_disk() {
    let fleet = SimFleet::builder()
        .hosts(1)
        .vms_per_host(0)
        .clusters(0)
        .time_scale(1.0)
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let host = &fleet.hosts()[0];
    let vm = host
        .add_vm(&aetherv_hvsim::NewVm {
            name: "copy-target".into(),
            cpu_count: 2,
            memory_startup_bytes: 2 << 30,
            generation: aetherv_hyperv::Generation::Two,
            state: aetherv_hyperv::VmState::Off,
            notes: String::new(),
            guest_os_name: None,
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let free_before = host.resources().storage_classes[0].free_bytes;
    let c = client(
        &host.http_endpoint().unwrap_or_default(),
        AuthMethod::Ntlm,
        &fleet,
        None,
    );
    let line = request_line(
        "disk.create",
        json!({"vm_id": vm.id, "image": "win2022-datacenter", "type": "Dynamic", "controller_type": "SCSI", "storage_class": "fast-ssd"}),
    );
    let b = common::bootstrap();
    let e = run_winrm(
        &c,
        b.command(),
        b.arguments(),
        Some(common::stdin_for(&line)),
        Some(Duration::from_secs(1)),
    )
    .await;
    assert!(
        matches!(
            e,
            Err(aetherv_winrm::Error::Timeout {
                kind: TimeoutKind::Command,
                ..
            })
        ),
        "{e:?}"
    );
    // The client signalled terminate; the command's record ends as terminated.
    let mut record = host.operations().pop();
    for _ in 0..100 {
        if record
            .as_ref()
            .is_some_and(|r| r.outcome != Outcome::Running)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        record = host.operations().pop();
    }
    let record = record.unwrap_or_else(|| panic!("no record"));
    assert_eq!(
        (record.operation.as_deref(), record.outcome),
        (Some("disk.create"), Outcome::Terminated)
    );
    assert_eq!(
        host.vm(vm.id).map(|v| v.disks.len()),
        Some(0),
        "no half disk attached"
    );
    assert_eq!(
        host.resources().storage_classes[0].free_bytes,
        free_before,
        "the reserved space is back"
    );
    assert_eq!(host.running_operations(), 0);
}
