//! Spec validation: every schema's `examples` are accepted; every rule refuses what it
//! should, naming the JSON pointer of the field and the rule; secrets are masked in the
//! redacted spec; the schemas hold what the UI needs (a title and a description on every
//! property) and their `default`s are the service's.

use aetherv_jobs::spec::schema::{SCHEMA_FILES, schema_file};
use aetherv_jobs::spec::secrets::secret_pointers;
use aetherv_jobs::spec::{JobType, Spec, Violation, parse};
use serde_json::{Value, json};

const GIB: u64 = 1 << 30;
const VM: &str = "3f2a9c1e-0b4d-4e8f-9a51-6c2d7e8f9a01";
const DISK: &str =
    "Microsoft:3F2A9C1E-0B4D-4E8F-9A51-6C2D7E8F9A01\\83F8638B-8DCA-4152-9EDA-2CA8B33039B4\\0\\1\\D";
const NIC: &str =
    "Microsoft:3F2A9C1E-0B4D-4E8F-9A51-6C2D7E8F9A01\\5B3B0E4C-4B87-4F4C-9C59-0E4D7C1E2F3A";

fn document(file: &str) -> Value {
    let Some((_, text)) = SCHEMA_FILES.iter().find(|(name, _)| *name == file) else {
        panic!("no schema file {file}")
    };
    match serde_json::from_str(text) {
        Ok(value) => value,
        Err(error) => panic!("{file}: {error}"),
    }
}

fn violations(job_type: JobType, spec: Value) -> Vec<Violation> {
    match parse(job_type, &spec.to_string()) {
        Ok(_) => panic!("{} accepted {spec}", job_type.as_str()),
        Err(violations) => violations,
    }
}

/// The spec is refused with (at least) a violation at `pointer` of `rule`.
fn refused(job_type: JobType, spec: Value, pointer: &str, rule: &str) {
    let found = violations(job_type, spec.clone());
    assert!(
        found.iter().any(|v| v.pointer == pointer && v.rule == rule),
        "{} {spec}: expected {pointer} ({rule}), got {found:#?}",
        job_type.as_str()
    );
    for violation in &found {
        assert!(!violation.description.is_empty(), "{violation:?}");
    }
}

fn accepted(job_type: JobType, spec: Value) -> Spec {
    match parse(job_type, &spec.to_string()) {
        Ok(parsed) => parsed.spec,
        Err(violations) => panic!("{} refused {spec}: {violations:#?}", job_type.as_str()),
    }
}

fn vm(extra: Value) -> Value {
    let mut vm = json!({ "name": "web-01", "storage_class": "fast-ssd" });
    if let (Some(vm), Some(extra)) = (vm.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            vm.insert(k.clone(), v.clone());
        }
    }
    vm
}

fn create(extra: Value) -> Value {
    json!({ "host": "hv01.lab.local", "vm": vm(extra) })
}

#[test]
fn every_example_of_every_schema_is_accepted() {
    for job_type in JobType::ALL {
        let schema = document(&schema_file(job_type));
        let examples = schema["examples"].as_array().cloned().unwrap_or_default();
        assert!(
            !examples.is_empty(),
            "{} has no examples",
            job_type.as_str()
        );
        for example in examples {
            accepted(job_type, example);
        }
    }
}

#[test]
fn every_property_has_a_title_and_a_description() {
    fn check(file: &str, at: &str, schema: &Value, defs: &Value) {
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            return;
        };
        for (name, property) in properties {
            let resolved = property
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.split_once("#/$defs/"))
                .and_then(|(_, def)| defs["$defs"].get(def));
            for key in ["title", "description"] {
                let has =
                    property.get(key).is_some() || resolved.is_some_and(|r| r.get(key).is_some());
                assert!(has, "{file}{at}/{name} has no {key}");
            }
            check(file, &format!("{at}/{name}"), property, defs);
            if let Some(target) = resolved {
                check(file, &format!("{at}/{name}"), target, defs);
            }
        }
    }
    let defs = document("defs.schema.json");
    for (file, _) in SCHEMA_FILES {
        let schema = document(file);
        for key in ["title", "description"] {
            assert!(schema.get(key).is_some(), "{file} has no {key}");
        }
        check(file, "", &schema, &defs);
    }
}

