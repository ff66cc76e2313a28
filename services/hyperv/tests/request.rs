//! Requests: built and validated on the control-plane side, decoded on the agent side,
//! and the protocol error an agent answers for each kind of bad request.

mod common;

use aetherv_hyperv::ops::vm::VmCreateParams;
use aetherv_hyperv::*;
use serde_json::{Value, json};

fn create(min: u64, startup: u64, max: u64) -> VmCreateParams {
    VmCreateParams {
        name: "web-01".into(),
        cpu_count: 2,
        generation: Generation::Two,
        memory_startup_bytes: startup,
        dynamic_memory_enabled: true,
        memory_minimum_bytes: Some(min),
        memory_maximum_bytes: Some(max),
        secure_boot_enabled: Some(true),
        secure_boot_template: Some(SecureBootTemplate::MicrosoftWindows),
        notes: None,
        storage_class: "fast-ssd".into(),
    }
}

const GIB: u64 = 1 << 30;

#[test]
fn a_typed_request_goes_through_one_line_and_decodes_to_the_same_params() {
    let params = create(GIB, 2 * GIB, 4 * GIB);
    let id = CorrelationId::parse("job-17").unwrap();
    let request = AgentRequest::from_params(id.clone(), &params).unwrap();
    let line = request.to_json_line();
    assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
    let value: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value["protocol"], 1);
    assert_eq!(value["operation"], "vm.create");
    assert_eq!(value["correlation_id"], "job-17");
    validate_request(&value).unwrap();
    let (decoded, typed) = AgentRequest::decode(&line).unwrap();
    assert_eq!(decoded, request);
    assert_eq!(decoded.correlation_id(), &id);
    assert_eq!(typed, Params::VmCreate(params));
    // A BOM and CRLF are tolerated on the agent side.
    let (again, _) = AgentRequest::decode(&format!("\u{feff}{}\r\n", line.trim_end())).unwrap();
    assert_eq!(again, request);
}

#[test]
fn invalid_typed_params_are_refused_before_sending() {
    let error =
        AgentRequest::from_params(CorrelationId::random(), &create(4 * GIB, 2 * GIB, 8 * GIB))
            .unwrap_err();
    let RequestError::Invalid(SchemaError::Invalid { errors, .. }) = &error else {
        panic!("{error:?}");
    };
    assert_eq!(errors[0].pointer, "/memory_minimum_bytes");
}

fn answer(line: &str) -> AgentError {
    let error = AgentRequest::decode(line).unwrap_err().to_agent_error();
    // What the simulator writes must itself be valid.
    let value = serde_json::to_value(&error).unwrap();
    validate_against("error.schema.json", "error", &value).unwrap();
    error
}

#[test]
fn bad_requests_get_the_right_protocol_error() {
    let vm = common::VM_GUID;
    let error = answer("this is not json");
    assert_eq!(error.code(), AgentErrorCode::InvalidRequest);

    let error = answer(r#"{"protocol":2,"operation":"noop","correlation_id":"c","params":{}}"#);
    assert_eq!(
        error.details,
        ErrorDetails::UnsupportedProtocol(UnsupportedProtocolDetails {
            requested: Some(2),
            supported: vec![1]
        })
    );
    let error = answer(r#"{"operation":"noop","correlation_id":"c","params":{}}"#);
    assert_eq!(error.code(), AgentErrorCode::UnsupportedProtocol);

    let error =
        answer(r#"{"protocol":1,"operation":"vm.teleport","correlation_id":"c","params":{}}"#);
    let ErrorDetails::UnsupportedOperation(details) = &error.details else {
        panic!("{error}")
    };
    assert_eq!(details.operation, "vm.teleport");
    assert_eq!(details.supported.len(), Operation::ALL.len());

    let line = json!({"protocol": 1, "operation": "vm.power", "correlation_id": "c",
        "params": {"vm_id": vm, "action": "explode"}})
    .to_string();
    let error = answer(&line);
    let ErrorDetails::InvalidRequest(details) = &error.details else {
        panic!("{error}")
    };
    assert_eq!(details.errors[0].pointer, "/params/action");
    assert!(
        error.message.contains("/params/action"),
        "{}",
        error.message
    );

    let line =
        json!({"protocol": 1, "operation": "noop", "correlation_id": "bad id!", "params": {}})
            .to_string();
    let ErrorDetails::InvalidRequest(details) = answer(&line).details else {
        panic!()
    };
    assert_eq!(details.errors[0].pointer, "/correlation_id");

    let params = serde_json::to_value(create(4 * GIB, 2 * GIB, 8 * GIB)).unwrap();
    let line =
        json!({"protocol": 1, "operation": "vm.create", "correlation_id": "c", "params": params})
            .to_string();
    let ErrorDetails::InvalidRequest(details) = answer(&line).details else {
        panic!()
    };
    assert_eq!(details.errors[0].pointer, "/params/memory_minimum_bytes");
}
