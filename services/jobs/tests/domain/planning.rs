//! Domain tests (no I/O) of planning and the pre-checks: what steps each job type expands
//! into, with which params, category and weight; what the checks against inventory and
//! the catalogue refuse, naming the field, the rule and the valid values.

use crate::support::domain::{GIB, Harness, disk_id, host, nic_id, vm, vm_id};
use aetherv_hyperv::{Operation, VmState};
use aetherv_jobs::domain::facts::HostStatus;
use aetherv_jobs::domain::plan::{Category, StepKind, plan};
use aetherv_jobs::spec::{JobType, parse};
use aetherv_proto::common::v1::FieldViolation;
use aetherv_runtime::{ApiError, ErrorCode};
use serde_json::{Value, json};

fn steps(job_type: JobType, spec: Value) -> Vec<(Operation, Category, bool, String)> {
    let parsed = match parse(job_type, &spec.to_string()) {
        Ok(parsed) => parsed,
        Err(violations) => panic!("{violations:?}"),
    };
    plan(&parsed.spec, aetherv_hyperv::OsFamily::Linux)
        .into_iter()
        .map(|s| {
            (
                s.kind.operation(),
                s.kind.category(),
                s.kind.is_heavy(),
                s.name,
            )
        })
        .collect()
}

fn refusal(result: Result<aetherv_jobs::domain::Job, ApiError>) -> ApiError {
    match result {
        Ok(job) => panic!("accepted: {job:#?}"),
        Err(error) => error,
    }
}

fn violation<'a>(error: &'a ApiError, field: &str) -> &'a FieldViolation {
    match error.violations.iter().find(|v| v.field == field) {
        Some(v) => v,
        None => panic!("no violation at {field}: {error:#?}"),
    }
}

#[test]
fn a_deployment_is_one_plan_of_create_disks_nics_start() {
    let plan = steps(
        JobType::ManagedDeployment,
        json!({
            "host": "hv01",
            "vm": { "name": "db-01", "storage_class": "fast-ssd", "image": "ubuntu-24.04", "boot_disk_size_bytes": 64 * GIB },
            "disks": [{ "size_bytes": 100 * GIB }, { "image": "win2022" }],
            "nics": [{ "network": "Production" }, { "switch_name": "External-Switch", "vlan_id": 7 }],
        }),
    );
    let shape: Vec<_> = plan
        .iter()
        .map(|(op, cat, heavy, _)| (*op, *cat, *heavy))
        .collect();
    assert_eq!(
        shape,
        [
            (Operation::VmCreate, Category::Control, false),
            (Operation::DiskCreate, Category::Io, true),
            (Operation::DiskCreate, Category::Io, true),
            (Operation::DiskCreate, Category::Io, true),
            (Operation::NicCreate, Category::Control, false),
            (Operation::NicCreate, Category::Control, false),
            (Operation::VmPower, Category::Control, false),
        ]
    );
    let names: Vec<&str> = plan.iter().map(|(_, _, _, name)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "create vm db-01",
            "clone boot disk (ubuntu-24.04, grow to 64 GiB)",
            "create disk 1 (100 GiB empty)",
            "create disk 2 (clone win2022)",
            "add network adapter 1 (Production)",
            "add network adapter 2 (External-Switch, vlan 7)",
            "start vm db-01",
        ]
    );
    let no_start = steps(
        JobType::ManagedDeployment,
        json!({ "host": "hv01", "vm": { "name": "x", "storage_class": "fast-ssd" }, "start": false }),
    );
    assert_eq!(no_start.len(), 1, "{no_start:?}");
}

