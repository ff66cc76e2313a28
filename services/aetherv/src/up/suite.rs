//! The launcher's life: start the children in dependency order and wait for each to be
//! healthy, print the summary, watch for a signal or a child's death, then stop every child
//! in reverse order.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use aetherv_hvsim::credentials::{generate_password, write_secret_file};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::child::{self, Child, ChildSpec, Exit, Stopped};
use super::plan::{Endpoints, Fleet, Plan};
use super::ready::{self, Dependencies};
use super::report::{Process, Ready, Simulator};
use super::serve::Announcement;
use super::{Signals, console};

/// How the launcher runs, beside the plan.
pub struct Settings {
    /// This executable (re-run as `aetherv serve …`).
    pub exe: PathBuf,
    /// The private temporary folder (password and fleet files).
    pub state: PathBuf,
    /// Time each child has to become healthy.
    pub start_timeout: Duration,
    /// Time each child has to stop after SIGTERM.
    pub stop_timeout: Duration,
    /// Where to write [`Ready`].
    pub ready_file: Option<PathBuf>,
}

/// Why the suite ended.
enum Ending {
    /// A signal.
    Signal(&'static str),
    /// A child exited by itself.
    Died(Exit),
    /// A child did not become healthy.
    NotReady {
        name: &'static str,
        reasons: Vec<String>,
    },
    /// Something else went wrong while starting.
    Failed(String),
}

/// The children started so far.
struct Children {
    list: Vec<Child>,
    exits: mpsc::UnboundedSender<Exit>,
    exe: PathBuf,
    deadline: Instant,
}

impl Children {
    /// Starts `spec` and waits for its announcement.
    async fn start(&mut self, spec: ChildSpec) -> Result<Announcement, Ending> {
        let name = spec.name;
        let (child, announced) = Child::spawn(&self.exe, spec, self.exits.clone())
            .map_err(|error| Ending::Failed(error.to_string()))?;
        console::say(&format!("starting {name} (pid {})", child.pid));
        self.list.push(child);
        let waited = tokio::time::timeout_at(self.deadline, announced).await;
        match waited {
            Ok(Ok(announcement)) => Ok(announcement),
            Ok(Err(oneshot::error::RecvError { .. })) => Err(self.died(name).await),
            Err(_) => Err(Ending::NotReady {
                name,
                reasons: vec!["it did not say where it listens in time".to_string()],
            }),
        }
    }

    /// The ending for a child whose output ended before it announced itself.
    async fn died(&mut self, name: &'static str) -> Ending {
        let Some(child) = self.list.iter_mut().find(|c| c.name == name) else {
            return Ending::Failed(format!("{name} vanished"));
        };
        match child.wait(Duration::from_secs(5)).await {
            Some(status) => Ending::Died(Exit { name, status }),
            None => Ending::Failed(format!("{name} closed its output without announcing")),
        }
    }

