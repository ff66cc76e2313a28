//! Instances built from the Rust types validate against the hand-written schemas and
//! round-trip through the types; instances that break a rule are refused, with the
//! pointer of the field at fault.

mod common;

use aetherv_hyperv::ops::agent::{AgentInfoResult, NoopResult};
use aetherv_hyperv::ops::disk::DiskDeleteResult;
use aetherv_hyperv::ops::inventory::{InventoryCollectResult, InventoryWatchResult};
use aetherv_hyperv::ops::nic::NicDeleteResult;
use aetherv_hyperv::ops::vm::{VmDeleteResult, VmPowerResult};
use aetherv_hyperv::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn roundtrip<T: Serialize + DeserializeOwned>(value: &Value) -> Value {
    let typed: T = serde_json::from_value(value.clone()).unwrap();
    serde_json::to_value(typed).unwrap()
}

fn roundtrip_result(operation: Operation, value: &Value) -> Value {
    match operation {
        Operation::AgentInfo => roundtrip::<AgentInfoResult>(value),
        Operation::Noop => roundtrip::<NoopResult>(value),
        Operation::InventoryCollect => roundtrip::<InventoryCollectResult>(value),
        Operation::InventoryWatch => roundtrip::<InventoryWatchResult>(value),
        Operation::HostResources => roundtrip::<ResourceCatalogue>(value),
        Operation::VmPower => roundtrip::<VmPowerResult>(value),
        Operation::VmCreate | Operation::VmUpdate => roundtrip::<Vm>(value),
        Operation::VmDelete => roundtrip::<VmDeleteResult>(value),
        Operation::DiskCreate | Operation::DiskResize => roundtrip::<Disk>(value),
        Operation::DiskDelete => roundtrip::<DiskDeleteResult>(value),
        Operation::NicCreate | Operation::NicUpdate => roundtrip::<Nic>(value),
        Operation::NicDelete => roundtrip::<NicDeleteResult>(value),
    }
}

#[test]
fn every_params_instance_validates_and_round_trips() {
    let instances = common::params_instances();
    for operation in Operation::ALL {
        assert!(
            instances.iter().any(|(op, _, _)| op == operation),
            "no params instance for {operation}"
        );
    }
    for (operation, label, value) in instances {
        if let Err(e) = validate_params(operation, &value) {
            panic!("{operation} {label} params refused: {e}\n{value:#}");
        }
        let typed = Params::from_value(operation, value.clone()).unwrap();
        assert_eq!(typed.operation(), operation);
        let back = match typed {
            Params::AgentInfo(p) => serde_json::to_value(p),
            Params::Noop(p) => serde_json::to_value(p),
            Params::InventoryCollect(p) => serde_json::to_value(p),
            Params::InventoryWatch(p) => serde_json::to_value(p),
            Params::HostResources(p) => serde_json::to_value(p),
            Params::VmPower(p) => serde_json::to_value(p),
            Params::VmCreate(p) => serde_json::to_value(p),
            Params::VmUpdate(p) => serde_json::to_value(p),
            Params::VmDelete(p) => serde_json::to_value(p),
            Params::DiskCreate(p) => serde_json::to_value(p),
            Params::DiskResize(p) => serde_json::to_value(p),
            Params::DiskDelete(p) => serde_json::to_value(p),
            Params::NicCreate(p) => serde_json::to_value(p),
            Params::NicUpdate(p) => serde_json::to_value(p),
            Params::NicDelete(p) => serde_json::to_value(p),
        }
        .unwrap();
        assert_eq!(back, value, "{operation} {label} params did not round-trip");
    }
}

#[test]
fn every_result_instance_validates_and_round_trips() {
    let instances = common::result_instances();
    for operation in Operation::ALL {
        assert!(
            instances.iter().any(|(op, _, _)| op == operation),
            "no result instance for {operation}"
        );
    }
    for (operation, label, value) in instances {
        if let Err(e) = validate_result(operation, &value) {
            panic!("{operation} {label} result refused: {e}\n{value:#}");
        }
        assert_eq!(
            roundtrip_result(operation, &value),
            value,
            "{operation} {label} result did not round-trip"
        );
        let line = json!({"type": "result", "ok": true, "data": value});
        validate_output_line(&line).unwrap();
    }
}

#[test]
fn every_error_code_has_an_instance_that_validates() {
    let errors = common::agent_errors();
    let codes: Vec<AgentErrorCode> = errors.iter().map(AgentError::code).collect();
    assert_eq!(codes, AgentErrorCode::ALL);
    for error in errors {
        let value = serde_json::to_value(&error).unwrap();
        validate_against("error.schema.json", "error", &value)
            .unwrap_or_else(|e| panic!("{} refused: {e}", error.code()));
        let line = OutputLine::Result(ResultLine::Error {
            error: error.clone(),
        });
        let line_value = serde_json::to_value(&line).unwrap();
        validate_output_line(&line_value).unwrap();
        let back: OutputLine = serde_json::from_value(line_value).unwrap();
        assert_eq!(back, line);
    }
}

