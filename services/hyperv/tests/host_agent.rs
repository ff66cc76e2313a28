//! The `HostAgent` seam and its typed helpers, driven by a small in-process implementation
//! that follows the trait's contract (decode the request line as an agent does, answer
//! JSON lines, parse them with `OutputParser`). The WinRM implementation is tested
//! against the simulator in its own tests; this checks the typed layer above the trait.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aetherv_hyperv::ops::vm::VmPowerParams;
use aetherv_hyperv::*;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Answers by a function from the decoded request to stdout text and an exit code.
struct InProcess {
    calls: AtomicUsize,
    answer: fn(&AgentRequest, &Params) -> (String, i32),
}

impl HostAgent for InProcess {
    fn call<'a>(
        &'a self,
        host: &'a HostTarget,
        request: AgentRequest,
        options: CallOptions,
        events: mpsc::Sender<AgentEvent>,
    ) -> BoxFuture<'a, Result<AgentOutcome, Error>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if options.cancel.is_cancelled() {
                return Err(Error::Cancelled {
                    host: host.id().clone(),
                    operation: request.operation(),
                });
            }
            let (decoded, params) = AgentRequest::decode(&request.to_json_line()).unwrap();
            let (stdout, exit_code) = (self.answer)(&decoded, &params);
            let mut parser = OutputParser::new(host.id().clone(), request.operation());
            for chunk in stdout.as_bytes().chunks(7) {
                for event in parser.feed(chunk)? {
                    let _ = events.send(event).await;
                }
            }
            let (last, result) = parser.finish(Some(exit_code))?;
            for event in last {
                let _ = events.send(event).await;
            }
            match result {
                ResultLine::Ok { data } => Ok(AgentOutcome { data }),
                ResultLine::Error { error } => Err(Error::Agent {
                    host: host.id().clone(),
                    operation: request.operation(),
                    error,
                }),
            }
        })
    }
}

fn target() -> HostTarget {
    HostTarget::new(
        "hv-03",
        EndpointSettings {
            url: None,
            auth: AuthKind::Ntlm,
            username: "svc".into(),
            password: Secret::new("pw"),
            ca_file: None,
            insecure_http: false,
            timeouts: Timeouts::default(),
        },
    )
    .unwrap()
}

fn power_answer(_: &AgentRequest, params: &Params) -> (String, i32) {
    let Params::VmPower(p) = params else {
        panic!("{params:?}")
    };
    let log = json!({"type": "log", "level": "info", "message": format!("{} {}", p.action.cmdlet(), p.vm_id)});
    let transition = p.action.transition(VmState::Off);
    let result = match transition {
        Ok(t) => json!({"type": "result", "ok": true, "data": {
            "vm_id": p.vm_id, "action": p.action, "previous_state": t.from,
            "state": t.to, "turned_off_after_timeout": false}}),
        Err(refused) => json!({"type": "result", "ok": false, "error": {
            "code": "INVALID_STATE", "message": refused.to_string(),
            "details": {"vm_id": p.vm_id, "state": refused.state, "allowed_states": refused.allowed_states}}}),
    };
    let code = if result["ok"] == true { 0 } else { 1 };
    (format!("{log}\r\n{result}\r\n"), code)
}

#[tokio::test]
async fn typed_calls_return_typed_results_and_forward_events() {
    let agent = InProcess {
        calls: AtomicUsize::new(0),
        answer: power_answer,
    };
    let (tx, mut rx) = mpsc::channel(8);
    let result = agent
        .run(
            &target(),
            &VmPowerParams::new(common::vm_id(), PowerAction::Start),
            CallOptions::default(),
            tx,
        )
        .await
        .unwrap();
    assert_eq!(
        (result.previous_state, result.state),
        (VmState::Off, VmState::Running)
    );
    let Some(AgentEvent::Log(log)) = rx.recv().await else {
        panic!("no event")
    };
    assert_eq!(log.message, format!("Start-VM {}", common::VM_GUID));
}