#[test]
fn schema_defaults_are_the_services_defaults() {
    let Spec::ManagedDeployment {
        vm,
        disks,
        nics,
        start,
        ..
    } = accepted(
        JobType::ManagedDeployment,
        json!({ "host": "hv01", "vm": vm(json!({})), "disks": [{ "size_bytes": GIB }] }),
    )
    else {
        panic!("not a deployment")
    };
    let defs = document("defs.schema.json");
    let vm_props = &defs["$defs"]["vm"]["properties"];
    assert_eq!(json!(vm.cpu_count), vm_props["cpu_count"]["default"]);
    assert_eq!(
        json!(vm.memory_startup_bytes),
        vm_props["memory_startup_bytes"]["default"]
    );
    assert_eq!(
        json!(vm.dynamic_memory_enabled),
        vm_props["dynamic_memory_enabled"]["default"]
    );
    assert_eq!(
        json!(vm.generation.number()),
        vm_props["generation"]["default"]
    );
    assert_eq!(
        json!(vm.secure_boot_enabled),
        vm_props["secure_boot_enabled"]["default"]
    );
    let disk_props = &defs["$defs"]["disk"]["properties"];
    assert_eq!(json!(disks[0].disk_type), disk_props["type"]["default"]);
    assert_eq!(
        json!(disks[0].controller_type),
        disk_props["controller_type"]["default"]
    );
    let deployment = document("managed_deployment.schema.json");
    assert_eq!(json!(start), deployment["properties"]["start"]["default"]);
    assert!(nics.is_empty());
    let Spec::DeleteDisk { delete_file, .. } = accepted(
        JobType::DeleteDisk,
        json!({ "host": "hv01", "vm_id": VM, "disk_id": DISK }),
    ) else {
        panic!("not a delete_disk")
    };
    assert_eq!(
        json!(delete_file),
        document("delete_disk.schema.json")["properties"]["delete_file"]["default"]
    );
    let Spec::Power {
        shutdown_timeout_seconds,
        turn_off_after_timeout,
        ..
    } = accepted(JobType::ShutdownVm, json!({ "host": "hv01", "vm_id": VM }))
    else {
        panic!("not a power spec")
    };
    let shutdown = document("shutdown_vm.schema.json");
    assert_eq!(
        json!(shutdown_timeout_seconds),
        shutdown["properties"]["timeout_seconds"]["default"]
    );
    assert_eq!(
        json!(turn_off_after_timeout),
        shutdown["properties"]["turn_off_after_timeout"]["default"]
    );
}

#[test]
fn the_spec_must_be_a_json_object_of_known_fields() {
    let found = match parse(JobType::StartVm, "{\"host\": ") {
        Ok(_) => panic!("broken json accepted"),
        Err(found) => found,
    };
    assert_eq!(
        (found[0].pointer.as_str(), found[0].rule.as_str()),
        ("", "json")
    );
    refused(JobType::StartVm, json!([]), "", "type");
    refused(
        JobType::StartVm,
        json!({ "host": "hv01" }),
        "/vm_id",
        "required",
    );
    refused(
        JobType::StartVm,
        json!({ "vm_id": VM }),
        "/host",
        "required",
    );
    refused(
        JobType::StartVm,
        json!({ "host": "hv01", "vm_id": VM, "force": true }),
        "/force",
        "additionalProperties",
    );
    refused(
        JobType::StartVm,
        json!({ "host": "hv_01", "vm_id": VM }),
        "/host",
        "pattern",
    );
    refused(
        JobType::StartVm,
        json!({ "host": "hv01", "vm_id": "web-01" }),
        "/vm_id",
        "pattern",
    );
    refused(
        JobType::CreateVm,
        json!({ "host": "hv01" }),
        "/vm",
        "required",
    );
}

