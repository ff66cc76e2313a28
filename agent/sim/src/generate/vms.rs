//! Generated VMs: role-based names unique in the fleet (`web-prod-014`, `sql-test-03`,
//! `dc01`), sizes by role (2–16 vCPU, 2–64 GiB, dynamic memory on about a third), mostly
//! Running with some Off, Saved and Paused, guest OS names, NICs on the catalogue networks
//! with addresses in the host's subnets, and disks in the storage classes' folders.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use aetherv_hyperv::{
    ControllerType, DiskType, Generation, SecureBootTemplate, Timestamp, VmState,
};
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use time::macros::datetime;

use super::names::{ENVS, IMAGES, LINUX_GUESTS, ROLES, TEAMS, WINDOWS_GUESTS};
use crate::clock::SimInstant;
use crate::model::HostModel;
use crate::model::disk_ops::VHDX_OVERHEAD_BYTES;
use crate::model::state::{Memory, SimDisk, SimNic, VhdFile, holds_memory};
use crate::model::vm_ops::{VmShape, build_vm};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Running numbers per name prefix, shared by every host so names are unique fleet-wide.
#[derive(Debug, Default)]
pub struct NameCounters(BTreeMap<String, u32>);

impl NameCounters {
    fn next(&mut self, key: &str) -> u32 {
        let n = self.0.entry(key.to_owned()).or_insert(0);
        *n += 1;
        *n
    }
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    // Every list passed here is a non-empty constant.
    items.choose(rng).unwrap_or(&items[0])
}

fn fraction_of(bytes: u64, rng: &mut ChaCha8Rng, low: f64, high: f64) -> u64 {
    let f = rng.random_range(low..high);
    ((bytes as f64 * f) as u64 / MIB).max(4) * MIB
}

fn state(rng: &mut ChaCha8Rng) -> VmState {
    match rng.random_range(0..100) {
        0..76 => VmState::Running,
        76..88 => VmState::Off,
        88..94 => VmState::Saved,
        _ => VmState::Paused,
    }
}

fn older_version(v: &str) -> &'static str {
    if v == "10.0" { "9.0" } else { "8.0" }
}