#[test]
fn details_of_the_wrong_code_are_refused() {
    let error = json!({
        "code": "INVALID_STATE",
        "message": "m",
        "details": {"vm_id": common::VM_GUID}
    });
    let refused = validate_against("error.schema.json", "error", &error).unwrap_err();
    assert!(
        refused
            .field_errors()
            .iter()
            .any(|e| e.pointer == "/details/state" && e.message == "is required"),
        "{refused}"
    );
    assert!(serde_json::from_value::<AgentError>(error).is_err());
    let unknown = json!({"code": "OOPS", "message": "m", "details": {}});
    assert!(validate_against("error.schema.json", "error", &unknown).is_err());
}

/// (operation, params, pointer expected among the errors)
fn invalid_params() -> Vec<(Operation, Value, &'static str)> {
    let vm = common::VM_GUID;
    let gib: u64 = 1 << 30;
    let create = |extra: Value| {
        let mut base = json!({
            "name": "web-01", "cpu_count": 2, "generation": 2,
            "memory_startup_bytes": 4 * gib, "dynamic_memory_enabled": false,
            "secure_boot_enabled": false, "storage_class": "fast-ssd"
        });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                base.as_object_mut().unwrap().remove(k);
            } else {
                base[k] = v.clone();
            }
        }
        base
    };
    let nic = format!("Microsoft:{}\\{}", vm.to_uppercase(), vm.to_uppercase());
    vec![
        (Operation::AgentInfo, json!({"x": 1}), "/x"),
        (Operation::VmPower, json!({"vm_id": vm}), "/action"),
        (
            Operation::VmPower,
            json!({"vm_id": vm.to_uppercase(), "action": "start"}),
            "/vm_id",
        ),
        (
            Operation::VmPower,
            json!({"vm_id": vm, "action": "hibernate"}),
            "/action",
        ),
        (
            Operation::VmPower,
            json!({"vm_id": vm, "action": "stop", "turn_off_after_timeout": true}),
            "/turn_off_after_timeout",
        ),
        (Operation::VmCreate, create(json!({"name": "a/b"})), "/name"),
        (
            Operation::VmCreate,
            create(json!({"name": "trailing."})),
            "/name",
        ),
        (
            Operation::VmCreate,
            create(json!({"cpu_count": 0})),
            "/cpu_count",
        ),
        (
            Operation::VmCreate,
            create(json!({"memory_startup_bytes": 4 * gib + 1})),
            "/memory_startup_bytes",
        ),
        (
            Operation::VmCreate,
            create(json!({"generation": 3})),
            "/generation",
        ),
        (
            Operation::VmCreate,
            create(json!({"storage_class": null})),
            "/storage_class",
        ),
        (
            Operation::VmCreate,
            create(json!({"dynamic_memory_enabled": true})),
            "/memory_minimum_bytes",
        ),
        (
            Operation::VmCreate,
            create(json!({"memory_minimum_bytes": gib})),
            "/memory_minimum_bytes",
        ),
        (
            Operation::VmCreate,
            create(
                json!({"dynamic_memory_enabled": true, "memory_minimum_bytes": 8 * gib, "memory_maximum_bytes": 16 * gib}),
            ),
            "/memory_minimum_bytes",
        ),
        (
            Operation::VmCreate,
            create(
                json!({"dynamic_memory_enabled": true, "memory_minimum_bytes": gib, "memory_maximum_bytes": 2 * gib}),
            ),
            "/memory_maximum_bytes",
        ),
        (
            Operation::VmCreate,
            create(json!({"generation": 1})),
            "/secure_boot_enabled",
        ),
        (
            Operation::VmCreate,
            create(json!({"secure_boot_enabled": true})),
            "/secure_boot_template",
        ),
        (
            Operation::VmCreate,
            create(json!({"secure_boot_template": "MicrosoftWindows"})),
            "/secure_boot_template",
        ),
        (Operation::VmUpdate, json!({"vm_id": vm}), ""),
        (
            Operation::VmUpdate,
            json!({"vm_id": vm, "memory_minimum_bytes": 4 * gib, "memory_startup_bytes": 2 * gib}),
            "/memory_minimum_bytes",
        ),
        (
            Operation::VmUpdate,
            json!({"vm_id": vm, "dynamic_memory_enabled": false, "memory_maximum_bytes": 4 * gib}),
            "/memory_maximum_bytes",
        ),
        (
            Operation::VmDelete,
            json!({"vm_id": vm, "force": true}),
            "/delete_disks",
        ),
        (
            Operation::DiskCreate,
            json!({"vm_id": vm, "type": "Dynamic", "controller_type": "SCSI"}),
            "",
        ),
        (
            Operation::DiskCreate,
            json!({"vm_id": vm, "size_bytes": 1000, "type": "Dynamic", "controller_type": "SCSI"}),
            "/size_bytes",
        ),
        (
            Operation::DiskCreate,
            json!({"vm_id": vm, "size_bytes": gib, "type": "Differencing", "controller_type": "SCSI"}),
            "/type",
        ),
        (
            Operation::DiskResize,
            json!({"vm_id": vm, "disk_id": "disk-1", "size_bytes": gib}),
            "/disk_id",
        ),
        (Operation::NicCreate, json!({"vm_id": vm}), ""),
        (
            Operation::NicCreate,
            json!({"vm_id": vm, "network": "Production", "switch_name": "External"}),
            "/switch_name",
        ),
        (
            Operation::NicCreate,
            json!({"vm_id": vm, "network": "Production", "vlan_id": 5}),
            "/vlan_id",
        ),
        (
            Operation::NicCreate,
            json!({"vm_id": vm, "switch_name": "S", "vlan_id": 4095}),
            "/vlan_id",
        ),
        (
            Operation::NicCreate,
            json!({"vm_id": vm, "vlan_id": 5}),
            "/switch_name",
        ),
        (
            Operation::NicCreate,
            json!({"vm_id": vm, "switch_name": "S", "mac_address": "01155D0A0B0C"}),
            "/mac_address",
        ),
        (
            Operation::NicCreate,
            json!({"vm_id": vm, "switch_name": "S", "mac_address": "000000000000"}),
            "/mac_address",
        ),
        (
            Operation::NicUpdate,
            json!({"vm_id": vm, "nic_id": nic}),
            "",
        ),
        (
            Operation::NicUpdate,
            json!({"vm_id": vm, "nic_id": nic, "network": "P", "vlan_id": null}),
            "/vlan_id",
        ),
        (
            Operation::NicDelete,
            json!({"vm_id": vm, "nic_id": "nic"}),
            "/nic_id",
        ),
    ]
}

