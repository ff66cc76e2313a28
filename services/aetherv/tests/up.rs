//! The built `aetherv up`: it starts the simulated fleet and every service as separate
//! processes, prints the UI URL, serves `/readyz` and the fleet's hosts, shows each child's
//! logs with its `[name]` prefix, keeps the password off every command line, and on
//! SIGINT stops every child; a child that dies is reported by name and the others are
//! stopped; a configuration file listing hosts runs the suite against that fleet without
//! the simulator; a remote-tasks configuration it cannot use is reported with the reason.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aetherv_hvsim::SimFleet;
use aetherv_tests::http::HttpClient;
use aetherv_tests::wait::Outcome;
use aetherv_tests::wait_for;
use rustix::process::{Pid, Signal, kill_process};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const AETHERV: &str = env!("CARGO_BIN_EXE_aetherv");
const LIMIT: Duration = Duration::from_secs(90);

/// `aetherv up` running, its output collected line by line.
struct Launcher {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    ready_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Launcher {
    /// `aetherv up <args> --ephemeral-ports --ready-file <tmp>`.
    fn start(args: &[&str]) -> anyhow::Result<Launcher> {
        let dir = tempfile::tempdir()?;
        let ready_file = dir.path().join("ready.json");
        let mut child = Command::new(AETHERV)
            .arg("up")
            .args(args)
            .arg("--ephemeral-ports")
            .arg("--ready-file")
            .arg(&ready_file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let lines = lines.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    if let Ok(mut lines) = lines.lock() {
                        lines.push(line);
                    }
                }
            });
        }
        Ok(Launcher {
            child,
            lines,
            ready_file,
            _dir: dir,
        })
    }

    fn output(&self) -> String {
        self.lines.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// The first line containing `text`.
    async fn line_with(&self, text: &str) -> anyhow::Result<String> {
        let found = wait_for(&format!("a line with {text:?}"), LIMIT, || async {
            let lines = self.lines.lock().map(|l| l.clone()).unwrap_or_default();
            Ok(match lines.iter().find(|l| l.contains(text)) {
                Some(line) => Outcome::Done(line.clone()),
                None => Outcome::NotYet(
                    lines
                        .iter()
                        .rev()
                        .take(5)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" / "),
                ),
            })
        })
        .await;
        found.map_err(|e| anyhow::anyhow!("{e}\n--- output ---\n{}", self.output()))
    }

    /// The ready file, once written.
    async fn ready(&self) -> anyhow::Result<Value> {
        self.line_with("press Ctrl-C to stop").await?;
        let text = std::fs::read_to_string(&self.ready_file)?;
        Ok(serde_json::from_str(&text)?)
    }

    fn signal(&self, signal: Signal) -> anyhow::Result<()> {
        let pid = self
            .child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(Pid::from_raw)
            .ok_or_else(|| anyhow::anyhow!("the launcher has no pid"))?;
        kill_process(pid, signal)?;
        Ok(())
    }

    async fn exit(&mut self) -> anyhow::Result<ExitStatus> {
        let status = tokio::time::timeout(LIMIT, self.child.wait())
            .await
            .map_err(|_| anyhow::anyhow!("still running\n{}", self.output()))??;
        Ok(status)
    }
}

