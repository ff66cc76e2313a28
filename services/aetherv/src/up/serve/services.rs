//! The five services, each as its binary's `main` does it: flags → configuration →
//! telemetry → bind → serve.

use std::net::SocketAddr;

use std::future::Future;
use std::pin::Pin;

use aetherv_runtime::config::{Loader, ServiceConfig, process_env};
use aetherv_runtime::display_chain;
use aetherv_runtime::telemetry::TelemetryConfig;
use tokio::net::TcpListener;

use super::{Announcement, CONFIG, ControlArgs, FAILED, ServiceArgs, shutdown};

/// The layered loader of `args`, with `--listen` mapped onto `server.listen`.
fn loader(args: &ServiceArgs) -> Loader {
    let mut loader = Loader::new().env(process_env()).args(&args.common);
    if let Some(listen) = &args.listen {
        loader = loader.flag("server.listen", listen.clone(), "--listen");
    }
    loader
}

/// Prints every configuration problem and returns the exit code for them.
fn refuse(service: &str, reasons: &[String]) -> u8 {
    eprintln!("aetherv serve {service}: the configuration is invalid:");
    for reason in reasons {
        eprintln!("  {reason}");
    }
    CONFIG
}

/// What ends a service: SIGINT/SIGTERM, or the parent going away.
type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

fn telemetry(service: &str, config: &TelemetryConfig) -> bool {
    match aetherv_runtime::telemetry::init(config) {
        Ok(()) => true,
        Err(error) => {
            eprintln!("aetherv serve {service}: {}", display_chain(&error));
            false
        }
    }
}

/// Binds `listen` and announces it; `None` (logged) when it cannot be bound.
async fn bind(service: &str, listen: SocketAddr, control: ControlArgs) -> Option<TcpListener> {
    match TcpListener::bind(listen).await {
        Ok(listener) => {
            let address = listener.local_addr().unwrap_or(listen);
            Announcement::service(service, address).print(control);
            Some(listener)
        }
        Err(error) => {
            tracing::error!(%listen, %error, "cannot listen");
            eprintln!("aetherv serve {service}: cannot listen on {listen}: {error}");
            None
        }
    }
}

fn finished<E: std::error::Error + 'static>(service: &str, outcome: Result<(), E>) -> u8 {
    match outcome {
        Ok(()) => 0,
        Err(error) => {
            tracing::error!(error = %display_chain(&error), "{service} stopped");
            FAILED
        }
    }
}

/// `aetherv serve remote-tasks`: an invalid configuration still serves, NOT_SERVING with
/// the reasons (as `aetherv-remote-tasks`); a password given as a flag or written in the
/// file is one of them.
pub async fn remote_tasks(args: ServiceArgs) -> u8 {
    use aetherv_remote_tasks::config::{Startup, forbidden_password_sources, startup};
    const NAME: &str = "remote-tasks";
    let set_keys: Vec<String> = args.common.set.iter().map(|kv| kv.key.clone()).collect();
    let forbidden = forbidden_password_sources(args.common.config.as_deref(), &set_keys);
    let startup = match startup(|| loader(&args), forbidden) {
        Ok(startup) => startup,
        Err(reasons) => return refuse(NAME, &reasons),
    };
    let config = startup.config().clone();
    if !telemetry(NAME, &config.telemetry) {
        return CONFIG;
    }
    if let Startup::Invalid { reasons, .. } = &startup {
        tracing::error!(
            problems = reasons.len(),
            "the configuration is invalid: serving NOT_SERVING until it is fixed and the service restarted"
        );
    }
    let Some(listener) = bind(NAME, config.server.listen, args.control).await else {
        return FAILED;
    };
    let outcome = aetherv_remote_tasks::serve(startup, listener, shutdown(args.control)).await;
    finished(NAME, outcome)
}

/// Configuration → telemetry → bind → `serve`, for the services whose configuration,
/// once it loads, is valid. `parts` reads the telemetry settings and the listen address.
async fn serve_loaded<C, T, E, Fut>(
    name: &str,
    args: ServiceArgs,
    parts: fn(&C) -> (&TelemetryConfig, SocketAddr),
    serve: impl FnOnce(C, TcpListener, Shutdown) -> Fut,
) -> u8
where
    C: ServiceConfig,
    Fut: Future<Output = Result<T, E>>,
    E: std::error::Error + 'static,
{
    let config: C = match loader(&args).load() {
        Ok(config) => config,
        Err(error) => return refuse(name, &error.reasons()),
    };
    let (telemetry_config, listen) = parts(&config);
    if !telemetry(name, telemetry_config) {
        return CONFIG;
    }
    let Some(listener) = bind(name, listen, args.control).await else {
        return FAILED;
    };
    let outcome = serve(config, listener, shutdown(args.control)).await;
    finished(name, outcome.map(|_| ()))
}

/// `aetherv serve inventory`.
pub async fn inventory(args: ServiceArgs) -> u8 {
    serve_loaded(
        "inventory",
        args,
        |c: &aetherv_inventory::Config| (&c.telemetry, c.server.listen),
        aetherv_inventory::serve,
    )
    .await
}

/// `aetherv serve jobs`.
pub async fn jobs(args: ServiceArgs) -> u8 {
    serve_loaded(
        "jobs",
        args,
        |c: &aetherv_jobs::Config| (&c.telemetry, c.server.listen),
        aetherv_jobs::serve,
    )
    .await
}

/// `aetherv serve notifications`.
pub async fn notifications(args: ServiceArgs) -> u8 {
    serve_loaded(
        "notifications",
        args,
        |c: &aetherv_notifications::Config| (&c.telemetry, c.server.listen),
        aetherv_notifications::serve,
    )
    .await
}

/// `aetherv serve gateway`: problems types cannot catch (no `dev_mode`, a malformed
/// endpoint) start it in diagnostic mode, as `aetherv-gateway`.
pub async fn gateway(args: ServiceArgs) -> u8 {
    serve_loaded(
        "gateway",
        args,
        |c: &aetherv_gateway::Config| (&c.telemetry, c.server.listen),
        aetherv_gateway::serve,
    )
    .await
}