#[test]
fn every_other_type_is_one_step_of_its_operation() {
    let vm = "00000000-0000-4000-8000-000000000001";
    let disk = disk_id(vm_id(1), 0);
    let nic = nic_id(vm_id(1), 1);
    let cases = [
        (
            JobType::StartVm,
            json!({ "host": "hv01", "vm_id": vm }),
            Operation::VmPower,
            false,
        ),
        (
            JobType::ShutdownVm,
            json!({ "host": "hv01", "vm_id": vm }),
            Operation::VmPower,
            false,
        ),
        (
            JobType::UpdateVm,
            json!({ "host": "hv01", "vm_id": vm, "notes": "x" }),
            Operation::VmUpdate,
            false,
        ),
        (
            JobType::DeleteVm,
            json!({ "host": "hv01", "vm_id": vm }),
            Operation::VmDelete,
            false,
        ),
        (
            JobType::CreateDisk,
            json!({ "host": "hv01", "vm_id": vm, "disk": { "size_bytes": GIB } }),
            Operation::DiskCreate,
            true,
        ),
        (
            JobType::ResizeDisk,
            json!({ "host": "hv01", "vm_id": vm, "disk_id": disk, "size_bytes": 2 * GIB }),
            Operation::DiskResize,
            true,
        ),
        (
            JobType::DeleteDisk,
            json!({ "host": "hv01", "vm_id": vm, "disk_id": disk }),
            Operation::DiskDelete,
            true,
        ),
        (
            JobType::CreateNic,
            json!({ "host": "hv01", "vm_id": vm, "nic": { "network": "Production" } }),
            Operation::NicCreate,
            false,
        ),
        (
            JobType::UpdateNic,
            json!({ "host": "hv01", "vm_id": vm, "nic_id": nic, "vlan_id": null }),
            Operation::NicUpdate,
            false,
        ),
        (
            JobType::DeleteNic,
            json!({ "host": "hv01", "vm_id": vm, "nic_id": nic }),
            Operation::NicDelete,
            false,
        ),
        (
            JobType::Noop,
            json!({ "host": "hv01" }),
            Operation::Noop,
            false,
        ),
    ];
    for (job_type, spec, operation, heavy) in cases {
        let plan = steps(job_type, spec);
        assert_eq!(plan.len(), 1, "{}", job_type.as_str());
        assert_eq!(
            (plan[0].0, plan[0].2),
            (operation, heavy),
            "{}",
            job_type.as_str()
        );
    }
}

#[test]
fn params_come_from_the_spec_and_the_context() {
    let parsed = match parse(
        JobType::ManagedDeployment,
        &json!({
            "host": "hv01",
            "vm": { "name": "g1", "generation": 1, "storage_class": "bulk", "image": "win2022",
                    "dynamic_memory_enabled": true, "memory_minimum_bytes": GIB, "memory_maximum_bytes": 8 * GIB },
            "nics": [{ "switch_name": "External-Switch", "mac_address": "00-15-5d-aa-bb-cc" }],
            "start": false
        })
        .to_string(),
    ) {
        Ok(parsed) => parsed,
        Err(violations) => panic!("{violations:?}"),
    };
    let plan = plan(&parsed.spec, aetherv_hyperv::OsFamily::Windows);
    let context = aetherv_jobs::domain::plan::Context { vm_id: None };
    let create = match plan[0].kind.params(&context) {
        Ok(params) => params,
        Err(error) => panic!("{error:?}"),
    };
    assert_eq!(create["generation"], json!(1));
    assert_eq!(
        create.get("secure_boot_enabled"),
        None,
        "generation 1 has no secure boot"
    );
    assert_eq!(create["memory_minimum_bytes"], json!(GIB));
    assert_eq!(create["storage_class"], json!("bulk"));
    // The disk needs the VM's id, which only the create step gives.
    let Err(error) = plan[1].kind.params(&context) else {
        panic!("a disk step without a vm id")
    };
    assert_eq!(error.code, ErrorCode::Internal);
    let context = aetherv_jobs::domain::plan::Context {
        vm_id: Some(vm_id(9)),
    };
    let boot = match plan[1].kind.params(&context) {
        Ok(params) => params,
        Err(error) => panic!("{error:?}"),
    };
    assert_eq!(
        boot["controller_type"],
        json!("IDE"),
        "generation 1 boots from IDE"
    );
    assert_eq!(boot["image"], json!("win2022"));
    assert_eq!(boot["vm_id"], json!(vm_id(9).to_string()));
    let nic = match plan[2].kind.params(&context) {
        Ok(params) => params,
        Err(error) => panic!("{error:?}"),
    };
    assert_eq!(
        nic["mac_address"],
        json!("00155DAABBCC"),
        "the agent's form of the mac"
    );
    assert!(matches!(plan[2].kind, StepKind::CreateNic(_)));
}

