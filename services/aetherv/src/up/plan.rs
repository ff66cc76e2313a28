//! What `aetherv up` starts and with which flags: the fleet (simulated, or the real one a
//! configuration file lists), the listen address of each service, and each child's
//! `aetherv serve …` arguments. Endpoints and listen addresses are flags (`--listen`,
//! `--set key=value`): they win over the file and the environment, so the launcher knows
//! where everything is. Nothing secret is ever an argument: the simulator's password is a
//! 0600 file that the fleet file names.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::UpArgs;
use super::child::ChildSpec;

/// The default ports (ARCHITECTURE.md).
pub const REMOTE_TASKS_PORT: u16 = 50051;
/// inventory's default port.
pub const INVENTORY_PORT: u16 = 50053;
/// jobs' default port.
pub const JOBS_PORT: u16 = 50054;
/// notifications' default port.
pub const NOTIFICATIONS_PORT: u16 = 50055;
/// The gateway's default port.
pub const GATEWAY_PORT: u16 = 8080;
/// The WinRM HTTP port of simulated hosts.
pub const WINRM_PORT: u16 = 5985;

/// A flag combination `up` refuses.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file cannot be read or is not TOML.
    #[error("--config {}: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A simulator flag with a configuration that lists real hosts.
    #[error(
        "{flag}: only for a simulated fleet, and --config {} lists hosts (remote_tasks.hosts or remote_tasks.hosts_file)",
        path.display()
    )]
    SimFlagWithRealFleet {
        /// The flag.
        flag: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// A value out of range.
    #[error("{flag}: {message}")]
    Invalid {
        /// The flag.
        flag: &'static str,
        /// Why.
        message: String,
    },
}

/// The simulated fleet's shape.
#[derive(Debug, Clone)]
pub struct Simulated {
    /// Hosts.
    pub hosts: u32,
    /// VMs per host.
    pub vms_per_host: u32,
    /// Failover clusters.
    pub clusters: u32,
    /// Generation seed.
    pub seed: u64,
    /// The first host's address.
    pub base_address: Ipv4Addr,
    /// Simulated-time scale.
    pub time_scale: f64,
}

/// Which fleet the services manage.
#[derive(Debug, Clone)]
pub enum Fleet {
    /// A simulated fleet started as the `hvsim` child.
    Simulated(Simulated),
    /// The hosts `[remote_tasks]` of the configuration file lists.
    Configured,
}

/// Where the services the later ones depend on listen.
#[derive(Debug, Clone, Copy)]
pub struct Endpoints {
    /// remote-tasks.
    pub remote_tasks: SocketAddr,
    /// notifications.
    pub notifications: SocketAddr,
    /// inventory.
    pub inventory: SocketAddr,
}

/// Everything decided before the first child starts.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The fleet.
    pub fleet: Fleet,
    /// The suite configuration file every service reads its own table from.
    pub config: Option<PathBuf>,
    /// Every service on a free port rather than its default.
    pub ephemeral: bool,
    /// The gateway's address.
    pub gateway_listen: SocketAddr,
    /// `inventory.refresh_interval`, when given.
    pub refresh_interval: Option<Duration>,
    /// `telemetry.filter` of every service (and the simulator's log filter), when given.
    pub log_filter: Option<String>,
}

impl Plan {
    /// Checks the flags and reads the configuration file's `[remote_tasks]` table to decide
    /// the fleet.
    pub fn new(args: &UpArgs) -> Result<Plan, Error> {
        let lists_hosts = match &args.config {
            Some(path) => lists_hosts(path)?,
            None => false,
        };
        let fleet = if lists_hosts {
            let path = args.config.clone().unwrap_or_default();
            let given = [
                ("--hosts", args.hosts.is_some()),
                ("--vms-per-host", args.vms_per_host.is_some()),
                ("--clusters", args.clusters.is_some()),
                ("--seed", args.seed.is_some()),
                ("--time-scale", args.time_scale.is_some()),
            ];
            if let Some((flag, _)) = given.iter().find(|(_, given)| *given) {
                return Err(Error::SimFlagWithRealFleet { flag, path });
            }
            Fleet::Configured
        } else {
            let simulated = Simulated {
                hosts: args.hosts.unwrap_or(4),
                vms_per_host: args.vms_per_host.unwrap_or(12),
                clusters: args.clusters.unwrap_or(1),
                seed: args.seed.unwrap_or(1),
                base_address: args.sim_base_address,
                time_scale: args.time_scale.unwrap_or(1.0),
            };
            check_simulated(&simulated)?;
            Fleet::Simulated(simulated)
        };
        let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let gateway_listen = args.gateway_listen.unwrap_or(if args.ephemeral_ports {
            loopback(0)
        } else {
            loopback(GATEWAY_PORT)
        });
        Ok(Plan {
            fleet,
            config: args.config.clone(),
            ephemeral: args.ephemeral_ports,
            gateway_listen,
            refresh_interval: args.refresh_interval,
            log_filter: args.log_filter.clone(),
        })
    }

