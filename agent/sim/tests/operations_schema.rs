//! Every operation, on its success path and each error path, through the full handler
//! (bootstrap emulation, request validation, knobs, model, output): every stdout line
//! validates against `output-line.schema.json`, every ok result against the operation's
//! result schema, and the product's parser accepts the whole output with its exit code.

mod common;

use std::time::Duration;

use aetherv_hvsim::{FailNext, NewVm, SimHost};
use aetherv_hyperv::{AgentErrorCode, Generation, Operation, VmState};
use common::{Answer, agent_line, call, call_line, check, request_line};
use serde_json::{Value, json};

fn off_vm(host: &SimHost, name: &str, generation: Generation) -> String {
    let vm = host
        .add_vm(&NewVm {
            name: name.into(),
            cpu_count: 2,
            memory_startup_bytes: 2 << 30,
            generation,
            state: VmState::Off,
            notes: String::new(),
            guest_os_name: None,
        })
        .unwrap_or_else(|e| panic!("add {name}: {e}"));
    vm.id.to_string()
}

fn str_of<'a>(a: &'a Answer, key: &str) -> &'a str {
    a.data()[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key}"))
}

#[tokio::test]
async fn reads_and_protocol_errors() {
    let fleet = common::fleet(1, 5, 0).await;
    let host = &fleet.hosts()[0];
    let info = call(host, "agent.info", json!({})).await;
    assert_eq!(info.exit, 0);
    assert_eq!(
        str_of(&info, "agent_sha256"),
        aetherv_hyperv::AgentBundle::builtin().sha256()
    );
    assert_eq!(
        str_of(&info, "agent_version"),
        aetherv_hyperv::AgentBundle::builtin().version()
    );
    let noop = call(
        host,
        "noop",
        json!({"x": [1, "two"], "nested": {"a": null}}),
    )
    .await;
    assert_eq!(
        noop.data()["echo"],
        json!({"x": [1, "two"], "nested": {"a": null}})
    );
    assert_eq!(noop.data()["correlation_id"], "test-1");
    let inventory = call(host, "inventory.collect", json!({})).await;
    let vms = inventory.data()["vms"].as_array().map_or(0, Vec::len);
    assert_eq!(vms, 5);
    let first = inventory.data()["vms"][0]["id"].clone();
    let one = call(host, "inventory.collect", json!({"vm_ids": [first]})).await;
    assert_eq!(one.data()["vms"].as_array().map(Vec::len), Some(1));
    let resources = call(host, "host.resources", json!({})).await;
    assert_eq!(
        resources.data()["storage_classes"].as_array().map(Vec::len),
        Some(2)
    );

    let unsupported = call_line(
        host,
        "noop",
        r#"{"protocol":2,"operation":"noop","correlation_id":"a","params":{}}"#,
    )
    .await;
    assert_eq!(
        (unsupported.code(), unsupported.exit),
        ("UNSUPPORTED_PROTOCOL", 1)
    );
    let unknown = call_line(
        host,
        "noop",
        r#"{"protocol":1,"operation":"vm.explode","correlation_id":"a","params":{}}"#,
    )
    .await;
    assert_eq!(unknown.code(), "UNSUPPORTED_OPERATION");
    let not_json = call_line(host, "noop", "this is not json").await;
    assert_eq!(not_json.code(), "INVALID_REQUEST");
    let invalid = call(
        host,
        "vm.power",
        json!({"vm_id": "nope", "action": "start"}),
    )
    .await;
    let aetherv_hyperv::ResultLine::Error { error } = &invalid.result else {
        panic!("ok?")
    };
    let aetherv_hyperv::ErrorDetails::InvalidRequest(d) = &error.details else {
        panic!("details")
    };
    assert_eq!(
        d.errors[0].pointer, "/params/vm_id",
        "the error names the field"
    );

    // A script whose hash is not the pinned one: AGENT_INTEGRITY, nothing run.
    let b = common::bootstrap();
    let mut stdin = request_line("noop", json!({})).into_bytes();
    stdin.extend_from_slice(b"\n# a tampered agent\n");
    let ran = common::run_handler(host, b.command(), b.arguments(), Some(stdin), None).await;
    let a = check(Operation::Noop, &ran).unwrap_or_else(|v| panic!("{v}"));
    assert_eq!(a.code(), "AGENT_INTEGRITY");
    assert!(a.events.is_empty(), "nothing ran");
}