#[tokio::test]
async fn the_os_family_chooses_the_secure_boot_template() {
    let h = Harness::new(1);
    let cases = [
        (
            json!({ "image": "ubuntu-24.04" }),
            json!("MicrosoftUEFICertificateAuthority"),
        ),
        (json!({ "image": "win2022" }), json!("MicrosoftWindows")),
        (json!({}), json!("MicrosoftWindows")),
        (
            json!({ "os_family": "linux" }),
            json!("MicrosoftUEFICertificateAuthority"),
        ),
        (
            json!({ "image": "ubuntu-24.04", "secure_boot_template": "OpenSourceShieldedVM" }),
            json!("OpenSourceShieldedVM"),
        ),
    ];
    for (i, (extra, template)) in cases.into_iter().enumerate() {
        h.executor.hold(Operation::VmCreate);
        let mut vm = json!({ "name": format!("sb-{i}"), "storage_class": "fast-ssd" });
        if let (Some(vm), Some(extra)) = (vm.as_object_mut(), extra.as_object()) {
            vm.extend(extra.clone());
        }
        let job = h
            .submitted(JobType::CreateVm, json!({ "host": "hv01", "vm": vm }))
            .await;
        h.until(&job, |j| j.steps[0].task_id.is_some()).await;
        let runs = h.executor.runs();
        let Some(run) = runs
            .iter()
            .rev()
            .find(|r| r.operation == Operation::VmCreate)
        else {
            panic!("no vm.create")
        };
        assert_eq!(run.params["secure_boot_template"], template, "case {i}");
        h.executor.release(Operation::VmCreate);
        h.finished(&job).await;
    }
}

#[tokio::test]
async fn host_checks() {
    let h = Harness::new(2);
    let error = refusal(h.submit(JobType::Noop, json!({ "host": "hv09" })).await);
    assert_eq!(error.code, ErrorCode::NotFound);
    let v = violation(&error, "/host");
    assert_eq!(
        (v.rule.as_str(), v.allowed.clone()),
        ("host_known", vec!["hv01".to_owned(), "hv02".to_owned()])
    );

    h.fleet.set_status(
        &host("hv02"),
        HostStatus::Unreachable("connection refused".into()),
    );
    let error = refusal(h.submit(JobType::Noop, json!({ "host": "hv02" })).await);
    assert_eq!(error.code, ErrorCode::FailedPrecondition);
    assert_eq!(violation(&error, "/host").rule, "host_reachable");
    assert!(
        error.message.contains("connection refused"),
        "{}",
        error.message
    );
    h.fleet.set_status(&host("hv02"), HostStatus::Unknown);
    let error = refusal(h.submit(JobType::Noop, json!({ "host": "hv02" })).await);
    assert_eq!(violation(&error, "/host").rule, "host_reachable");
    assert!(h.executor.runs().is_empty(), "nothing ran");
}

