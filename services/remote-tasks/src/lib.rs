//! The remote-tasks service (`aetherv.remotetasks.v1.RemoteTasks`): the only process that
//! holds host credentials. It runs agent operations (`schemas/agent/`) on Hyper-V hosts
//! through the WinRM [`aetherv_hyperv::WinrmHostAgent`], under a global, a per-host, a
//! per-category and a per-host-per-category limit, with bounded queues that refuse at once
//! when full, per-category run timeouts after which the remote command is really stopped
//! (WinRS Signal terminate, then Delete), and each operation's log and progress lines
//! streamed to the caller as they arrive. Called by inventory, host-deploy, jobs and the
//! gateway (through the generated gRPC client); calls the hosts, nothing else.
//!
//! Layout: [`domain`] holds the logic (the [`domain::scheduler`], the per-task
//! [`domain::runner`], metrics, the Cancel registry, the [`domain::Tasks`] facade) and
//! knows nothing of tonic; [`grpc`] only converts; [`config`] loads and resolves the
//! configuration. [`serve`] wires them into an `aetherv_runtime::GrpcServer`.
//!
//! # Configuration (`[remote_tasks]`)
//!
//! Through the runtime's loader: defaults → TOML file (`--config`) → environment
//! `AETHERV_REMOTE_TASKS__<KEY>[__<SUBKEY>]` → flags (`--set key=value`, `--listen`,
//! `--hosts-file`). `config.example.toml` beside this crate shows every key.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `server.listen` | `127.0.0.1:50051` | address the binary binds |
//! | `server.drain_timeout` | `10s` | how long Run streams may take to finish on shutdown; then the remaining tasks are cancelled (stopped on their hosts) |
//! | `server.keepalive_interval` | `30s` | HTTP/2 pings, so a vanished caller of a long Run is noticed (and its task cancelled) |
//! | `telemetry.filter`, `telemetry.format` | `info`, `text` | logging (`text` or `json`) |
//! | `hosts` | none | inline hosts: `[[remote_tasks.hosts]]` with `name` (the host id, lower-cased) and optional `endpoint` (default `http://<name>:5985/wsman`) |
//! | `hosts_file` | none | instead of `hosts`: the file `aetherv-hvsim --write-fleet-config` writes (`[[hosts]]` name/endpoint and a `[winrm]` table with auth, username, password_file, ca_file) |
//! | `winrm.auth` | `ntlm` | `ntlm` (message encryption over HTTP, or HTTPS) or `basic` (HTTPS only unless `insecure_http`) |
//! | `winrm.username` | none | `user`, `DOMAIN\user` or `user@domain` |
//! | `winrm.password` | none | **only** from the environment variable `AETHERV_REMOTE_TASKS__WINRM__PASSWORD`; refused as a flag or in the configuration file |
//! | `winrm.password_file` | none | or: a file whose first line is the password (mode 0600; a warning otherwise) |
//! | `winrm.ca_file` | system roots | PEM CA certificates for HTTPS endpoints |
//! | `winrm.insecure_http` | `false` | allow Basic over plain HTTP (lab only) |
//! | `winrm.connect_timeout` | `10s` | TCP/TLS connect |
//! | `winrm.operation_timeout` | `30s` | one WS-Management request; an unresponsive host is detected after this long |
//! | `winrm.pool_size` | `4` | authenticated keep-alive connections kept per host |
//! | `limits.global_in_flight` | `64` | operations running at once, all hosts |
//! | `limits.per_host_in_flight` | `4` | operations running at once on one host (a limit above the one enclosing it is capped by it; Metrics shows the limits in force) |
//! | `limits.per_host_queue_capacity` | `256` | tasks waiting for one host; more → RESOURCE_EXHAUSTED |
//! | `limits.<category>.in_flight` | inventory 64, control 32, io 16, deploy 16, watch 10000 | operations of the category running at once |
//! | `limits.<category>.per_host_in_flight` | inventory 2, control 4, io 1, deploy 1, watch 1 | of the category on one host |
//! | `limits.<category>.queue_capacity` | inventory 4096, control 2048, io 1024, deploy 1024, watch 10000 | waiting tasks; more → RESOURCE_EXHAUSTED |
//! | `limits.<category>.default_timeout` | inventory 1m, control 5m, io 30m, deploy 10m, watch 10m | run timeout when the request names none |
//! | `limits.<category>.max_timeout` | inventory 5m, control 30m, io 4h, deploy 1h, watch 2h | longest run timeout a request may ask for |
//!
//! The `watch` category (`inventory.watch`, and only it) is not counted against
//! `global_in_flight` nor `per_host_in_flight`: a watch runs on every host for minutes.
//!
//! Keys of `[remote_tasks.winrm]` left unset take the hosts file's `[winrm]` values.
//! An invalid configuration does not stop the process: it serves `grpc.health.v1`
//! NOT_SERVING with the reasons (also on `aetherv.common.v1.Diagnostics/GetStatus`) and
//! every RemoteTasks call answers FAILED_PRECONDITION naming them. Unreachable hosts do not
//! affect health: hosts are not a dependency of readiness.
//!
//! # Behaviour
//!
//! - **Admission** ([`domain::scheduler`]): a task waits until a global, a host, a category
//!   and a host-category slot are all free, and takes them together; tasks of one host and
//!   category start in arrival order; a busy host never holds back other hosts.
//! - **Timeouts** cover the run, not the queueing; a gRPC deadline on the call bounds both.
//!   A timed-out or cancelled task is stopped on the host before its result is sent.
//! - **Streams** carry `accepted`, `started`, the agent's log/progress lines, then the
//!   result. A reader too slow for the log/progress lines loses some (the `sequence` shows
//!   the gap); a reader that goes away cancels its task.
//! - **Logs**: one line when a task starts and one when it ends (host, operation,
//!   category, duration, outcome); never params, never credentials.