    fn listen(&self, port: u16) -> String {
        let port = if self.ephemeral { 0 } else { port };
        format!("127.0.0.1:{port}")
    }

    /// `serve <service> [--config F] --listen A [--set telemetry.filter=…]` plus `extra`.
    fn service(&self, name: &'static str, listen: String, extra: &[(&str, String)]) -> ChildSpec {
        let mut args = vec!["serve".to_string(), name.to_string()];
        if let Some(config) = &self.config {
            args.push("--config".to_string());
            args.push(config.display().to_string());
        }
        args.extend(["--listen".to_string(), listen]);
        if let Some(filter) = &self.log_filter {
            args.extend(["--set".to_string(), format!("telemetry.filter={filter}")]);
        }
        for (key, value) in extra {
            args.extend(["--set".to_string(), format!("{key}={value}")]);
        }
        args.extend(control_flags());
        ChildSpec {
            name,
            args,
            env: Vec::new(),
        }
    }

    /// The simulator: writes the fleet file `fleet_file`, reads its password from
    /// `password_file`.
    pub fn hvsim(&self, sim: &Simulated, password_file: &Path, fleet_file: &Path) -> ChildSpec {
        let port = if self.ephemeral { 0 } else { WINRM_PORT };
        let mut args: Vec<String> = [
            "serve",
            "hvsim",
            "--hosts",
            &sim.hosts.to_string(),
            "--vms-per-host",
            &sim.vms_per_host.to_string(),
            "--clusters",
            &sim.clusters.to_string(),
            "--seed",
            &sim.seed.to_string(),
            "--time-scale",
            &sim.time_scale.to_string(),
            "--base-address",
            &sim.base_address.to_string(),
            "--http-port",
            &port.to_string(),
            "--password-file",
            &password_file.display().to_string(),
            "--write-fleet-config",
            &fleet_file.display().to_string(),
            "--control-listen",
            "127.0.0.1:0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(filter) = &self.log_filter {
            args.extend(["--log-filter".to_string(), filter.clone()]);
        }
        args.extend(control_flags());
        ChildSpec {
            name: "hvsim",
            args,
            env: Vec::new(),
        }
    }

    /// remote-tasks, reading the simulator's fleet file when there is one.
    pub fn remote_tasks(&self, fleet_file: Option<&Path>) -> ChildSpec {
        let extra: Vec<(&str, String)> = fleet_file
            .map(|file| ("hosts_file", file.display().to_string()))
            .into_iter()
            .collect();
        self.service("remote-tasks", self.listen(REMOTE_TASKS_PORT), &extra)
    }

    /// notifications.
    pub fn notifications(&self) -> ChildSpec {
        self.service("notifications", self.listen(NOTIFICATIONS_PORT), &[])
    }

    /// inventory, refreshing through remote-tasks and publishing to notifications.
    pub fn inventory(&self, remote_tasks: SocketAddr, notifications: SocketAddr) -> ChildSpec {
        let mut extra = vec![
            ("remote_tasks.endpoint", format!("http://{remote_tasks}")),
            ("notifications.endpoint", format!("http://{notifications}")),
        ];
        if let Some(interval) = self.refresh_interval {
            extra.push((
                "refresh_interval",
                humantime::format_duration(interval).to_string(),
            ));
        }
        self.service("inventory", self.listen(INVENTORY_PORT), &extra)
    }

    /// jobs, running through remote-tasks, reading inventory, publishing to
    /// notifications.
    pub fn jobs(&self, endpoints: &Endpoints) -> ChildSpec {
        let extra = [
            (
                "remote_tasks.endpoint",
                format!("http://{}", endpoints.remote_tasks),
            ),
            (
                "inventory.endpoint",
                format!("http://{}", endpoints.inventory),
            ),
            (
                "notifications.endpoint",
                format!("http://{}", endpoints.notifications),
            ),
        ];
        self.service("jobs", self.listen(JOBS_PORT), &extra)
    }