#[test]
fn vm_rules() {
    let ct = JobType::CreateVm;
    refused(
        ct,
        json!({ "host": "hv01", "vm": { "storage_class": "fast" } }),
        "/vm/name",
        "required",
    );
    refused(
        ct,
        json!({ "host": "hv01", "vm": { "name": "web-01" } }),
        "/vm/storage_class",
        "required",
    );
    for bad in ["", " web", "web.", "web/01", "a:b", "x*", "tab\there"] {
        refused(
            ct,
            create(json!({ "name": bad })),
            "/vm/name",
            if bad.is_empty() {
                "minLength"
            } else {
                "pattern"
            },
        );
    }
    refused(
        ct,
        create(json!({ "cpu_count": 0 })),
        "/vm/cpu_count",
        "minimum",
    );
    refused(
        ct,
        create(json!({ "cpu_count": 241 })),
        "/vm/cpu_count",
        "maximum",
    );
    refused(
        ct,
        create(json!({ "memory_startup_bytes": 16 << 20 })),
        "/vm/memory_startup_bytes",
        "minimum",
    );
    refused(
        ct,
        create(json!({ "memory_startup_bytes": GIB + 1 })),
        "/vm/memory_startup_bytes",
        "multipleOf",
    );
    refused(
        ct,
        create(json!({ "generation": 3 })),
        "/vm/generation",
        "enum",
    );
    refused(
        ct,
        create(json!({ "storage_class": "fast ssd" })),
        "/vm/storage_class",
        "pattern",
    );
    refused(
        ct,
        create(json!({ "notes": "x".repeat(4097) })),
        "/vm/notes",
        "maxLength",
    );
    refused(
        ct,
        create(json!({ "os_family": "macos" })),
        "/vm/os_family",
        "enum",
    );
    refused(
        ct,
        create(json!({ "secure_boot_template": "Nope" })),
        "/vm/secure_boot_template",
        "enum",
    );
    // boot_disk_size_bytes needs an image; it is a disk size.
    refused(
        ct,
        create(json!({ "boot_disk_size_bytes": 64 * GIB })),
        "/vm/image",
        "dependentRequired",
    );
    refused(
        ct,
        create(json!({ "image": "ubuntu", "boot_disk_size_bytes": GIB + 1 })),
        "/vm/boot_disk_size_bytes",
        "multipleOf",
    );
}

#[test]
fn dynamic_memory_rules() {
    let ct = JobType::CreateVm;
    // With dynamic memory, minimum and maximum are required …
    refused(
        ct,
        create(json!({ "dynamic_memory_enabled": true })),
        "/vm/memory_minimum_bytes",
        "required",
    );
    refused(
        ct,
        create(json!({ "dynamic_memory_enabled": true })),
        "/vm/memory_maximum_bytes",
        "required",
    );
    // … and refused without it.
    refused(
        ct,
        create(json!({ "memory_minimum_bytes": GIB })),
        "/vm/memory_minimum_bytes",
        "else",
    );
    refused(
        ct,
        create(json!({ "dynamic_memory_enabled": false, "memory_maximum_bytes": 8 * GIB })),
        "/vm/memory_maximum_bytes",
        "else",
    );
    // minimum <= startup <= maximum.
    let order = |min: u64, startup: u64, max: u64| {
        create(json!({
            "dynamic_memory_enabled": true,
            "memory_minimum_bytes": min * GIB,
            "memory_startup_bytes": startup * GIB,
            "memory_maximum_bytes": max * GIB
        }))
    };
    refused(
        ct,
        order(4, 2, 8),
        "/vm/memory_minimum_bytes",
        "memory_order",
    );
    refused(
        ct,
        order(1, 8, 4),
        "/vm/memory_maximum_bytes",
        "memory_order",
    );
    accepted(ct, order(1, 2, 8));
    accepted(ct, order(2, 2, 2));
    // update_vm: over the values given.
    let ut = JobType::UpdateVm;
    let update = |extra: Value| {
        let mut spec = json!({ "host": "hv01", "vm_id": VM });
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        spec
    };
    refused(
        ut,
        update(json!({ "memory_minimum_bytes": 4 * GIB, "memory_maximum_bytes": 2 * GIB })),
        "/memory_maximum_bytes",
        "memory_order",
    );
    refused(
        ut,
        update(json!({ "memory_minimum_bytes": 4 * GIB, "memory_startup_bytes": 2 * GIB })),
        "/memory_minimum_bytes",
        "memory_order",
    );
    refused(
        ut,
        update(json!({ "dynamic_memory_enabled": false, "memory_minimum_bytes": GIB })),
        "/memory_minimum_bytes",
        "then",
    );
    refused(ut, update(json!({})), "", "anyOf");
    accepted(ut, update(json!({ "notes": "" })));
}