    fn process(&self, name: &str, address: SocketAddr) -> Process {
        let pid = self
            .list
            .iter()
            .find(|c| c.name == name)
            .map_or(0, |c| c.pid);
        Process {
            name: name.to_string(),
            pid,
            address,
        }
    }
}

fn not_ready(name: &'static str) -> impl FnOnce(ready::NotReady) -> Ending {
    move |error| Ending::NotReady {
        name,
        reasons: error.reasons,
    }
}

/// Starts everything in order; the summary of what runs.
async fn start(plan: &Plan, settings: &Settings, children: &mut Children) -> Result<Ready, Ending> {
    let mut processes = Vec::new();
    let mut simulator = None;
    let mut fleet_file = None;
    if let Fleet::Simulated(sim) = &plan.fleet {
        let password_file = settings.state.join("winrm-password");
        write_secret_file(&password_file, &generate_password())
            .map_err(|error| Ending::Failed(error.to_string()))?;
        let file = settings.state.join("fleet.toml");
        console::say(&format!(
            "simulated fleet: {} hosts, {} VMs each, {} {}, seed {}",
            sim.hosts,
            sim.vms_per_host,
            sim.clusters,
            if sim.clusters == 1 {
                "cluster"
            } else {
                "clusters"
            },
            sim.seed
        ));
        let announced = children
            .start(plan.hvsim(sim, &password_file, &file))
            .await?;
        simulator = Some(Simulator {
            control: format!("http://{}", announced.address),
            hosts: announced.hosts.unwrap_or(sim.hosts),
            vms: announced.vms.unwrap_or_default(),
            fleet_config: announced.fleet_config.clone(),
        });
        processes.push(children.process("hvsim", announced.address));
        fleet_file = Some(file);
    }
    let remote_tasks = children
        .start(plan.remote_tasks(fleet_file.as_deref()))
        .await?
        .address;
    processes.push(children.process("remote-tasks", remote_tasks));
    ready::grpc(remote_tasks, Dependencies::None, children.deadline)
        .await
        .map_err(not_ready("remote-tasks"))?;
    console::say(&format!("remote-tasks serving on {remote_tasks}"));
    let notifications = children.start(plan.notifications()).await?.address;
    processes.push(children.process("notifications", notifications));
    ready::grpc(notifications, Dependencies::None, children.deadline)
        .await
        .map_err(not_ready("notifications"))?;
    console::say(&format!("notifications serving on {notifications}"));
    let inventory = children
        .start(plan.inventory(remote_tasks, notifications))
        .await?
        .address;
    processes.push(children.process("inventory", inventory));
    ready::grpc(inventory, Dependencies::Some, children.deadline)
        .await
        .map_err(not_ready("inventory"))?;
    console::say(&format!("inventory serving on {inventory}"));
    let endpoints = Endpoints {
        remote_tasks,
        notifications,
        inventory,
    };
    let jobs = children.start(plan.jobs(&endpoints)).await?.address;
    processes.push(children.process("jobs", jobs));
    ready::grpc(jobs, Dependencies::Some, children.deadline)
        .await
        .map_err(not_ready("jobs"))?;
    console::say(&format!("jobs serving on {jobs}"));
    let gateway = children
        .start(plan.gateway(&endpoints, jobs))
        .await?
        .address;
    processes.push(children.process("gateway", gateway));
    ready::gateway(gateway, children.deadline)
        .await
        .map_err(not_ready("gateway"))?;
    Ok(Ready {
        launcher_pid: std::process::id(),
        gateway: format!("http://{gateway}"),
        processes,
        simulator,
    })
}

/// Runs the suite until a signal or a failure; returns the exit code.
pub async fn run(plan: &Plan, settings: &Settings, mut signals: Signals) -> u8 {
    let began = Instant::now();
    let (exits_tx, mut exits) = mpsc::unbounded_channel();
    let mut children = Children {
        list: Vec::new(),
        exits: exits_tx,
        exe: settings.exe.clone(),
        deadline: began + settings.start_timeout,
    };
    let started = tokio::select! {
        started = start(plan, settings, &mut children) => started,
        name = signals.next() => Err(Ending::Signal(name)),
        Some(exit) = exits.recv() => Err(Ending::Died(exit)),
    };
    let mut watcher = None;
    let ending = match started {
        Err(ending) => ending,
        Ok(ready) => {
            ready.print(began.elapsed().as_secs_f64());
            if let Some(path) = &settings.ready_file
                && let Err(error) = ready.write(path)
            {
                console::say(&format!("cannot write {}: {error}", path.display()));
            }
            if let Some(inventory) = ready.address("inventory") {
                watcher = Some(tokio::spawn(announce_complete(inventory, began)));
            }
            tokio::select! {
                name = signals.next() => Ending::Signal(name),
                Some(exit) = exits.recv() => Ending::Died(exit),
            }
        }
    };
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    let failed = report(&ending, &mut children.list).await;
    let calm_until = Instant::now() + Duration::from_secs(1);
    let clean = stop_all(
        &mut children.list,
        settings.stop_timeout,
        &mut signals,
        calm_until,
    )
    .await;
    if failed || !clean { 1 } else { 0 }
}

/// Prints why the suite ends; true when it is a failure.
async fn report(ending: &Ending, children: &mut [Child]) -> bool {
    match ending {
        Ending::Signal(name) => {
            console::say(&format!("{name} received: stopping every service"));
            false
        }
        Ending::Died(exit) => {
            let pid = children
                .iter()
                .find(|c| c.name == exit.name)
                .map_or(0, |c| c.pid);
            console::say(&format!(
                "{} (pid {pid}) exited unexpectedly ({}); stopping the others",
                exit.name,
                child::describe(exit.status)
            ));
            if let Some(child) = children.iter_mut().find(|c| c.name == exit.name) {
                let lines = child.last_lines().await;
                if !lines.is_empty() {
                    console::say(&format!("last lines of {}:", exit.name));
                    for line in lines {
                        console::say(&format!("  | {line}"));
                    }
                }
            }
            true
        }
        Ending::NotReady { name, reasons } => {
            console::say(&format!(
                "{name} did not become healthy; stopping the others. Reasons:"
            ));
            for reason in reasons {
                console::say(&format!("  - {reason}"));
            }
            true
        }
        Ending::Failed(message) => {
            console::say(&format!("cannot start the suite: {message}"));
            true
        }
    }
}

/// Stops every child, last started first. A signal after `calm_until` (a second Ctrl-C;
/// the first one's duplicates — `timeout` signals the process and then its group — arrive
/// within it) kills the rest at once. True when every child stopped by itself with exit
/// code 0.
async fn stop_all(
    children: &mut [Child],
    grace: Duration,
    signals: &mut Signals,
    calm_until: Instant,
) -> bool {
    let mut clean = true;
    let mut forced = false;
    for child in children.iter_mut().rev() {
        let name = child.name;
        let began = Instant::now();
        let outcome = if forced {
            None
        } else {
            let stop = child.stop(grace);
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    stopped = &mut stop => break Some(stopped),
                    _ = signals.next() => {
                        if Instant::now() < calm_until {
                            continue;
                        }
                        console::say("second signal: killing the remaining services");
                        forced = true;
                        break None;
                    }
                }
            }
        };
        let stopped = match outcome {
            Some(stopped) => stopped,
            None => {
                child.kill();
                child.wait(Duration::from_secs(10)).await;
                Stopped::Killed
            }
        };
        match stopped {
            Stopped::Clean(status) if status.success() => console::say(&format!(
                "{name} stopped ({:.1} s)",
                began.elapsed().as_secs_f64()
            )),
            Stopped::Clean(status) => {
                clean = false;
                console::say(&format!("{name} stopped with {}", child::describe(status)));
            }
            Stopped::Earlier(_) => clean = false,
            Stopped::Killed if forced => {
                clean = false;
                console::say(&format!("{name} killed"));
            }
            Stopped::Killed => {
                clean = false;
                console::say(&format!(
                    "{name} was killed: it did not stop within {} of SIGTERM",
                    humantime::format_duration(grace)
                ));
            }
        }
    }
    clean
}

/// Prints once when inventory has tried every host.
async fn announce_complete(inventory: SocketAddr, began: Instant) {
    let complete = ready::inventory_complete(inventory).await;
    console::say(&format!(
        "first inventory complete {:.1} s after start: {} of {} hosts reachable, {} VMs, {} {}",
        began.elapsed().as_secs_f64(),
        complete.reachable,
        complete.hosts,
        complete.vms,
        complete.clusters,
        if complete.clusters == 1 {
            "cluster"
        } else {
            "clusters"
        }
    ));
}
