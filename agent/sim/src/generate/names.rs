//! The vocabulary of generated fleets: sites, VM roles, operating systems, images.

use aetherv_hyperv::OsFamily;

/// Site codes used in host and cluster names.
pub const SITES: &[&str] = &["ams", "fra", "lon", "dub", "par", "mad", "sto", "waw"];

/// The DNS domain of every host.
pub const DOMAIN: &str = "corp.example";

/// A kind of VM: how it is named, what it runs and how big it is.
#[derive(Debug, Clone, Copy)]
pub struct Role {
    /// Name prefix (`web`, `sql`, `dc`, …).
    pub prefix: &'static str,
    /// Whether the name carries the environment (`web-prod-014`) or not (`dc01`).
    pub with_env: bool,
    /// Digits of the running number.
    pub digits: usize,
    /// Separator before the number when there is no environment (`k8s-worker-07` vs `dc01`).
    pub dash: bool,
    /// Relative frequency.
    pub weight: u32,
    /// Chance (percent) that it runs Windows.
    pub windows_percent: u32,
    /// vCPU choices.
    pub cpus: &'static [u32],
    /// Memory choices, GiB.
    pub memory_gib: &'static [u64],
    /// Data disks, GiB (one entry per disk).
    pub data_disks_gib: &'static [u64],
}

/// The roles, by weight.
pub const ROLES: &[Role] = &[
    Role {
        prefix: "web",
        with_env: true,
        digits: 3,
        dash: true,
        weight: 22,
        windows_percent: 20,
        cpus: &[2, 2, 4, 4, 8],
        memory_gib: &[2, 4, 4, 8, 8, 16],
        data_disks_gib: &[],
    },
    Role {
        prefix: "app",
        with_env: true,
        digits: 3,
        dash: true,
        weight: 18,
        windows_percent: 50,
        cpus: &[2, 4, 4, 8, 16],
        memory_gib: &[4, 8, 8, 16, 32],
        data_disks_gib: &[128],
    },
    Role {
        prefix: "sql",
        with_env: true,
        digits: 2,
        dash: true,
        weight: 8,
        windows_percent: 100,
        cpus: &[4, 8, 8, 16],
        memory_gib: &[16, 32, 32, 64],
        data_disks_gib: &[256, 512],
    },
    Role {
        prefix: "cache",
        with_env: true,
        digits: 2,
        dash: true,
        weight: 5,
        windows_percent: 0,
        cpus: &[2, 4],
        memory_gib: &[8, 16, 32],
        data_disks_gib: &[],
    },
    Role {
        prefix: "mq",
        with_env: true,
        digits: 2,
        dash: true,
        weight: 4,
        windows_percent: 0,
        cpus: &[2, 4],
        memory_gib: &[4, 8],
        data_disks_gib: &[64],
    },
    Role {
        prefix: "k8s-worker",
        with_env: false,
        digits: 2,
        dash: true,
        weight: 14,
        windows_percent: 0,
        cpus: &[8, 8, 16],
        memory_gib: &[16, 32, 64],
        data_disks_gib: &[200],
    },
    Role {
        prefix: "build-agent",
        with_env: false,
        digits: 2,
        dash: true,
        weight: 6,
        windows_percent: 40,
        cpus: &[4, 8],
        memory_gib: &[8, 16],
        data_disks_gib: &[],
    },
    Role {
        prefix: "mon",
        with_env: false,
        digits: 2,
        dash: true,
        weight: 3,
        windows_percent: 0,
        cpus: &[2, 4],
        memory_gib: &[4, 8],
        data_disks_gib: &[256],
    },
    Role {
        prefix: "jump",
        with_env: false,
        digits: 2,
        dash: true,
        weight: 3,
        windows_percent: 100,
        cpus: &[2],
        memory_gib: &[4],
        data_disks_gib: &[],
    },
    Role {
        prefix: "dc",
        with_env: false,
        digits: 2,
        dash: false,
        weight: 3,
        windows_percent: 100,
        cpus: &[2, 4],
        memory_gib: &[4, 8],
        data_disks_gib: &[],
    },
    Role {
        prefix: "fs",
        with_env: false,
        digits: 2,
        dash: false,
        weight: 3,
        windows_percent: 100,
        cpus: &[2, 4],
        memory_gib: &[8, 16],
        data_disks_gib: &[2048],
    },
];