#[tokio::test]
async fn power_on_every_path() {
    let fleet = common::fleet(1, 0, 0).await;
    let host = &fleet.hosts()[0];
    let id = off_vm(host, "p1", Generation::Two);
    let power = |action: &str| json!({"vm_id": id, "action": action});
    for (action, from, to) in [
        ("start", "Off", "Running"),
        ("pause", "Running", "Paused"),
        ("resume", "Paused", "Running"),
        ("reset", "Running", "Running"),
        ("save", "Running", "Saved"),
        ("start", "Saved", "Running"),
        ("shutdown", "Running", "Off"),
        ("start", "Off", "Running"),
        ("stop", "Running", "Off"),
    ] {
        let a = call(host, "vm.power", power(action)).await;
        assert_eq!(
            (str_of(&a, "previous_state"), str_of(&a, "state")),
            (from, to),
            "{action}"
        );
        assert!(a.events.len() >= 3, "log lines stream before the result");
    }
    let refused = call(host, "vm.power", power("shutdown")).await;
    assert_eq!(refused.code(), "INVALID_STATE");
    let missing = call(
        host,
        "vm.power",
        json!({"vm_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "action": "start"}),
    )
    .await;
    assert_eq!(missing.code(), "VM_NOT_FOUND");

    let huge = host
        .add_vm(&NewVm {
            name: "huge".into(),
            cpu_count: 2,
            memory_startup_bytes: 8 << 40,
            generation: Generation::Two,
            state: VmState::Off,
            notes: String::new(),
            guest_os_name: None,
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let a = call(
        host,
        "vm.power",
        json!({"vm_id": huge.id, "action": "start"}),
    )
    .await;
    assert_eq!(a.code(), "INSUFFICIENT_RESOURCES");

    call(host, "vm.power", power("start")).await;
    host.set_guest_ignores_shutdown(id.parse().unwrap_or_else(|e| panic!("{e}")), true)
        .unwrap_or_else(|e| panic!("{e}"));
    let timeout = call(
        host,
        "vm.power",
        json!({"vm_id": id, "action": "shutdown", "shutdown_timeout_seconds": 5}),
    )
    .await;
    assert_eq!(timeout.code(), "TIMEOUT");
    let forced = call(host, "vm.power", json!({"vm_id": id, "action": "shutdown", "shutdown_timeout_seconds": 5, "turn_off_after_timeout": true})).await;
    assert_eq!(
        (
            str_of(&forced, "state"),
            forced.data()["turned_off_after_timeout"].as_bool()
        ),
        ("Off", Some(true))
    );

    // Ctrl+C while the guest is waited for: CANCELLED.
    call(host, "vm.power", power("start")).await;
    let line = request_line(
        "vm.power",
        json!({"vm_id": id, "action": "shutdown", "shutdown_timeout_seconds": 3600}),
    );
    let ran = agent_line(host, &line, Some(Duration::from_millis(200))).await;
    let a = check(Operation::VmPower, &ran).unwrap_or_else(|v| panic!("{v}"));
    assert_eq!(a.code(), "CANCELLED");
}

#[tokio::test]
async fn vm_lifecycle_on_every_path() {
    let fleet = common::fleet(1, 0, 0).await;
    let host = &fleet.hosts()[0];
    let create = |name: &str| {
        json!({
            "name": name, "cpu_count": 2, "generation": 2, "memory_startup_bytes": 2147483648u64,
            "dynamic_memory_enabled": true, "memory_minimum_bytes": 1073741824u64, "memory_maximum_bytes": 4294967296u64,
            "secure_boot_enabled": true, "secure_boot_template": "MicrosoftWindows", "storage_class": "fast-ssd", "notes": "n"
        })
    };
    let vm = call(host, "vm.create", create("app-01")).await;
    let id = str_of(&vm, "id").to_owned();
    assert_eq!(str_of(&vm, "state"), "Off");
    assert_eq!(
        call(host, "vm.create", create("APP-01")).await.code(),
        "ALREADY_EXISTS"
    );
    let mut bad_class = create("app-02");
    bad_class["storage_class"] = json!("nope");
    assert_eq!(call(host, "vm.create", bad_class).await.code(), "NOT_FOUND");
    let mut too_big = create("app-03");
    too_big["dynamic_memory_enabled"] = json!(false);
    too_big.as_object_mut().map(|o| {
        o.remove("memory_minimum_bytes");
        o.remove("memory_maximum_bytes")
    });
    too_big["memory_startup_bytes"] = json!(12u64 << 40);
    assert_eq!(
        call(host, "vm.create", too_big).await.code(),
        "INSUFFICIENT_RESOURCES"
    );
    let mut many_cpus = create("app-04");
    many_cpus["cpu_count"] = json!(240);
    assert_eq!(
        call(host, "vm.create", many_cpus).await.code(),
        "INVALID_REQUEST"
    );
    let mut missing = create("app-05");
    missing.as_object_mut().map(|o| o.remove("storage_class"));
    assert_eq!(
        call(host, "vm.create", missing).await.code(),
        "INVALID_REQUEST"
    );

    let updated = call(
        host,
        "vm.update",
        json!({"vm_id": id, "cpu_count": 4, "notes": "changed"}),
    )
    .await;
    assert_eq!(
        (
            updated.data()["cpu_count"].as_u64(),
            str_of(&updated, "notes")
        ),
        (Some(4), "changed")
    );
    assert_eq!(
        call(
            host,
            "vm.update",
            json!({"vm_id": id, "memory_minimum_bytes": 4294967296u64 * 2})
        )
        .await
        .code(),
        "INVALID_REQUEST"
    );
    call(host, "vm.power", json!({"vm_id": id, "action": "start"})).await;
    assert_eq!(
        call(host, "vm.update", json!({"vm_id": id, "cpu_count": 8}))
            .await
            .code(),
        "INVALID_STATE"
    );
    assert_eq!(
        call(
            host,
            "vm.update",
            json!({"vm_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "notes": ""})
        )
        .await
        .code(),
        "VM_NOT_FOUND"
    );

    assert_eq!(
        call(
            host,
            "vm.delete",
            json!({"vm_id": id, "force": false, "delete_disks": true})
        )
        .await
        .code(),
        "INVALID_STATE"
    );
    let deleted = call(
        host,
        "vm.delete",
        json!({"vm_id": id, "force": true, "delete_disks": true}),
    )
    .await;
    assert_eq!(str_of(&deleted, "name"), "app-01");
    assert!(
        host.vm(id.parse().unwrap_or_else(|e| panic!("{e}")))
            .is_none()
    );
}

#[tokio::test]
async fn disks_and_nics_on_every_path() {
    let fleet = common::fleet(1, 0, 0).await;
    let host = &fleet.hosts()[0];
    let id = off_vm(host, "d1", Generation::Two);
    let disk = |extra: Value| {
        let mut p = json!({"vm_id": id, "type": "Dynamic", "controller_type": "SCSI"});
        if let (Some(p), Some(e)) = (p.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        p
    };
    let clone = call(
        host,
        "disk.create",
        disk(json!({"image": "ubuntu-24.04", "storage_class": "bulk-storage"})),
    )
    .await;
    assert!(
        clone
            .events
            .iter()
            .any(|e| matches!(e, aetherv_hyperv::AgentEvent::Progress(_))),
        "a copy reports progress"
    );
    let empty = call(
        host,
        "disk.create",
        disk(json!({"size_bytes": 10737418240u64})),
    )
    .await;
    assert_eq!(
        call(host, "disk.create", disk(json!({"image": "nope"})))
            .await
            .code(),
        "NOT_FOUND"
    );
    assert_eq!(
        call(
            host,
            "disk.create",
            disk(json!({"image": "ubuntu-24.04", "size_bytes": 1073741824u64}))
        )
        .await
        .code(),
        "INVALID_REQUEST"
    );
    assert_eq!(
        call(
            host,
            "disk.create",
            disk(json!({"type": "Fixed", "size_bytes": 70368744177664u64}))
        )
        .await
        .code(),
        "INSUFFICIENT_RESOURCES"
    );
    let old = off_vm(host, "d-gen1", Generation::One);
    for _ in 0..4 {
        call(host, "disk.create", json!({"vm_id": old, "type": "Dynamic", "controller_type": "IDE", "size_bytes": 3145728})).await;
    }
    assert_eq!(call(host, "disk.create", json!({"vm_id": old, "type": "Dynamic", "controller_type": "IDE", "size_bytes": 3145728})).await.code(), "OPERATION_FAILED");

    let disk_id = str_of(&empty, "id").to_owned();
    let grown = call(
        host,
        "disk.resize",
        json!({"vm_id": id, "disk_id": disk_id, "size_bytes": 21474836480u64}),
    )
    .await;
    assert_eq!(grown.data()["capacity_bytes"].as_u64(), Some(20 << 30));
    assert_eq!(
        call(
            host,
            "disk.resize",
            json!({"vm_id": id, "disk_id": disk_id, "size_bytes": 3145728})
        )
        .await
        .code(),
        "INVALID_REQUEST"
    );
    let gone = call(
        host,
        "disk.delete",
        json!({"vm_id": id, "disk_id": disk_id, "delete_file": true}),
    )
    .await;
    assert_eq!(gone.data()["file_deleted"], json!(true));
    assert_eq!(
        call(
            host,
            "disk.delete",
            json!({"vm_id": id, "disk_id": disk_id, "delete_file": true})
        )
        .await
        .code(),
        "NOT_FOUND"
    );
    assert_eq!(
        call(
            host,
            "disk.resize",
            json!({"vm_id": id, "disk_id": disk_id, "size_bytes": 3145728})
        )
        .await
        .code(),
        "NOT_FOUND"
    );
    let _ = clone;

    // Ctrl+C during an image copy: CANCELLED, and nothing attached.
    let before = host
        .vm(id.parse().unwrap_or_else(|e| panic!("{e}")))
        .map(|v| v.disks.len());
    let slow = aetherv_hvsim::SimFleet::builder()
        .hosts(1)
        .vms_per_host(0)
        .clusters(0)
        .time_scale(1.0)
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let slow_host = &slow.hosts()[0];
    let slow_vm = off_vm(slow_host, "copy", Generation::Two);
    let line = request_line(
        "disk.create",
        json!({"vm_id": slow_vm, "image": "win2022-datacenter", "type": "Dynamic", "controller_type": "SCSI"}),
    );
    let ran = agent_line(slow_host, &line, Some(Duration::from_millis(300))).await;
    let a = check(Operation::DiskCreate, &ran).unwrap_or_else(|v| panic!("{v}"));
    assert_eq!(a.code(), "CANCELLED");
    assert!(
        !a.events
            .iter()
            .any(|e| matches!(e, aetherv_hyperv::AgentEvent::Progress(p) if p.percent == 100))
    );
    assert_eq!(
        slow_host
            .vm(slow_vm.parse().unwrap_or_else(|e| panic!("{e}")))
            .map(|v| v.disks.len()),
        Some(0)
    );
    assert_eq!(
        host.vm(id.parse().unwrap_or_else(|e| panic!("{e}")))
            .map(|v| v.disks.len()),
        before
    );

    let nic = call(
        host,
        "nic.create",
        json!({"vm_id": id, "network": "Production"}),
    )
    .await;
    assert_eq!(nic.data()["vlan_id"], json!(100));
    call(host, "nic.create", json!({"vm_id": id, "switch_name": "Private-Isolated", "mac_address": "02AABBCCDDEE", "name": "Backend"})).await;
    assert_eq!(
        call(host, "nic.create", json!({"vm_id": id, "network": "Nope"}))
            .await
            .code(),
        "NOT_FOUND"
    );
    assert_eq!(
        call(
            host,
            "nic.create",
            json!({"vm_id": id, "switch_name": "Nope"})
        )
        .await
        .code(),
        "NOT_FOUND"
    );
    let nic_id = str_of(&nic, "id").to_owned();
    let moved = call(
        host,
        "nic.update",
        json!({"vm_id": id, "nic_id": nic_id, "network": "Development"}),
    )
    .await;
    assert_eq!(moved.data()["network_name"], json!("Development"));
    call(host, "vm.power", json!({"vm_id": id, "action": "start"})).await;
    assert_eq!(
        call(
            host,
            "nic.update",
            json!({"vm_id": id, "nic_id": nic_id, "mac_address": "02AABBCCDDEF"})
        )
        .await
        .code(),
        "INVALID_STATE"
    );
    let old_running = off_vm(host, "n-gen1", Generation::One);
    call(
        host,
        "vm.power",
        json!({"vm_id": old_running, "action": "start"}),
    )
    .await;
    assert_eq!(
        call(
            host,
            "nic.create",
            json!({"vm_id": old_running, "network": "Production"})
        )
        .await
        .code(),
        "INVALID_STATE"
    );
    call(host, "nic.delete", json!({"vm_id": id, "nic_id": nic_id})).await;
    assert_eq!(
        call(host, "nic.delete", json!({"vm_id": id, "nic_id": nic_id}))
            .await
            .code(),
        "NOT_FOUND"
    );
    assert_eq!(
        call(
            host,
            "nic.update",
            json!({"vm_id": id, "nic_id": nic_id, "name": "x"})
        )
        .await
        .code(),
        "NOT_FOUND"
    );
}

#[tokio::test]
async fn every_injected_error_code_validates() {
    let fleet = common::fleet(1, 1, 0).await;
    let host = &fleet.hosts()[0];
    let vm = host.vms()[0].id.to_string();
    for code in AgentErrorCode::ALL {
        for (op, params) in [
            ("noop", json!({})),
            ("vm.power", json!({"vm_id": vm, "action": "stop"})),
        ] {
            host.fail_next(FailNext {
                count: 1,
                operation: None,
                code,
                message: format!("injected {}", code.as_str()),
            })
            .unwrap_or_else(|e| panic!("{e}"));
            let a = call(host, op, params).await;
            assert_eq!((a.code(), a.exit), (code.as_str(), 1));
        }
    }
}
