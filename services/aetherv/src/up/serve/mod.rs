//! `aetherv serve <service>`: one service of the suite in the foreground, linked into this
//! binary — what `aetherv up` starts as a separate process for each service, and what an
//! operator can run by hand. Each service runs exactly as its own binary
//! (`aetherv-inventory`, …) does: configuration layers (defaults → `--config` file →
//! `AETHERV_<SECTION>__…` environment → flags), its telemetry on stderr, bind, `serve`,
//! graceful stop on SIGINT/SIGTERM.
//!
//! Two flags exist for the launcher: `--announce` prints one JSON line on stdout once the
//! service listens ([`Announcement`]), and `--exit-with-parent` shuts the service down when
//! stdin reaches end of file — the launcher holds the other end of that pipe, so its
//! children never outlive it, even when it is killed outright.
//!
//! Exit codes, as the service binaries: 0 after a clean stop, 1 when the listener cannot
//! be bound or the server fails, 2 when the configuration cannot be read at all.

mod services;
mod sim;

use std::future::Future;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::pin::Pin;

use aetherv_runtime::config::CommonArgs;
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};

pub use sim::SimArgs;

/// The exit code for a configuration that cannot be read.
pub const CONFIG: u8 = 2;
/// The exit code for a listener that cannot be bound or a server that failed.
pub const FAILED: u8 = 1;

/// `aetherv serve <service>`
#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// The simulated Hyper-V fleet: one WinRM endpoint per host on 127.0.10.x and an HTTP
    /// control API (aetherv-hvsim's library).
    Hvsim(SimArgs),
    /// remote-tasks: runs agent operations on the hosts (gRPC, default 127.0.0.1:50051).
    RemoteTasks(ServiceArgs),
    /// inventory: the fleet model (gRPC, default 127.0.0.1:50053).
    Inventory(ServiceArgs),
    /// jobs: every change to the fleet, as jobs (gRPC, default 127.0.0.1:50054).
    Jobs(ServiceArgs),
    /// notifications: operator notifications (gRPC, default 127.0.0.1:50055).
    Notifications(ServiceArgs),
    /// The HTTP gateway: web UI, REST API, WebSocket (default 127.0.0.1:8080).
    Gateway(ServiceArgs),
}

/// The flags of every service.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Address to listen on (sets `server.listen`); port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    #[command(flatten)]
    pub control: ControlArgs,
}

/// The flags `aetherv up` gives its children.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct ControlArgs {
    /// Print one JSON line on stdout once listening:
    /// `{"aetherv_serve":{"service":…,"address":…}}`.
    #[arg(long)]
    pub announce: bool,
    /// Shut down when stdin reaches end of file (the parent went away).
    #[arg(long)]
    pub exit_with_parent: bool,
}

/// The line `--announce` prints: where the service listens (for hvsim: its control API),
/// and for hvsim what it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    /// `hvsim`, `remote-tasks`, `notifications`, `inventory`, `jobs` or `gateway`.
    pub service: String,
    /// The bound address.
    pub address: SocketAddr,
    /// hvsim: the fleet file written for remote-tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet_config: Option<String>,
    /// hvsim: hosts served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<u32>,
    /// hvsim: VMs across the fleet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vms: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct Line {
    aetherv_serve: Announcement,
}

impl Announcement {
    /// A service's announcement.
    pub fn service(service: &str, address: SocketAddr) -> Announcement {
        Announcement {
            service: service.to_string(),
            address,
            fleet_config: None,
            hosts: None,
            vms: None,
        }
    }

    /// The JSON line.
    pub fn to_line(&self) -> String {
        let line = Line {
            aetherv_serve: self.clone(),
        };
        serde_json::to_string(&line).unwrap_or_default()
    }

    /// Parses a stdout line; `None` when it is not an announcement.
    pub fn parse(line: &str) -> Option<Announcement> {
        if !line.starts_with("{\"aetherv_serve\"") {
            return None;
        }
        serde_json::from_str::<Line>(line)
            .ok()
            .map(|line| line.aetherv_serve)
    }

    /// Prints the line on stdout when `control.announce`.
    fn print(&self, control: ControlArgs) {
        if control.announce {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", self.to_line());
            let _ = out.flush();
        }
    }
}

/// Runs the service; returns the exit code.
pub async fn run(command: ServeCommand) -> u8 {
    match command {
        ServeCommand::Hvsim(args) => sim::run(args).await,
        ServeCommand::RemoteTasks(args) => services::remote_tasks(args).await,
        ServeCommand::Inventory(args) => services::inventory(args).await,
        ServeCommand::Jobs(args) => services::jobs(args).await,
        ServeCommand::Notifications(args) => services::notifications(args).await,
        ServeCommand::Gateway(args) => services::gateway(args).await,
    }
}

/// Resolves on SIGINT or SIGTERM, and with `exit_with_parent` when stdin closes.
fn shutdown(control: ControlArgs) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    if !control.exit_with_parent {
        return Box::pin(aetherv_runtime::signal_shutdown());
    }
    let (closed, on_closed) = tokio::sync::oneshot::channel::<()>();
    // A plain thread, not the runtime's blocking pool: a read that never returns must not
    // hold the runtime open when the service stops for another reason.
    let watcher = std::thread::Builder::new()
        .name("stdin-eof".to_string())
        .spawn(move || {
            let mut stdin = std::io::stdin();
            let mut buffer = [0u8; 256];
            loop {
                match stdin.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            let _ = closed.send(());
        });
    if let Err(error) = watcher {
        tracing::warn!(%error, "cannot watch stdin; only signals stop this process");
    }
    Box::pin(async move {
        tokio::select! {
            () = aetherv_runtime::signal_shutdown() => {}
            Ok(()) = on_closed => tracing::info!("the parent process went away, shutting down"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_round_trip_and_other_lines_are_not_announcements() {
        let mut announcement =
            Announcement::service("hvsim", SocketAddr::from(([127, 0, 0, 1], 4242)));
        announcement.hosts = Some(4);
        announcement.vms = Some(48);
        announcement.fleet_config = Some("/tmp/x/fleet.toml".to_string());
        let line = announcement.to_line();
        assert_eq!(Announcement::parse(&line), Some(announcement));
        assert_eq!(Announcement::parse("2026-01-01 INFO listening"), None);
        assert_eq!(Announcement::parse("{\"ready\":true}"), None);
        assert_eq!(Announcement::parse("{\"aetherv_serve\":{}}"), None);
    }
}