#[tokio::test]
async fn vm_checks() {
    let h = Harness::new(2);
    h.fleet.add_vm(vm(1, &host("hv01"), VmState::Running));
    let id = vm_id(1).to_string();
    let error = refusal(
        h.submit(
            JobType::StartVm,
            json!({ "host": "hv01", "vm_id": vm_id(2).to_string() }),
        )
        .await,
    );
    assert_eq!(
        (error.code, violation(&error, "/vm_id").rule.as_str()),
        (ErrorCode::NotFound, "vm_exists")
    );
    let error = refusal(
        h.submit(JobType::StopVm, json!({ "host": "hv02", "vm_id": id }))
            .await,
    );
    let v = violation(&error, "/host");
    assert_eq!(
        (v.rule.as_str(), v.allowed.clone()),
        ("vm_on_host", vec!["hv01".to_owned()])
    );
    // The state allows the action; the refusal lists the states that would.
    let error = refusal(
        h.submit(JobType::StartVm, json!({ "host": "hv01", "vm_id": id }))
            .await,
    );
    let v = violation(&error, "/vm_id");
    assert_eq!(v.rule, "state_allows");
    assert_eq!(v.allowed, ["Off", "Saved", "Paused"]);
    let error = refusal(
        h.submit(JobType::ResumeVm, json!({ "host": "hv01", "vm_id": id }))
            .await,
    );
    assert_eq!(violation(&error, "/vm_id").allowed, ["Paused"]);
    let error = refusal(
        h.submit(JobType::DeleteVm, json!({ "host": "hv01", "vm_id": id }))
            .await,
    );
    assert_eq!(violation(&error, "/force").rule, "state_allows");
    let error = refusal(
        h.submit(
            JobType::UpdateVm,
            json!({ "host": "hv01", "vm_id": id, "cpu_count": 4, "notes": "ok while running" }),
        )
        .await,
    );
    assert_eq!(violation(&error, "/cpu_count").allowed, ["Off"]);
    assert!(error.violations.iter().all(|v| v.field != "/notes"));
    let error = refusal(
        h.submit(
            JobType::UpdateVm,
            json!({ "host": "hv01", "vm_id": id, "memory_minimum_bytes": GIB }),
        )
        .await,
    );
    assert_eq!(
        violation(&error, "/memory_minimum_bytes").rule,
        "dynamic_memory"
    );
    // Disks and adapters must be the VM's; a disk only grows; IDE only on generation 1.
    let error = refusal(h.submit(JobType::ResizeDisk, json!({ "host": "hv01", "vm_id": id, "disk_id": disk_id(vm_id(1), 0), "size_bytes": 40 * GIB })).await);
    assert_eq!(violation(&error, "/size_bytes").rule, "size_grows");
    let error = refusal(
        h.submit(
            JobType::DeleteDisk,
            json!({ "host": "hv01", "vm_id": id, "disk_id": disk_id(vm_id(1), 5) }),
        )
        .await,
    );
    let v = violation(&error, "/disk_id");
    assert_eq!(
        (v.rule.as_str(), v.allowed.clone()),
        ("disk_on_vm", vec![disk_id(vm_id(1), 0)])
    );
    let error = refusal(
        h.submit(
            JobType::DeleteNic,
            json!({ "host": "hv01", "vm_id": id, "nic_id": nic_id(vm_id(1), 7) }),
        )
        .await,
    );
    assert_eq!(violation(&error, "/nic_id").rule, "nic_on_vm");
    let error = refusal(h.submit(JobType::CreateDisk, json!({ "host": "hv01", "vm_id": id, "disk": { "size_bytes": GIB, "controller_type": "IDE" } })).await);
    let v = violation(&error, "/disk/controller_type");
    assert_eq!(
        (v.rule.as_str(), v.allowed.clone()),
        ("generation_allows", vec!["SCSI".to_owned()])
    );
    let error = refusal(h.submit(JobType::UpdateNic, json!({ "host": "hv01", "vm_id": id, "nic_id": nic_id(vm_id(1), 1), "mac_address": "00155D000001" })).await);
    assert_eq!(violation(&error, "/mac_address").rule, "state_allows");
    assert!(h.executor.runs().is_empty(), "nothing ran");
}

