//! `with-stack`: a [`TestStack`] (the simulated fleet and every service in this process,
//! the simulator's control API on) for a script in another process — a browser spec, a
//! load tool, a manual session. Once inventory has converged it runs the command after
//! `--` with `{gateway}`, `{sim_control}`, `{remote_tasks}`, `{inventory}`, `{jobs}` and
//! `{notifications}` in its arguments replaced by their URLs (and `AETHERV_GATEWAY_URL`,
//! `AETHERV_SIM_CONTROL` in its environment), stops the stack and exits with the command's
//! code. Without a command it prints the addresses and serves until Ctrl-C.
//!
//! ```text
//! cargo run -p aetherv-tests --bin with-stack -- --hosts 4 --vms-per-host 12 -- \
//!     node tests/browser/ui.spec.mjs --base-url {gateway} --sim-control {sim_control}
//! ```

use std::process::ExitCode;

use aetherv_tests::TestStack;
use anyhow::Context;
use clap::Parser;

/// Runs a command against a whole in-process Aether-V suite on a simulated fleet.
#[derive(Debug, Parser)]
#[command(name = "with-stack")]
struct Args {
    /// Simulated hosts.
    #[arg(long, default_value_t = 4)]
    hosts: u32,
    /// VMs per host.
    #[arg(long, default_value_t = 12)]
    vms_per_host: u32,
    /// Failover clusters.
    #[arg(long, default_value_t = 1)]
    clusters: u32,
    /// Fleet seed.
    #[arg(long, default_value_t = 11)]
    seed: u64,
    /// Scale of simulated durations.
    #[arg(long, default_value_t = 0.05)]
    time_scale: f64,
    /// The command and its arguments, after `--`.
    #[arg(last = true)]
    command: Vec<String>,
}

async fn run(args: Args) -> anyhow::Result<u8> {
    let stack = TestStack::builder()
        .hosts(args.hosts)
        .vms_per_host(args.vms_per_host)
        .clusters(args.clusters)
        .seed(args.seed)
        .time_scale(args.time_scale)
        .control_api()
        .start()
        .await?;
    stack.wait_for_converged().await?;
    let gateway = stack.gateway_url()?;
    let control = stack
        .sim_control_url()
        .context("the simulator's control api")?;
    let mut places = vec![
        ("{gateway}".to_string(), gateway.clone()),
        ("{sim_control}".to_string(), control.clone()),
    ];
    for (name, address) in stack.grpc_services() {
        places.push((
            format!("{{{}}}", name.replace('-', "_")),
            format!("http://{address}"),
        ));
    }
    for (place, value) in &places {
        println!("{} {value}", place.trim_matches(['{', '}']));
    }
    let code = match args.command.split_first() {
        None => {
            println!("serving until Ctrl-C");
            tokio::signal::ctrl_c().await?;
            0
        }
        Some((program, rest)) => {
            let rest: Vec<String> = rest
                .iter()
                .map(|arg| {
                    places
                        .iter()
                        .fold(arg.clone(), |arg, (place, value)| arg.replace(place, value))
                })
                .collect();
            let status = tokio::process::Command::new(program)
                .args(&rest)
                .env("AETHERV_GATEWAY_URL", &gateway)
                .env("AETHERV_SIM_CONTROL", &control)
                .kill_on_drop(true)
                .status()
                .await
                .with_context(|| format!("cannot run {program}"))?;
            status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .unwrap_or(1)
        }
    };
    stack.stop().await?;
    Ok(code)
}

#[tokio::main]
async fn main() -> ExitCode {
    aetherv_tests::logs::init_with_default("warn");
    match run(Args::parse()).await {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("with-stack: {error:#}");
            ExitCode::FAILURE
        }
    }
}