#![forbid(unsafe_code)]

pub mod config;
pub mod domain;
pub mod grpc;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aetherv_hyperv::{WinrmAgentOptions, WinrmHostAgent};
use aetherv_proto::remotetasks::v1::remote_tasks_server::RemoteTasksServer;
use aetherv_runtime::GrpcServer;
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;

pub use config::{Config, HostEntry, Startup};
use domain::Tasks;
use grpc::RemoteTasksService;

/// The process name reported by Diagnostics.
pub const SERVICE_NAME: &str = "aetherv-remote-tasks";

/// How long past its run timeout an operation may take to be stopped on its host before
/// it is abandoned (the WinRM agent's own clean-up is bounded at 30 s).
pub const STOP_GRACE: Duration = Duration::from_secs(45);

/// After the drain, how long the tasks still queued or running get to be stopped.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(40);

/// Why the service could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The gRPC server failed.
    #[error("remote-tasks grpc server failed")]
    Server(#[from] aetherv_runtime::server::Error),
}

/// Serves RemoteTasks on `listener` until `shutdown` resolves, then drains: Run streams
/// get `server.drain_timeout` to finish, then every task still queued or running is
/// cancelled and stopped on its host.
pub async fn serve<F>(
    config: impl Into<Startup>,
    listener: TcpListener,
    shutdown: F,
) -> Result<(), Error>
where
    F: Future<Output = ()>,
{
    let startup = config.into();
    let server_config = startup.config().server.clone();
    let service = match prepare(startup) {
        Ok(tasks) => RemoteTasksService::Ready(tasks),
        Err(reasons) => RemoteTasksService::Misconfigured(reasons),
    };
    let grpc = RemoteTasksServer::new(service.clone())
        // Answers go uncompressed: between services (loopback, or pod to pod) gzip cost
        // more CPU than the bytes it saved — power_jobs: 8.9 → 7.2 s of CPU for 1,000 jobs.
        .accept_compressed(CompressionEncoding::Gzip);
    let server = GrpcServer::new(SERVICE_NAME, &server_config).add_service(grpc);
    let health = server.health();
    let tasks = match &service {
        RemoteTasksService::Ready(tasks) => {
            health.set_serving().await;
            Some(tasks.clone())
        }
        RemoteTasksService::Misconfigured(reasons) => {
            for reason in reasons {
                tracing::error!(%reason, "configuration problem");
            }
            health.set_not_serving(reasons.clone()).await;
            None
        }
    };
    // New Runs are refused (UNAVAILABLE) from the moment the drain begins.
    let closer = tasks.clone().map(|tasks| {
        let mut drain = health.drain_signal();
        tokio::spawn(async move {
            drain.wait().await;
            tasks.close();
        })
    });
    let outcome = server.serve(listener, shutdown).await;
    if let Some(closer) = closer {
        closer.abort();
    }
    if let Some(tasks) = tasks {
        let live = tasks.live_tasks();
        if !tasks.shutdown(SHUTDOWN_WAIT).await {
            tracing::warn!(
                live,
                "some tasks were not stopped on their hosts before shutdown"
            );
        }
    }
    outcome?;
    Ok(())
}

/// Resolves the configuration and builds the domain; `Err` with every reason not to.
fn prepare(startup: Startup) -> Result<Tasks, Vec<String>> {
    let config = match startup {
        Startup::Loaded(config) => config,
        Startup::Invalid { reasons, .. } => return Err(reasons),
    };
    let resolved = config.resolve()?;
    let options = WinrmAgentOptions {
        reuse_connections: true,
        max_connections_per_host: resolved.pool_size,
    };
    let agent = WinrmHostAgent::with_options(options).map_err(|error| {
        vec![format!(
            "the built-in host agent bundle cannot be used: {}",
            aetherv_runtime::display_chain(&error)
        )]
    })?;
    tracing::info!(
        hosts = resolved.hosts.len(),
        global_in_flight = resolved.limits.global_in_flight,
        per_host_in_flight = resolved.limits.per_host_in_flight,
        "remote-tasks configured"
    );
    Ok(Tasks::new(
        resolved.hosts,
        resolved.limits,
        Arc::new(agent),
        STOP_GRACE,
    ))
}
