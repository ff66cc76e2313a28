//! Fleet generation, deterministic from a seed: `hosts` hosts, `clusters` failover
//! clusters of several hosts each and the rest standalone, each host with its switches,
//! volumes, resource catalogue and `vms_per_host` VMs (see `vms`). The same spec always
//! gives the same fleet.
//!
//! Topology: with `clusters` = 0 every host is standalone. Otherwise a quarter of the
//! hosts (at least one when there are hosts to spare, none when every host is needed to
//! give each cluster two nodes) are standalone and the rest are shared out among the
//! clusters as evenly as possible. Cluster hosts come first: `hv-ams-c1-n01.corp.example`,
//! then standalone ones: `hv-fra-s01.corp.example`.

mod names;
mod vms;

use aetherv_hyperv::{Network, SwitchType, VirtualSwitch};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::state::{Catalogue, ClassEntry, ImageEntry, VhdFile, Volume};
use crate::model::{HostFacts, HostModel};

pub use names::DOMAIN;

const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetSpec {
    /// Number of hosts (1–5000).
    pub hosts: u32,
    /// VMs on each host (0–1000).
    pub vms_per_host: u32,
    /// Failover clusters (each needs two hosts).
    pub clusters: u32,
    /// The seed.
    pub seed: u64,
}

impl Default for FleetSpec {
    fn default() -> Self {
        FleetSpec {
            hosts: 3,
            vms_per_host: 10,
            clusters: 1,
            seed: 1,
        }
    }
}

/// A spec that cannot be generated; `field` names the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fleet setting `{field}`: {reason}")]
pub struct SpecError {
    /// The setting.
    pub field: &'static str,
    /// Why.
    pub reason: String,
}

impl FleetSpec {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), SpecError> {
        let bad = |field, reason: String| Err(SpecError { field, reason });
        if !(1..=5000).contains(&self.hosts) {
            return bad(
                "hosts",
                format!("must be between 1 and 5000, got {}", self.hosts),
            );
        }
        if self.vms_per_host > 1000 {
            return bad(
                "vms_per_host",
                format!("must be at most 1000, got {}", self.vms_per_host),
            );
        }
        if self.clusters * 2 > self.hosts {
            return bad(
                "clusters",
                format!(
                    "each cluster needs at least two hosts: {} clusters need {} hosts, there are {}",
                    self.clusters,
                    self.clusters * 2,
                    self.hosts
                ),
            );
        }
        Ok(())
    }

    /// The size of each cluster, then the number of standalone hosts.
    pub fn topology(&self) -> (Vec<u32>, u32) {
        if self.clusters == 0 {
            return (Vec::new(), self.hosts);
        }
        let spare = self.hosts - 2 * self.clusters;
        let wanted = (self.hosts / 4).max(u32::from(spare > 0));
        let standalone = wanted.min(spare);
        let clustered = self.hosts - standalone;
        let (base, extra) = (clustered / self.clusters, clustered % self.clusters);
        let sizes = (0..self.clusters)
            .map(|k| base + u32::from(k < extra))
            .collect();
        (sizes, standalone)
    }
}

/// Where a host sits: its names and cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Placement {
    fqdn: String,
    computer_name: String,
    cluster: Option<String>,
    /// Index of the cluster, for the cluster-wide OS choice.
    cluster_index: Option<u32>,
}

fn placements(spec: &FleetSpec) -> Vec<Placement> {
    let (sizes, standalone) = spec.topology();
    let mut out = Vec::new();
    for (k, size) in sizes.iter().enumerate() {
        let site = names::SITES[k % names::SITES.len()];
        let cluster = format!("hv-{site}-c{}", k / names::SITES.len() + 1);
        for n in 1..=*size {
            let short = format!("{cluster}-n{n:02}");
            out.push(Placement {
                fqdn: format!("{short}.{DOMAIN}"),
                computer_name: short.to_ascii_uppercase(),
                cluster: Some(cluster.to_ascii_uppercase()),
                cluster_index: Some(k as u32),
            });
        }
    }
    for j in 0..standalone as usize {
        let site = names::SITES[j % names::SITES.len()];
        let short = format!("hv-{site}-s{:02}", j / names::SITES.len() + 1);
        out.push(Placement {
            fqdn: format!("{short}.{DOMAIN}"),
            computer_name: short.to_ascii_uppercase(),
            cluster: None,
            cluster_index: None,
        });
    }
    out
}