#[test]
fn invalid_params_are_refused_naming_the_field() {
    for (operation, params, pointer) in invalid_params() {
        match validate_params(operation, &params) {
            Ok(()) => panic!("{operation} accepted {params}"),
            Err(SchemaError::Invalid { errors, .. }) => assert!(
                errors.iter().any(|e| e.pointer == pointer),
                "{operation} {params}: expected an error at {pointer:?}, got {errors:?}"
            ),
            Err(other) => panic!("{other}"),
        }
    }
}

#[test]
fn missing_alternatives_are_named() {
    let vm = common::VM_GUID;
    let cases = [
        (
            Operation::NicCreate,
            json!({"vm_id": vm}),
            "needs one of: network, switch_name",
        ),
        (
            Operation::DiskCreate,
            json!({"vm_id": vm, "type": "Dynamic", "controller_type": "SCSI"}),
            "needs one of: image, size_bytes",
        ),
        (
            Operation::VmUpdate,
            json!({"vm_id": vm}),
            "needs one of: cpu_count, memory_startup_bytes, dynamic_memory_enabled, memory_minimum_bytes, memory_maximum_bytes, notes",
        ),
    ];
    for (operation, params, message) in cases {
        let error = validate_params(operation, &params).unwrap_err();
        assert_eq!(
            error.field_errors(),
            [FieldError {
                pointer: String::new(),
                message: message.to_owned()
            }],
            "{operation}"
        );
    }
}

#[test]
fn validation_messages_do_not_repeat_values() {
    let secret = "hunter2-very-secret";
    let params = json!({"vm_id": common::VM_GUID, "action": secret});
    let error = validate_params(Operation::VmPower, &params).unwrap_err();
    assert!(!error.to_string().contains(secret), "{error}");
    let params = json!({"name": secret, "cpu_count": secret});
    let error = validate_params(Operation::VmCreate, &params).unwrap_err();
    assert!(!error.to_string().contains(secret), "{error}");
}

#[test]
fn results_that_break_the_schema_are_refused() {
    let mut vm = serde_json::to_value(common::full_vm()).unwrap();
    vm["memory_minimum_bytes"] = Value::Null;
    let error = validate_result(Operation::VmCreate, &vm).unwrap_err();
    assert!(
        error
            .field_errors()
            .iter()
            .any(|e| e.pointer == "/memory_minimum_bytes"),
        "{error}"
    );
    let mut vm = serde_json::to_value(common::minimal_vm()).unwrap();
    vm["state"] = json!(2);
    vm["creation_time"] = json!("/Date(1700000000000)/");
    vm["nics"] = json!({});
    let error = validate_result(Operation::VmCreate, &vm).unwrap_err();
    let pointers: Vec<&str> = error
        .field_errors()
        .iter()
        .map(|e| e.pointer.as_str())
        .collect();
    for expected in ["/state", "/creation_time", "/nics"] {
        assert!(
            pointers.contains(&expected),
            "{expected} not in {pointers:?}"
        );
    }
}