#[test]
fn generation_rules() {
    let ct = JobType::CreateVm;
    // Generation 1: at most 64 processors and 1 TiB, no Secure Boot.
    refused(
        ct,
        create(json!({ "generation": 1, "cpu_count": 65 })),
        "/vm/cpu_count",
        "maximum",
    );
    refused(
        ct,
        create(json!({ "generation": 1, "memory_startup_bytes": 2048 * GIB })),
        "/vm/memory_startup_bytes",
        "maximum",
    );
    refused(
        ct,
        create(json!({ "generation": 1, "secure_boot_enabled": true })),
        "/vm/secure_boot_enabled",
        "then",
    );
    refused(
        ct,
        create(json!({ "generation": 1, "secure_boot_template": "MicrosoftWindows" })),
        "/vm/secure_boot_template",
        "then",
    );
    accepted(ct, create(json!({ "generation": 1, "cpu_count": 64 })));
    accepted(ct, create(json!({ "cpu_count": 240 })));
    // No template with Secure Boot off.
    refused(
        ct,
        create(json!({ "secure_boot_enabled": false, "secure_boot_template": "MicrosoftWindows" })),
        "/vm/secure_boot_template",
        "then",
    );
    // A deployment: generation 2 takes no IDE disk; generation 1 has four IDE locations.
    let md = JobType::ManagedDeployment;
    refused(
        md,
        json!({ "host": "hv01", "vm": vm(json!({})), "disks": [{ "size_bytes": GIB, "controller_type": "IDE" }] }),
        "/disks/0/controller_type",
        "not",
    );
    let ide = json!({ "size_bytes": GIB, "controller_type": "IDE" });
    accepted(
        md,
        json!({ "host": "hv01", "vm": vm(json!({ "generation": 1 })), "disks": [ide.clone(), ide.clone(), ide.clone(), ide.clone()] }),
    );
    refused(
        md,
        json!({ "host": "hv01", "vm": vm(json!({ "generation": 1, "image": "win2019" })), "disks": [ide.clone(), ide.clone(), ide.clone(), ide] }),
        "/disks",
        "ide_locations",
    );
}

#[test]
fn disk_rules() {
    let cd = JobType::CreateDisk;
    let disk = |disk: Value| json!({ "host": "hv01", "vm_id": VM, "disk": disk });
    // An image or a size.
    refused(cd, disk(json!({})), "/disk", "anyOf");
    refused(
        cd,
        disk(json!({ "size_bytes": 2 << 20 })),
        "/disk/size_bytes",
        "minimum",
    );
    refused(
        cd,
        disk(json!({ "size_bytes": (64u64 << 40) + (1 << 20) })),
        "/disk/size_bytes",
        "maximum",
    );
    refused(
        cd,
        disk(json!({ "size_bytes": GIB + 512 })),
        "/disk/size_bytes",
        "multipleOf",
    );
    refused(
        cd,
        disk(json!({ "size_bytes": GIB, "type": "Differencing" })),
        "/disk/type",
        "enum",
    );
    refused(
        cd,
        disk(json!({ "size_bytes": GIB, "controller_type": "SATA" })),
        "/disk/controller_type",
        "enum",
    );
    accepted(
        cd,
        disk(json!({ "image": "ubuntu-24.04", "size_bytes": 64 * GIB })),
    );
    accepted(cd, disk(json!({ "image": "ubuntu-24.04" })));
    let rd = JobType::ResizeDisk;
    refused(
        rd,
        json!({ "host": "hv01", "vm_id": VM, "disk_id": "disk-1", "size_bytes": GIB }),
        "/disk_id",
        "pattern",
    );
    refused(
        rd,
        json!({ "host": "hv01", "vm_id": VM, "disk_id": DISK }),
        "/size_bytes",
        "required",
    );
}

