//! What `aetherv up` tells once everything is ready: the summary it prints (the UI URL and
//! each gRPC address) and the machine-readable `--ready-file` (addresses and process ids)
//! that tests, benchmarks and scripts read instead of parsing the output.

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::console;

/// One started process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    /// `hvsim`, `remote-tasks`, `notifications`, `inventory`, `jobs`, `gateway`.
    pub name: String,
    /// Its process id.
    pub pid: u32,
    /// Where it listens (hvsim: its control API).
    pub address: SocketAddr,
}

/// The simulated fleet, when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Simulator {
    /// The control API, `http://…`.
    pub control: String,
    /// Hosts.
    pub hosts: u32,
    /// VMs.
    pub vms: u64,
    /// The fleet file remote-tasks reads.
    pub fleet_config: Option<String>,
}

/// The `--ready-file` contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ready {
    /// The launcher's process id.
    pub launcher_pid: u32,
    /// The web UI and REST API, `http://…`.
    pub gateway: String,
    /// Every child, in start order.
    pub processes: Vec<Process>,
    /// The simulator, when the fleet is simulated.
    pub simulator: Option<Simulator>,
}

impl Ready {
    /// The address of `name`.
    pub fn address(&self, name: &str) -> Option<SocketAddr> {
        self.processes
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.address)
    }

    /// Prints the summary.
    pub fn print(&self, seconds: f64) {
        let mut lines = Vec::new();
        let fleet = match &self.simulator {
            Some(sim) => format!("simulated fleet of {} hosts and {} VMs", sim.hosts, sim.vms),
            None => "the configured fleet".to_string(),
        };
        lines.push(format!("Aether-V is up in {seconds:.1} s ({fleet})"));
        lines.push(format!(
            "  web UI             {}/   (REST {}/api/v1, WebSocket /ws, API docs /docs)",
            self.gateway, self.gateway
        ));
        for process in &self.processes {
            if process.name == "hvsim" || process.name == "gateway" {
                continue;
            }
            lines.push(format!("  {:<18} {} (gRPC)", process.name, process.address));
        }
        if let Some(sim) = &self.simulator {
            lines.push(format!("  simulator control  {}", sim.control));
        }
        if let Some(inventory) = self.address("inventory") {
            lines.push(format!(
                "  inspect with       grpcurl -plaintext {inventory} list"
            ));
        }
        lines.push("  press Ctrl-C to stop".to_string());
        for line in lines {
            console::say(&line);
        }
    }

    /// Writes the file atomically (a temporary file renamed over it).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        let partial = path.with_extension("partial");
        std::fs::write(&partial, text)?;
        std::fs::rename(&partial, path)
    }
}