/// Adds one generated VM to the host.
pub fn add_vm(
    model: &mut HostModel,
    rng: &mut ChaCha8Rng,
    counters: &mut NameCounters,
    clustered_host: bool,
) {
    let role = ROLES
        .choose_weighted(rng, |r| r.weight)
        .copied()
        .unwrap_or(ROLES[0]);
    let name = if role.with_env {
        let env = pick(rng, ENVS);
        let n = counters.next(&format!("{}-{env}", role.prefix));
        format!("{}-{env}-{n:0w$}", role.prefix, w = role.digits)
    } else {
        let n = counters.next(role.prefix);
        let dash = if role.dash { "-" } else { "" };
        format!("{}{dash}{n:0w$}", role.prefix, w = role.digits)
    };
    let windows = rng.random_range(0..100) < role.windows_percent;
    let (guest, image_name) = *pick(
        rng,
        if windows {
            WINDOWS_GUESTS
        } else {
            LINUX_GUESTS
        },
    );
    let image = IMAGES
        .iter()
        .find(|i| i.name == image_name)
        .unwrap_or(&IMAGES[0]);
    let generation = if rng.random_bool(if windows { 0.05 } else { 0.12 }) {
        Generation::One
    } else {
        Generation::Two
    };
    let startup = *pick(rng, role.memory_gib) * GIB;
    let dynamic = rng.random_bool(0.3).then(|| {
        let min = (startup / 4).max(512 * MIB);
        let max = (startup * 2).min(128 * GIB).max(startup);
        (min, max)
    });
    let state = state(rng);
    let class_index = usize::from(!rng.random_bool(0.6));
    let class_path = model.catalogue().storage_classes[class_index].path.clone();
    let folder = format!("{class_path}\\{name}");
    let secure_boot = match (generation, windows) {
        (Generation::One, _) => None,
        (Generation::Two, true) => Some((true, Some(SecureBootTemplate::MicrosoftWindows))),
        (Generation::Two, false) => Some((
            rng.random_bool(0.85),
            Some(SecureBootTemplate::MicrosoftUEFICertificateAuthority),
        )),
    };
    let notes = if rng.random_bool(0.25) {
        format!(
            "Owner: team-{}\r\nChange: CHG{:06}",
            pick(rng, TEAMS),
            rng.random_range(10_000..999_999)
        )
    } else {
        String::new()
    };
    let created =
        datetime!(2021-03-01 00:00 UTC) + Duration::from_secs(rng.random_range(0..1100 * 86_400));
    let mut vm = build_vm(
        model,
        Timestamp::new(created),
        VmShape {
            name: &name,
            cpu_count: *pick(rng, role.cpus),
            generation,
            memory: Memory {
                startup_bytes: startup,
                dynamic,
            },
            secure_boot,
            notes,
            folder: folder.clone(),
        },
    );
    if rng.random_bool(0.2) {
        vm.configuration_version = older_version(&vm.configuration_version).to_owned();
    }
    vm.state = state;
    vm.guest_os = Some(guest.to_owned());
    vm.ever_started = state != VmState::Off || rng.random_bool(0.8);
    if holds_memory(state) {
        let uptime = rng.random_range(3_600..180 * 86_400);
        vm.running_since = Some(SimInstant::ZERO.minus(Duration::from_secs(uptime)));
    }
    vm.clustered = clustered_host && rng.random_bool(0.9);

    // Disks: the OS disk (a clone of the image, sometimes expanded), then the role's data disks.
    let os_capacity = if !windows && rng.random_bool(0.4) {
        64 * GIB
    } else {
        image.capacity_gib * GIB
    };
    let os_controller = match generation {
        Generation::One => ControllerType::Ide,
        Generation::Two => ControllerType::Scsi,
    };
    let mut disks = vec![(os_controller, os_capacity, DiskType::Dynamic)];
    for size in role.data_disks_gib {
        let fixed = role.prefix == "sql" && rng.random_bool(0.5);
        let kind = if fixed {
            DiskType::Fixed
        } else {
            DiskType::Dynamic
        };
        disks.push((ControllerType::Scsi, size * GIB, kind));
    }
    let mut scsi_location = 0u8;
    for (controller, capacity, kind) in disks {
        let suffix: u32 = rng.random();
        let path = format!("{folder}\\{name}-{suffix:08x}.vhdx");
        let file_size = match kind {
            DiskType::Fixed => capacity + VHDX_OVERHEAD_BYTES,
            _ => fraction_of(capacity, rng, 0.08, 0.6),
        };
        model.put_file(VhdFile {
            path: path.clone(),
            disk_type: kind,
            capacity_bytes: capacity,
            file_size_bytes: file_size,
        });
        let location = match controller {
            ControllerType::Ide => 0,
            ControllerType::Scsi => {
                scsi_location += 1;
                scsi_location - 1
            }
        };
        vm.disks.push(SimDisk {
            controller_type: controller,
            controller_number: 0,
            controller_location: location,
            path,
        });
    }

    // NICs: the environment's network, sometimes a management adapter too.
    let env_network = if name.contains("-test-") || name.contains("-dev-") {
        "Development"
    } else {
        "Production"
    };
    let mut networks = vec![("Network Adapter", env_network)];
    if rng.random_bool(0.25) {
        networks.push(("Management", "Management"));
    }
    let with_ipv6 = rng.random_bool(0.1);
    for (nic_name, network) in networks {
        let (switch, vlan) = model
            .catalogue()
            .networks
            .iter()
            .find(|n| n.name == network)
            .map(|n| (n.switch_name.clone(), n.vlan_id))
            .unwrap_or_else(|| ("External-Switch".to_owned(), None));
        let guid = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
        let (mac, mac_static) = if rng.random_bool(0.05) {
            let low: u64 = rng.random_range(0..(1u64 << 40));
            (format!("02{low:010X}"), true)
        } else if vm.ever_started {
            (model.next_mac(), false)
        } else {
            (crate::model::power::ZERO_MAC.to_owned(), false)
        };
        let mut guest_ips = Vec::new();
        if vm.ever_started {
            let v4 = model.next_ip(&switch, vlan);
            guest_ips.push(IpAddr::V4(v4));
            if with_ipv6 {
                let [_, b, c, d] = v4.octets();
                let v6 = Ipv6Addr::new(
                    0xfd00,
                    u16::from(b),
                    u16::from(c),
                    vlan.unwrap_or(0),
                    0,
                    0,
                    0,
                    u16::from(d),
                );
                guest_ips.push(IpAddr::V6(v6));
            }
        }
        vm.nics.push(SimNic {
            guid,
            name: nic_name.to_owned(),
            switch_name: Some(switch),
            vlan_id: vlan,
            mac_address: mac,
            mac_static,
            guest_ips,
        });
    }
    model.push_vm(vm);
}
