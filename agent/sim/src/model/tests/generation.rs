use std::collections::BTreeSet;

use aetherv_hyperv::VmState;

use crate::generate::{FleetSpec, generate};

fn spec(hosts: u32, vms: u32, clusters: u32, seed: u64) -> FleetSpec {
    FleetSpec {
        hosts,
        vms_per_host: vms,
        clusters,
        seed,
    }
}

#[test]
fn the_same_seed_gives_the_same_fleet() {
    let a = generate(&spec(6, 12, 2, 7)).expect("valid spec");
    let b = generate(&spec(6, 12, 2, 7)).expect("valid spec");
    assert_eq!(a, b);
    let c = generate(&spec(6, 12, 2, 8)).expect("valid spec");
    assert_ne!(a, c, "another seed gives another fleet");
    let t = super::at(0);
    let views = |f: &mut Vec<crate::model::HostModel>| {
        f.iter_mut().map(|h| h.vm_snapshots(t)).collect::<Vec<_>>()
    };
    let (mut a, mut b) = (a, b);
    assert_eq!(views(&mut a), views(&mut b));
}

#[test]
fn clusters_share_the_hosts_and_the_rest_are_standalone() {
    assert_eq!(spec(3, 0, 1, 1).topology(), (vec![2], 1));
    assert_eq!(spec(2, 0, 1, 1).topology(), (vec![2], 0));
    assert_eq!(spec(10, 0, 2, 1).topology(), (vec![4, 4], 2));
    assert_eq!(spec(500, 0, 10, 1).topology().1, 125);
    assert_eq!(spec(5, 0, 0, 1).topology(), (vec![], 5));
    assert!(
        spec(3, 0, 2, 1)
            .validate()
            .is_err_and(|e| e.field == "clusters")
    );
    assert!(
        spec(0, 0, 0, 1)
            .validate()
            .is_err_and(|e| e.field == "hosts")
    );
    assert!(
        spec(1, 1001, 0, 1)
            .validate()
            .is_err_and(|e| e.field == "vms_per_host")
    );
    let fleet = generate(&spec(10, 0, 2, 1)).expect("valid spec");
    let names: Vec<&str> = fleet.iter().map(|h| h.facts().fqdn.as_str()).collect();
    assert_eq!(names[0], "hv-ams-c1-n01.corp.example");
    assert_eq!(names[4], "hv-fra-c1-n01.corp.example");
    assert_eq!(names[8], "hv-ams-s01.corp.example");
    assert_eq!(fleet[0].facts().cluster_name.as_deref(), Some("HV-AMS-C1"));
    assert_eq!(fleet[0].facts().computer_name, "HV-AMS-C1-N01");
    assert_eq!(fleet[9].facts().cluster_name, None);
}

#[test]
fn vms_are_realistic_and_unique() {
    let mut fleet = generate(&spec(8, 25, 2, 3)).expect("valid spec");
    let mut names = BTreeSet::new();
    let mut states = BTreeSet::new();
    let mut dynamic = 0;
    let t = super::at(0);
    for host in &mut fleet {
        assert!(
            host.memory_available_bytes() > 0,
            "{} is overcommitted",
            host.facts().fqdn
        );
        for (_, free) in host
            .storage_locations()
            .iter()
            .map(|l| (l.total_bytes, l.free_bytes))
        {
            assert!(free > 0);
        }
        for vm in host.vm_snapshots(t) {
            assert!(names.insert(vm.name.clone()), "{} twice", vm.name);
            states.insert(vm.state.as_str());
            assert!((2..=16).contains(&vm.cpu_count), "{} cpus", vm.cpu_count);
            assert!((2u64 << 30..=64u64 << 30).contains(&vm.memory_startup_bytes));
            dynamic += usize::from(vm.dynamic_memory_enabled);
            assert!(!vm.disks.is_empty());
            assert!(
                vm.disks
                    .iter()
                    .all(|d| d.path.starts_with(&vm.configuration_path))
            );
            if vm.state == VmState::Running {
                assert!(
                    vm.guest_os_name.is_some()
                        && !vm.ip_addresses.is_empty()
                        && vm.uptime_seconds > 0
                );
            }
        }
    }
    assert_eq!(names.len(), 200);
    for s in ["Running", "Off", "Saved", "Paused"] {
        assert!(states.contains(s), "no {s} vm in {states:?}");
    }
    assert!(
        (20..=110).contains(&dynamic),
        "{dynamic} vms with dynamic memory"
    );
    let running = fleet
        .iter()
        .flat_map(|h| h.vms())
        .filter(|v| v.state == VmState::Running)
        .count();
    assert!(running > 120, "mostly running: {running}");
}