fn host_seed(seed: u64, salt: u64) -> u64 {
    seed ^ (salt + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Generates the fleet.
pub fn generate(spec: &FleetSpec) -> Result<Vec<HostModel>, SpecError> {
    spec.validate()?;
    let mut counters = vms::NameCounters::default();
    let hosts = placements(spec)
        .into_iter()
        .enumerate()
        .map(|(i, place)| generate_host(spec, i as u32, place, &mut counters))
        .collect();
    Ok(hosts)
}

fn generate_host(
    spec: &FleetSpec,
    index: u32,
    place: Placement,
    counters: &mut vms::NameCounters,
) -> HostModel {
    let mut rng = ChaCha8Rng::seed_from_u64(host_seed(spec.seed, u64::from(index)));
    let os_salt = place
        .cluster_index
        .map_or(u64::from(index) + 10_000, u64::from);
    let mut os_rng = ChaCha8Rng::seed_from_u64(host_seed(spec.seed, os_salt + 1_000_000));
    let os = *names::HOST_OSES
        .choose(&mut os_rng)
        .unwrap_or(&names::HOST_OSES[0]);
    let clustered = place.cluster.is_some();
    let (fast_root, bulk_root) = if clustered {
        (
            "C:\\ClusterStorage\\Volume1\\",
            "C:\\ClusterStorage\\Volume2\\",
        )
    } else {
        ("D:\\", "E:\\")
    };
    let facts = HostFacts {
        index,
        computer_name: place.computer_name,
        fqdn: place.fqdn,
        cluster_name: place.cluster,
        logical_processor_count: *[32u32, 48, 64, 96, 128].choose(&mut rng).unwrap_or(&64),
        memory_total_bytes: *[256u64, 384, 512, 768].choose(&mut rng).unwrap_or(&512) * GIB,
        memory_reserved_bytes: 8 * GIB,
        os_version: os.version.to_owned(),
        os_caption: os.caption.to_owned(),
        powershell_version: os.powershell.to_owned(),
        hyperv_module_version: "2.0.0.0".to_owned(),
        default_vm_path: "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V".to_owned(),
        default_vhd_path: "C:\\Users\\Public\\Documents\\Hyper-V\\Virtual Hard Disks".to_owned(),
        configuration_version: os.configuration_version.to_owned(),
    };
    let guid = |rng: &mut ChaCha8Rng| uuid::Builder::from_random_bytes(rng.random()).into_uuid();
    let switches = vec![
        VirtualSwitch {
            id: guid(&mut rng),
            name: "External-Switch".to_owned(),
            switch_type: SwitchType::External,
            uplink: names::UPLINKS.choose(&mut rng).map(|s| (*s).to_owned()),
        },
        VirtualSwitch {
            id: guid(&mut rng),
            name: "Private-Isolated".to_owned(),
            switch_type: SwitchType::Private,
            uplink: None,
        },
    ];
    let network = |name: &str, switch: &str, vlan: Option<u16>| Network {
        name: name.to_owned(),
        switch_name: switch.to_owned(),
        vlan_id: vlan,
    };
    let catalogue = Catalogue {
        path: Some("C:\\ProgramData\\Aether-V\\hostresources.json".to_owned()),
        storage_classes: vec![
            ClassEntry {
                name: "fast-ssd".to_owned(),
                path: format!("{fast_root}VMs"),
            },
            ClassEntry {
                name: "bulk-storage".to_owned(),
                path: format!("{bulk_root}VMs"),
            },
        ],
        networks: vec![
            network("Production", "External-Switch", Some(100)),
            network("Development", "External-Switch", Some(200)),
            network("Management", "External-Switch", Some(10)),
            network("Isolated", "Private-Isolated", None),
        ],
        images: names::IMAGES
            .iter()
            .map(|i| ImageEntry {
                name: i.name.to_owned(),
                path: format!("{fast_root}Images\\{}.vhdx", i.name),
                os_family: i.family,
                guest_os_name: i.guest.to_owned(),
            })
            .collect(),
    };
    // Volumes are sized after the VMs are placed; start with room to spare.
    let volumes = vec![
        Volume {
            root: "C:\\".to_owned(),
            total_bytes: 480 * GIB,
            base_used_bytes: 62 * GIB,
        },
        Volume {
            root: fast_root.to_owned(),
            total_bytes: 1 << 62,
            base_used_bytes: 0,
        },
        Volume {
            root: bulk_root.to_owned(),
            total_bytes: 1 << 62,
            base_used_bytes: 0,
        },
    ];
    let model_seed = rng.random();
    let mut model = HostModel::new(facts, volumes, switches, catalogue, model_seed);
    for image in names::IMAGES {
        model.put_file(VhdFile {
            path: format!("{fast_root}Images\\{}.vhdx", image.name),
            disk_type: aetherv_hyperv::DiskType::Dynamic,
            capacity_bytes: image.capacity_gib * GIB,
            file_size_bytes: image.file_mib << 20,
        });
    }
    for _ in 0..spec.vms_per_host {
        vms::add_vm(&mut model, &mut rng, counters, clustered);
    }
    size_host(&mut model, &mut rng, [fast_root, bulk_root]);
    model
}

/// Gives the host enough memory for its running VMs and volumes with room to spare.
fn size_host(model: &mut HostModel, rng: &mut ChaCha8Rng, roots: [&str; 2]) {
    let used_memory: u64 = model.vms().iter().map(|v| v.memory_assigned_bytes()).sum();
    let facts = model.facts_mut();
    let needed = (used_memory + facts.memory_reserved_bytes) * 5 / 4;
    while facts.memory_total_bytes < needed {
        facts.memory_total_bytes += 256 * GIB;
    }
    for (root, base) in roots.into_iter().zip([4 * TIB, 16 * TIB]) {
        let used: u64 = model
            .files()
            .filter(|f| {
                f.path
                    .to_ascii_lowercase()
                    .starts_with(&root.to_ascii_lowercase())
            })
            .map(|f| f.file_size_bytes)
            .sum();
        let mut total = base;
        while total < used * 8 / 5 + TIB / 2 {
            total += 2 * TIB;
        }
        let base_used = total / 100 * rng.random_range(1..4);
        model.set_volume(root, total, base_used);
    }
}