#[tokio::test]
async fn catalogue_and_name_checks_list_what_is_valid() {
    let h = Harness::new(1);
    h.fleet.add_vm(vm(1, &host("hv01"), VmState::Off));
    let error = refusal(
        h.submit(
            JobType::ManagedDeployment,
            json!({
                "host": "hv01",
                "vm": { "name": "VM-01", "storage_class": "gold", "image": "centos", "cpu_count": 128 },
                "disks": [{ "image": "ubuntu-24.04", "size_bytes": 8 * GIB }, { "size_bytes": GIB, "storage_class": "tape" }],
                "nics": [{ "network": "DMZ" }, { "switch_name": "Nope" }]
            }),
        )
        .await,
    );
    assert_eq!(error.code, ErrorCode::FailedPrecondition);
    let expect = [
        ("/vm/name", "name_free", vec![]),
        ("/vm/cpu_count", "host_processors", vec![]),
        (
            "/vm/storage_class",
            "storage_class_exists",
            vec!["bulk", "fast-ssd"],
        ),
        ("/vm/image", "image_exists", vec!["ubuntu-24.04", "win2022"]),
        ("/disks/0/size_bytes", "size_at_least_image", vec![]),
        (
            "/disks/1/storage_class",
            "storage_class_exists",
            vec!["bulk", "fast-ssd"],
        ),
        (
            "/nics/0/network",
            "network_exists",
            vec!["Isolated", "Production"],
        ),
        (
            "/nics/1/switch_name",
            "switch_exists",
            vec!["External-Switch", "Private"],
        ),
    ];
    for (field, rule, allowed) in expect {
        let v = violation(&error, field);
        assert_eq!(v.rule, rule, "{field}");
        assert_eq!(v.allowed, allowed, "{field}");
    }
    assert_eq!(error.violations.len(), 8, "{error:#?}");
    let error = refusal(
        h.submit(
            JobType::CreateVm,
            json!({ "host": "hv01", "vm": { "name": "x", "storage_class": "fast-ssd", "image": "win2022", "os_family": "linux" } }),
        )
        .await,
    );
    let v = violation(&error, "/vm/os_family");
    assert_eq!(
        (v.rule.as_str(), v.allowed.clone()),
        ("os_family_matches_image", vec!["windows".to_owned()])
    );
    // A name being created by an unfinished job is taken too.
    h.executor.hold(Operation::VmCreate);
    let first = h
        .submitted(
            JobType::CreateVm,
            json!({ "host": "hv01", "vm": { "name": "new-1", "storage_class": "fast-ssd" } }),
        )
        .await;
    let error = refusal(
        h.submit(
            JobType::CreateVm,
            json!({ "host": "hv01", "vm": { "name": "NEW-1", "storage_class": "bulk" } }),
        )
        .await,
    );
    let v = violation(&error, "/vm/name");
    assert!(v.description.contains(first.id.as_str()), "{v:?}");
    h.executor.release(Operation::VmCreate);
    h.finished(&first).await;
    assert_eq!(h.executor.runs().len(), 1, "only the accepted job ran");
}

#[tokio::test(start_paused = true)]
async fn catalogues_are_cached_briefly() {
    let h = Harness::new(1);
    let spec =
        |name: &str| json!({ "host": "hv01", "vm": { "name": name, "storage_class": "fast-ssd" } });
    let a = h.submitted(JobType::CreateVm, spec("a")).await;
    let b = h.submitted(JobType::CreateVm, spec("b")).await;
    assert_eq!(
        h.fleet
            .catalogue_fetches
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    tokio::time::advance(std::time::Duration::from_secs(31)).await;
    let c = h.submitted(JobType::CreateVm, spec("c")).await;
    assert_eq!(
        h.fleet
            .catalogue_fetches
            .load(std::sync::atomic::Ordering::SeqCst),
        2
    );
    for job in [a, b, c] {
        h.finished(&job).await;
    }
}

#[tokio::test]
async fn a_state_check_waits_for_an_earlier_job_on_the_vm() {
    let h = Harness::new(1);
    h.fleet.add_vm(vm(1, &host("hv01"), VmState::Running));
    let id = vm_id(1).to_string();
    h.executor.hold(Operation::VmPower);
    let stop = h
        .submitted(JobType::StopVm, json!({ "host": "hv01", "vm_id": id }))
        .await;
    // Inventory still says Running, but the stop runs first: start is left to the host.
    let start = h
        .submitted(JobType::StartVm, json!({ "host": "hv01", "vm_id": id }))
        .await;
    h.executor.release(Operation::VmPower);
    for job in [&stop, &start] {
        let done = h.finished(job).await;
        assert_eq!(done.state, aetherv_jobs::domain::JobState::Succeeded);
    }
}