#[tokio::test]
async fn agent_errors_keep_their_code_and_details() {
    let agent: Arc<dyn HostAgent> = Arc::new(InProcess {
        calls: AtomicUsize::new(0),
        answer: power_answer,
    });
    let error = agent
        .power(
            &target(),
            common::vm_id(),
            PowerAction::Shutdown,
            CallOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.agent_code(), Some(AgentErrorCode::InvalidState));
    let Error::Agent {
        host,
        operation,
        error,
    } = &error
    else {
        panic!("{error}")
    };
    assert_eq!((host.as_str(), *operation), ("hv-03", Operation::VmPower));
    let ErrorDetails::InvalidState(details) = &error.details else {
        panic!()
    };
    assert_eq!(details.allowed_states, vec![VmState::Running]);
}

#[tokio::test]
async fn invalid_params_never_reach_the_host() {
    let agent = InProcess {
        calls: AtomicUsize::new(0),
        answer: power_answer,
    };
    let mut params = ops::vm::VmUpdateParams::new(common::vm_id());
    params.memory_minimum_bytes = Some(8 << 30);
    params.memory_maximum_bytes = Some(4 << 30);
    let error = agent
        .run(
            &target(),
            &params,
            CallOptions::default(),
            mpsc::channel(1).0,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Request {
                operation: Operation::VmUpdate,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(agent.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn protocol_violations_name_the_host() {
    fn garbage(_: &AgentRequest, _: &Params) -> (String, i32) {
        ("Get-VM : The term 'Get-VM' is not recognized\r\n".into(), 1)
    }
    let agent = InProcess {
        calls: AtomicUsize::new(0),
        answer: garbage,
    };
    let error = agent
        .agent_info(&target(), CallOptions::default())
        .await
        .unwrap_err();
    let Error::Protocol(violation) = &error else {
        panic!("{error}")
    };
    assert_eq!(violation.kind, ViolationKind::NotJson { line: 1 });
    assert!(error.to_string().contains("hv-03") && error.to_string().contains("Get-VM : The term"));
}

#[tokio::test]
async fn results_are_checked_against_the_operation_schema() {
    fn wrong_shape(_: &AgentRequest, _: &Params) -> (String, i32) {
        let data: Value = json!({"catalogue_path": null, "storage_classes": [], "networks": []});
        (
            format!("{}\n", json!({"type": "result", "ok": true, "data": data})),
            0,
        )
    }
    let agent = InProcess {
        calls: AtomicUsize::new(0),
        answer: wrong_shape,
    };
    let error = agent
        .host_resources(&target(), CallOptions::default())
        .await
        .unwrap_err();
    let Error::Protocol(violation) = error else {
        panic!()
    };
    let ViolationKind::InvalidResultData { errors, .. } = violation.kind else {
        panic!()
    };
    assert_eq!(errors[0].pointer, "/images");
}

#[tokio::test]
async fn the_callers_correlation_id_reaches_the_agent() {
    fn echo(request: &AgentRequest, params: &Params) -> (String, i32) {
        let Params::Noop(p) = params else { panic!() };
        let data = json!({"echo": p.0, "correlation_id": request.correlation_id().as_str()});
        (
            format!("{}\n", json!({"type": "result", "ok": true, "data": data})),
            0,
        )
    }
    let agent = InProcess {
        calls: AtomicUsize::new(0),
        answer: echo,
    };
    let params = ops::agent::NoopParams(common::noop_params());
    let id = CorrelationId::parse("job-42.step-3").unwrap();
    let result = agent
        .run_correlated(
            &target(),
            id,
            &params,
            CallOptions::default(),
            mpsc::channel(1).0,
        )
        .await
        .unwrap();
    assert_eq!(result.correlation_id, "job-42.step-3");
    assert_eq!(result.echo, params.0);
}