/// The children of the ready file: (name, pid).
fn children(ready: &Value) -> Vec<(String, u32)> {
    ready["processes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_string(),
                p["pid"]
                    .as_u64()
                    .and_then(|p| u32::try_from(p).ok())
                    .unwrap_or(0),
            )
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

async fn all_gone(pids: &[(String, u32)]) -> anyhow::Result<()> {
    wait_for(
        "every child to be gone",
        Duration::from_secs(10),
        || async {
            let left: Vec<&(String, u32)> = pids.iter().filter(|(_, pid)| alive(*pid)).collect();
            Ok(if left.is_empty() {
                Outcome::Done(())
            } else {
                Outcome::NotYet(format!("{left:?}"))
            })
        },
    )
    .await?;
    Ok(())
}

async fn get_json(http: &HttpClient, url: &str) -> Result<(u16, Value), aetherv_tests::Error> {
    let reply = http.get(url).await?;
    Ok((reply.status.as_u16(), reply.json()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_serves_the_simulated_fleet_and_stops_every_child_on_sigint() -> anyhow::Result<()> {
    let mut up = Launcher::start(&[
        "--hosts",
        "3",
        "--vms-per-host",
        "4",
        "--refresh-interval",
        "2s",
    ])?;
    let line = up.line_with("web UI").await?;
    let url = line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .map(|u| u.trim_end_matches('/').to_string())
        .ok_or_else(|| anyhow::anyhow!("no URL in {line:?}"))?;
    let ready = up.ready().await?;
    assert_eq!(ready["gateway"], url.as_str());
    let pids = children(&ready);
    let names: Vec<&str> = pids.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "hvsim",
            "remote-tasks",
            "notifications",
            "inventory",
            "jobs",
            "gateway"
        ]
    );
    assert!(pids.iter().all(|(_, pid)| alive(*pid)));

    let http = HttpClient::new();
    let (status, readyz) = get_json(&http, &format!("{url}/readyz")).await?;
    assert_eq!(
        (status, &readyz["ready"]),
        (200, &Value::Bool(true)),
        "{readyz}"
    );
    let hosts = wait_for("three reachable hosts", LIMIT, || async {
        let (_, body) = get_json(&http, &format!("{url}/api/v1/hosts")).await?;
        let reachable = body["hosts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|h| h["status"] == "reachable")
            .count();
        Ok(if reachable == 3 {
            Outcome::Done(body)
        } else {
            Outcome::NotYet(body.to_string())
        })
    })
    .await?;
    assert_eq!(hosts["hosts"].as_array().map(Vec::len), Some(3));
    up.line_with("first inventory complete").await?;
    for name in [
        "[hvsim]",
        "[remote-tasks]",
        "[inventory]",
        "[jobs]",
        "[gateway]",
    ] {
        assert!(
            up.output().lines().any(|l| l.starts_with(name)),
            "no {name} lines:\n{}",
            up.output()
        );
    }

    // The password is in a private 0600 file, on no command line and in no output.
    let fleet_file = ready["simulator"]["fleet_config"]
        .as_str()
        .unwrap_or_default();
    let state = Path::new(fleet_file)
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no state folder"))?
        .to_path_buf();
    let password_file = state.join("winrm-password");
    assert_eq!(
        std::fs::metadata(&password_file)?.permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(std::fs::metadata(&state)?.permissions().mode() & 0o077, 0);
    let password = std::fs::read_to_string(&password_file)?;
    assert!(password.len() >= 16);
    for (name, pid) in &pids {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))?;
        let cmdline = String::from_utf8_lossy(&cmdline);
        assert!(
            !cmdline.contains(password.trim()),
            "{name}'s command line holds the password"
        );
    }
    assert!(
        !up.output().contains(password.trim()),
        "the output holds the password"
    );

    up.signal(Signal::INT)?;
    let status = up.exit().await?;
    assert_eq!(status.code(), Some(0), "{}", up.output());
    all_gone(&pids).await?;
    assert!(
        up.output().contains("[up] gateway stopped"),
        "{}",
        up.output()
    );
    assert!(
        up.output().contains("[up] hvsim stopped"),
        "{}",
        up.output()
    );
    assert!(!up.ready_file.exists(), "the ready file is removed");
    assert!(!state.exists(), "the private folder is removed");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_that_dies_is_named_and_the_others_are_stopped() -> anyhow::Result<()> {
    let mut up = Launcher::start(&["--hosts", "2", "--vms-per-host", "2"])?;
    let ready = up.ready().await?;
    let pids = children(&ready);
    let (_, inventory) = pids
        .iter()
        .find(|(name, _)| name == "inventory")
        .ok_or_else(|| anyhow::anyhow!("no inventory in {ready}"))?;
    let pid = i32::try_from(*inventory)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| anyhow::anyhow!("bad pid"))?;
    kill_process(pid, Signal::KILL)?;
    let status = up.exit().await?;
    assert_eq!(status.code(), Some(1), "{}", up.output());
    let output = up.output();
    assert!(
        output.contains(&format!(
            "[up] inventory (pid {inventory}) exited unexpectedly (killed by signal 9)"
        )),
        "{output}"
    );
    assert!(output.contains("[up] gateway stopped"), "{output}");
    all_gone(&pids).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_listing_hosts_runs_against_that_fleet() -> anyhow::Result<()> {
    // A "real" fleet: WinRM endpoints the launcher did not start.
    let fleet = SimFleet::builder()
        .hosts(2)
        .vms_per_host(3)
        .clusters(0)
        .seed(5)
        .user("svc-aetherv", "Real-Fleet-Passw0rd")
        .start()
        .await?;
    let dir = tempfile::tempdir()?;
    let password_file = dir.path().join("winrm-password");
    std::fs::write(&password_file, "Real-Fleet-Passw0rd\n")?;
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600))?;
    let mut config = String::from("[remote_tasks]\nhosts = [\n");
    for host in fleet.hosts() {
        let endpoint = host
            .http_endpoint()
            .ok_or_else(|| anyhow::anyhow!("no endpoint"))?;
        config.push_str(&format!(
            "  {{ name = \"{}\", endpoint = \"{endpoint}\" }},\n",
            host.name()
        ));
    }
    config.push_str(&format!(
        "]\n\n[remote_tasks.winrm]\nauth = \"ntlm\"\nusername = \"svc-aetherv\"\npassword_file = \"{}\"\n\n[inventory]\nrefresh_interval = \"2s\"\n",
        password_file.display()
    ));
    let config_file = dir.path().join("aetherv.toml");
    std::fs::write(&config_file, &config)?;
    let config_arg = config_file.display().to_string();

    // Simulator flags make no sense with it.
    let refused = Command::new(AETHERV)
        .args(["up", "--config", &config_arg, "--hosts", "3"])
        .output()
        .await?;
    assert_eq!(refused.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--hosts"));

    let mut up = Launcher::start(&["--config", &config_arg])?;
    let ready = up.ready().await?;
    assert!(ready["simulator"].is_null(), "{ready}");
    let pids = children(&ready);
    let names: Vec<&str> = pids.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "remote-tasks",
            "notifications",
            "inventory",
            "jobs",
            "gateway"
        ]
    );
    let url = ready["gateway"].as_str().unwrap_or_default().to_string();
    let http = HttpClient::new();
    let want: Vec<String> = fleet.hosts().iter().map(|h| h.name().to_string()).collect();
    wait_for(
        "the configured hosts reachable with their VMs",
        LIMIT,
        || async {
            let (_, body) = get_json(&http, &format!("{url}/api/v1/inventory")).await?;
            let done =
                body["counts"]["hosts_by_status"]["reachable"] == 2 && body["counts"]["vms"] == 6;
            Ok(if done {
                Outcome::Done(())
            } else {
                Outcome::NotYet(body["counts"].to_string())
            })
        },
    )
    .await?;
    let (_, hosts) = get_json(&http, &format!("{url}/api/v1/hosts")).await?;
    let mut names: Vec<String> = hosts["hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    let mut want = want;
    want.sort();
    assert_eq!(names, want);
    assert!(!up.output().contains("Real-Fleet-Passw0rd"));

    up.signal(Signal::TERM)?;
    assert_eq!(up.exit().await?.code(), Some(0), "{}", up.output());
    all_gone(&pids).await?;
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_remote_tasks_cannot_use_is_reported_with_the_reason() -> anyhow::Result<()>
{
    let dir = tempfile::tempdir()?;
    let config_file = dir.path().join("aetherv.toml");
    // No username: remote-tasks serves NOT_SERVING with the reason.
    std::fs::write(
        &config_file,
        "[remote_tasks]\nhosts = [{ name = \"hv01.lab.example\" }]\n",
    )?;
    let mut up = Launcher::start(&["--config", &config_file.display().to_string()])?;
    let status = up.exit().await?;
    assert_eq!(status.code(), Some(1), "{}", up.output());
    let output = up.output();
    assert!(
        output.contains("[up] remote-tasks did not become healthy"),
        "{output}"
    );
    assert!(output.contains("remote_tasks.winrm.username"), "{output}");
    assert!(output.contains("[up] remote-tasks stopped"), "{output}");
    Ok(())
}