    /// The gateway in front of every service, in development mode (no authentication
    /// exists yet; it listens on loopback).
    pub fn gateway(&self, endpoints: &Endpoints, jobs: SocketAddr) -> ChildSpec {
        let extra = [
            ("dev_mode", "true".to_string()),
            (
                "inventory.endpoint",
                format!("http://{}", endpoints.inventory),
            ),
            (
                "remote_tasks.endpoint",
                format!("http://{}", endpoints.remote_tasks),
            ),
            (
                "notifications.endpoint",
                format!("http://{}", endpoints.notifications),
            ),
            ("jobs.endpoint", format!("http://{jobs}")),
        ];
        self.service("gateway", self.gateway_listen.to_string(), &extra)
    }
}

fn control_flags() -> [String; 2] {
    ["--announce".to_string(), "--exit-with-parent".to_string()]
}

fn check_simulated(sim: &Simulated) -> Result<(), Error> {
    let invalid = |flag, message: String| Err(Error::Invalid { flag, message });
    if !(1..=5000).contains(&sim.hosts) {
        return invalid("--hosts", format!("must be 1 to 5000, got {}", sim.hosts));
    }
    if sim.vms_per_host > 1000 {
        return invalid(
            "--vms-per-host",
            format!("must be at most 1000, got {}", sim.vms_per_host),
        );
    }
    if u64::from(sim.clusters) * 2 > u64::from(sim.hosts) {
        return invalid(
            "--clusters",
            format!(
                "each cluster needs two hosts: {} clusters need {}, --hosts is {}",
                sim.clusters,
                u64::from(sim.clusters) * 2,
                sim.hosts
            ),
        );
    }
    if !(sim.time_scale > 0.0 && sim.time_scale <= 100.0) {
        return invalid(
            "--time-scale",
            format!("must be above 0 and at most 100, got {}", sim.time_scale),
        );
    }
    let [first, ..] = sim.base_address.octets();
    if first != 127 {
        return invalid(
            "--sim-base-address",
            format!(
                "must be a loopback address (127.x.y.z), got {}",
                sim.base_address
            ),
        );
    }
    Ok(())
}

/// True when the file's `[remote_tasks]` table lists hosts (`hosts` or `hosts_file`).
fn lists_hosts(path: &Path) -> Result<bool, Error> {
    let error = |message: String| Error::Config {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(format!("cannot be read: {e}")))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| error(format!("not valid TOML: {}", e.message())))?;
    let Some(section) = table.get("remote_tasks") else {
        return Ok(false);
    };
    let Some(section) = section.as_table() else {
        return Err(error("remote_tasks: must be a table".to_string()));
    };
    Ok(section.contains_key("hosts") || section.contains_key("hosts_file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_listing_hosts_means_a_real_fleet() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let real = dir.path().join("real.toml");
        let tuned = dir.path().join("tuned.toml");
        let broken = dir.path().join("broken.toml");
        let write = |path: &Path, text: &str| {
            std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
        };
        write(
            &real,
            "[remote_tasks]\nhosts = [{ name = \"hv01.lab\" }]\n[remote_tasks.winrm]\nusername = \"svc\"\n",
        );
        write(&tuned, "[inventory]\nrefresh_interval = \"10s\"\n");
        write(&broken, "[remote_tasks\n");
        assert!(lists_hosts(&real).unwrap_or(false));
        assert!(!lists_hosts(&tuned).unwrap_or(true));
        let message = lists_hosts(&broken).map_or_else(|e| e.to_string(), |_| String::new());
        assert!(message.contains("not valid TOML"), "{message}");
        assert!(lists_hosts(&dir.path().join("missing.toml")).is_err());
    }

    #[test]
    fn simulator_ranges_name_the_flag() {
        let mut sim = Simulated {
            hosts: 3,
            vms_per_host: 10,
            clusters: 2,
            seed: 1,
            base_address: Ipv4Addr::new(127, 0, 10, 1),
            time_scale: 1.0,
        };
        let message = check_simulated(&sim).map_or_else(|e| e.to_string(), |()| String::new());
        assert!(message.starts_with("--clusters"), "{message}");
        sim.clusters = 1;
        assert!(check_simulated(&sim).is_ok());
        sim.base_address = Ipv4Addr::new(10, 0, 0, 1);
        let message = check_simulated(&sim).map_or_else(|e| e.to_string(), |()| String::new());
        assert!(message.starts_with("--sim-base-address"), "{message}");
    }
}