/// Environments, with production the most common.
pub const ENVS: &[&str] = &["prod", "prod", "prod", "test", "dev"];

/// Guest OS names (as the guest's KVP OSName reports them) and the image each comes from.
pub const WINDOWS_GUESTS: &[(&str, &str)] = &[
    ("Windows Server 2022 Datacenter", "win2022-datacenter"),
    ("Windows Server 2022 Standard", "win2022-datacenter"),
    ("Windows Server 2019 Standard", "win2019-standard"),
];

/// Linux guests and their images.
pub const LINUX_GUESTS: &[(&str, &str)] = &[
    ("Ubuntu 22.04.4 LTS", "ubuntu-22.04"),
    ("Ubuntu 24.04.1 LTS", "ubuntu-24.04"),
    ("Red Hat Enterprise Linux 9.4 (Plow)", "rhel-9.4"),
    ("Debian GNU/Linux 12 (bookworm)", "debian-12"),
];

/// A golden image: name, OS family, what its guests report, capacity and file size (GiB/MiB).
#[derive(Debug, Clone, Copy)]
pub struct ImageSpec {
    /// Catalogue name.
    pub name: &'static str,
    /// OS family.
    pub family: OsFamily,
    /// Guest OS name of a VM booted from it.
    pub guest: &'static str,
    /// Virtual size, GiB.
    pub capacity_gib: u64,
    /// File size, MiB.
    pub file_mib: u64,
}

/// The golden images every host has.
pub const IMAGES: &[ImageSpec] = &[
    ImageSpec {
        name: "win2022-datacenter",
        family: OsFamily::Windows,
        guest: "Windows Server 2022 Datacenter",
        capacity_gib: 127,
        file_mib: 14_540,
    },
    ImageSpec {
        name: "win2019-standard",
        family: OsFamily::Windows,
        guest: "Windows Server 2019 Standard",
        capacity_gib: 127,
        file_mib: 12_800,
    },
    ImageSpec {
        name: "ubuntu-22.04",
        family: OsFamily::Linux,
        guest: "Ubuntu 22.04.4 LTS",
        capacity_gib: 32,
        file_mib: 2_970,
    },
    ImageSpec {
        name: "ubuntu-24.04",
        family: OsFamily::Linux,
        guest: "Ubuntu 24.04.1 LTS",
        capacity_gib: 32,
        file_mib: 3_150,
    },
    ImageSpec {
        name: "rhel-9.4",
        family: OsFamily::Linux,
        guest: "Red Hat Enterprise Linux 9.4 (Plow)",
        capacity_gib: 40,
        file_mib: 2_860,
    },
    ImageSpec {
        name: "debian-12",
        family: OsFamily::Linux,
        guest: "Debian GNU/Linux 12 (bookworm)",
        capacity_gib: 20,
        file_mib: 1_940,
    },
];

/// Teams that own VMs (for notes).
pub const TEAMS: &[&str] = &[
    "payments", "platform", "identity", "data", "web", "search", "billing",
];

/// Physical NICs an External switch can be bound to.
pub const UPLINKS: &[&str] = &[
    "Mellanox ConnectX-5 Adapter",
    "Intel(R) Ethernet Controller X710 for 10GbE SFP+",
    "Broadcom NetXtreme E-Series Dual-port 25Gb SFP28 Ethernet OCP 3.0 Adapter",
];

/// A Windows Server release a host runs.
#[derive(Debug, Clone, Copy)]
pub struct HostOs {
    /// Version, e.g. `10.0.20348`.
    pub version: &'static str,
    /// Edition.
    pub caption: &'static str,
    /// Windows PowerShell version.
    pub powershell: &'static str,
    /// Default VM configuration version.
    pub configuration_version: &'static str,
}

/// Server 2022 and Server 2019.
pub const HOST_OSES: &[HostOs] = &[
    HostOs {
        version: "10.0.20348",
        caption: "Microsoft Windows Server 2022 Datacenter",
        powershell: "5.1.20348.2849",
        configuration_version: "10.0",
    },
    HostOs {
        version: "10.0.20348",
        caption: "Microsoft Windows Server 2022 Datacenter",
        powershell: "5.1.20348.2849",
        configuration_version: "10.0",
    },
    HostOs {
        version: "10.0.17763",
        caption: "Microsoft Windows Server 2019 Datacenter",
        powershell: "5.1.17763.6414",
        configuration_version: "9.0",
    },
];