#[test]
fn nic_rules() {
    let cn = JobType::CreateNic;
    let nic = |nic: Value| json!({ "host": "hv01", "vm_id": VM, "nic": nic });
    refused(cn, nic(json!({})), "/nic", "anyOf");
    refused(
        cn,
        nic(json!({ "network": "Production", "switch_name": "External" })),
        "/nic/switch_name",
        "dependentSchemas",
    );
    refused(
        cn,
        nic(json!({ "network": "Production", "vlan_id": 10 })),
        "/nic/vlan_id",
        "dependentSchemas",
    );
    refused(
        cn,
        nic(json!({ "switch_name": "External", "vlan_id": 0 })),
        "/nic/vlan_id",
        "minimum",
    );
    refused(
        cn,
        nic(json!({ "switch_name": "External", "vlan_id": 4095 })),
        "/nic/vlan_id",
        "maximum",
    );
    for bad in [
        "00155D0A0B0",
        "00:15:5D:0A:0B",
        "01:15:5D:0A:0B:0C",
        "00-15:5D-0A:0B-0C",
        "GG155D0A0B0C",
    ] {
        refused(
            cn,
            nic(json!({ "network": "Production", "mac_address": bad })),
            "/nic/mac_address",
            "pattern",
        );
    }
    refused(
        cn,
        nic(json!({ "network": "Production", "mac_address": "00:00:00:00:00:00" })),
        "/nic/mac_address",
        "not",
    );
    for good in ["00155D0A0B0C", "00:15:5d:0a:0b:0c", "00-15-5D-0A-0B-0C"] {
        accepted(
            cn,
            nic(json!({ "network": "Production", "mac_address": good })),
        );
    }
    accepted(
        cn,
        nic(json!({ "switch_name": "External-Switch", "vlan_id": 4094 })),
    );
    let un = JobType::UpdateNic;
    let update = |extra: Value| {
        let mut spec = json!({ "host": "hv01", "vm_id": VM, "nic_id": NIC });
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        spec
    };
    refused(un, update(json!({})), "", "anyOf");
    refused(
        un,
        update(json!({ "network": "Production", "vlan_id": 5 })),
        "/vlan_id",
        "dependentSchemas",
    );
    refused(un, update(json!({ "vlan_id": 5000 })), "/vlan_id", "anyOf");
    accepted(un, update(json!({ "vlan_id": null })));
    accepted(un, update(json!({ "mac_address": null })));
}

#[test]
fn power_and_delete_rules() {
    refused(
        JobType::ShutdownVm,
        json!({ "host": "hv01", "vm_id": VM, "timeout_seconds": 0 }),
        "/timeout_seconds",
        "minimum",
    );
    refused(
        JobType::ShutdownVm,
        json!({ "host": "hv01", "vm_id": VM, "timeout_seconds": 3601 }),
        "/timeout_seconds",
        "maximum",
    );
    refused(
        JobType::StopVm,
        json!({ "host": "hv01", "vm_id": VM, "timeout_seconds": 30 }),
        "/timeout_seconds",
        "additionalProperties",
    );
    refused(
        JobType::DeleteVm,
        json!({ "host": "hv01", "vm_id": VM, "force": "yes" }),
        "/force",
        "type",
    );
    let Spec::DeleteVm {
        force,
        delete_disks,
        ..
    } = accepted(
        JobType::DeleteVm,
        json!({ "host": "HV01.Lab.Local", "vm_id": VM.to_uppercase() }),
    )
    else {
        panic!("not a delete")
    };
    assert!(!force && !delete_disks, "both default to false");
}

#[test]
fn secrets_are_masked_in_the_redacted_spec_and_scrubbed_from_text() {
    assert_eq!(secret_pointers(JobType::Noop), ["/secret"]);
    assert!(secret_pointers(JobType::ManagedDeployment).is_empty());
    let parsed = match parse(
        JobType::Noop,
        &json!({ "host": "hv01", "echo": { "n": 1 }, "secret": "s3cr\"et-value" }).to_string(),
    ) {
        Ok(parsed) => parsed,
        Err(violations) => panic!("{violations:?}"),
    };
    assert_eq!(parsed.redacted["secret"], json!(aetherv_runtime::MASK));
    assert_eq!(parsed.redacted["echo"], json!({ "n": 1 }));
    let raw = "agent said s3cr\"et-value and {\"secret\":\"s3cr\\\"et-value\"}";
    let scrubbed = parsed.scrubber.scrub(raw);
    assert!(!scrubbed.contains("s3cr"), "{scrubbed}");
    let value = parsed
        .scrubber
        .scrub_value(&json!({ "echo": { "secret": "s3cr\"et-value" } }));
    assert_eq!(value["echo"]["secret"], json!(aetherv_runtime::MASK));
    // The value is never in a violation's description.
    let found = violations(JobType::Noop, json!({ "host": "hv01", "secret": 42 }));
    assert!(
        found.iter().all(|v| !v.description.contains("42")),
        "{found:?}"
    );
}
