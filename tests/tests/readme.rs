//! README.md stays true: its real-fleet configuration example loads in every service (and
//! lists hosts, so `aetherv up` runs no simulator), its configuration reference names every
//! key each service has, and every grpcurl command of its grpcurl section runs successfully
//! against a running suite.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aetherv_hyperv::VmState;
use aetherv_runtime::config::Loader;
use aetherv_tests::TestStack;
use aetherv_tests::peers;
use anyhow::{Context, bail, ensure};
use serde::Serialize;

fn readme() -> anyhow::Result<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))
}

/// The text from `heading` (a whole line) to the next heading of the same or a higher
/// level outside code blocks.
fn section<'a>(text: &'a str, heading: &str) -> anyhow::Result<&'a str> {
    let start = text
        .find(&format!("\n{heading}\n"))
        .with_context(|| format!("README has no {heading:?}"))?
        + 1;
    let level = heading.chars().take_while(|c| *c == '#').count();
    let mut offset = start + heading.len() + 1;
    let mut fenced = false;
    for line in text[offset..].split_inclusive('\n') {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if !fenced && hashes > 0 && hashes <= level && line[hashes..].starts_with(' ') {
            return Ok(&text[start..offset]);
        }
        offset += line.len();
    }
    Ok(&text[start..])
}

/// The fenced code blocks of `lang` in `text`.
fn code_blocks(text: &str, lang: &str) -> Vec<String> {
    let fence = format!("```{lang}\n");
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&fence) {
        let body = &rest[start + fence.len()..];
        let end = body.find("```").unwrap_or(body.len());
        blocks.push(body[..end].to_string());
        rest = &body[end..];
    }
    blocks
}

// ---- the real-fleet example ------------------------------------------------------------

#[test]
fn the_real_fleet_example_configures_every_service() -> anyhow::Result<()> {
    let text = readme()?;
    let example = code_blocks(section(&text, "## Running against a real fleet")?, "toml");
    ensure!(
        example.len() == 1,
        "one toml example, found {}",
        example.len()
    );
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("aetherv.toml");
    std::fs::write(&file, &example[0])?;

    let remote: aetherv_remote_tasks::Config = Loader::new().file(&file).load()?;
    ensure!(remote.hosts.len() == 2, "{:?}", remote.hosts);
    ensure!(remote.winrm.username.as_deref() == Some("LAB\\svc-aetherv"));
    ensure!(remote.winrm.password_file.is_some());
    ensure!(
        aetherv_remote_tasks::config::forbidden_password_sources(Some(&file), &[]).is_empty(),
        "the example must not hold a password"
    );
    let inventory: aetherv_inventory::Config = Loader::new().file(&file).load()?;
    ensure!(inventory.refresh_interval == Duration::from_secs(30));
    let _: aetherv_jobs::Config = Loader::new().file(&file).load()?;
    let _: aetherv_notifications::Config = Loader::new().file(&file).load()?;
    let gateway: aetherv_gateway::Config = Loader::new().file(&file).load()?;
    ensure!(gateway.http.readiness_timeout == Duration::from_secs(3));
    Ok(())
}

// ---- the configuration reference --------------------------------------------------------

/// Every leaf key of `config`'s defaults, dotted (`limits.io.max_timeout`).
fn keys<C: Serialize>(config: &C) -> anyhow::Result<Vec<String>> {
    fn walk(prefix: &str, value: &toml::Value, out: &mut Vec<String>) {
        match value {
            toml::Value::Table(table) => {
                for (key, value) in table {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(&path, value, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let value = toml::Value::try_from(config)?;
    let mut out = Vec::new();
    walk("", &value, &mut out);
    Ok(out)
}

/// Keys the defaults leave out (options without a default).
const OPTIONAL: &[(&str, &[&str])] = &[(
    "remote_tasks",
    &[
        "hosts_file",
        "winrm.auth",
        "winrm.username",
        "winrm.password_file",
        "winrm.ca_file",
    ],
)];

#[test]
fn the_configuration_reference_names_every_key() -> anyhow::Result<()> {
    let text = readme()?;
    let reference = section(&text, "## Configuration reference")?;
    let common = &reference[..reference.find("\n### ").unwrap_or(reference.len())];
    let services: Vec<(&str, Vec<String>)> = vec![
        (
            "remote_tasks",
            keys(&aetherv_remote_tasks::Config::default())?,
        ),
        ("inventory", keys(&aetherv_inventory::Config::default())?),
        ("jobs", keys(&aetherv_jobs::Config::default())?),
        (
            "notifications",
            keys(&aetherv_notifications::Config::default())?,
        ),
        ("gateway", keys(&aetherv_gateway::Config::default())?),
    ];
    let categories = ["inventory", "control", "io", "deploy", "watch"];
    let mut missing = Vec::new();
    for (name, mut keys) in services {
        let table = section(reference, &format!("### `[{name}]`"))?;
        let documented = |key: &str, text: &str| text.contains(&format!("`{key}`"));
        keys.extend(
            OPTIONAL
                .iter()
                .filter(|(service, _)| *service == name)
                .flat_map(|(_, keys)| keys.iter().map(|k| k.to_string())),
        );
        let keys: BTreeSet<String> = keys.into_iter().collect();
        for key in keys {
            let parts: Vec<&str> = key.split('.').collect();
            let generic = match parts.as_slice() {
                ["server" | "telemetry", _] => documented(&key, common),
                [
                    _,
                    "connect_timeout" | "request_timeout" | "keepalive_interval",
                ] => documented(&format!("<dependency>.{}", parts[1]), common),
                ["limits", category, rest] if categories.contains(category) => {
                    documented(&format!("limits.<category>.{rest}"), table)
                }
                _ => false,
            };
            if !generic && !documented(&key, table) {
                missing.push(format!("{name}.{key}"));
            }
        }
    }
    ensure!(
        missing.is_empty(),
        "README's configuration reference lacks: {}",
        missing.join(", ")
    );
    Ok(())
}

// ---- the grpcurl section ----------------------------------------------------------------

/// Splits a shell command line into words: single and double quotes (`\"` and `\\` inside
/// double quotes), and a `#` starting a word ends the line.
fn words(line: &str) -> anyhow::Result<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut started = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => bail!("unclosed ' in {line}"),
                    }
                }
            }
            '"' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => word.push(chars.next().context("dangling \\")?),
                        Some(c) => word.push(c),
                        None => bail!("unclosed \" in {line}"),
                    }
                }
            }
            '#' if !started => break,
            c if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                started = true;
                word.push(c);
            }
        }
    }
    if started {
        words.push(word);
    }
    Ok(words)
}

/// The grpcurl command lines of `text` (continuations joined).
fn grpcurl_commands(text: &str) -> anyhow::Result<Vec<Vec<String>>> {
    let mut commands = Vec::new();
    for block in code_blocks(text, "sh") {
        let joined = block.replace("\\\n", " ");
        for line in joined.lines().map(str::trim) {
            if line.starts_with("grpcurl ") {
                commands.push(words(line)?);
            }
        }
    }
    Ok(commands)
}

fn grpcurl_path() -> anyhow::Result<PathBuf> {
    Ok(peers::grpcurl()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_grpcurl_command_of_the_readme_works() -> anyhow::Result<()> {
    let text = readme()?;
    let commands = grpcurl_commands(section(&text, "## Inspecting the services with grpcurl")?)?;
    ensure!(
        commands.len() >= 15,
        "found only {} commands",
        commands.len()
    );
    let grpcurl = grpcurl_path()?;

    let stack = TestStack::builder()
        .hosts(4)
        .vms_per_host(12)
        .start()
        .await?;
    stack.wait_for_converged().await?;
    let standalone = stack
        .fleet
        .hosts()
        .iter()
        .find(|h| h.cluster().is_none())
        .context("a standalone host")?
        .clone();
    let off = standalone
        .vms()
        .into_iter()
        .find(|vm| vm.state == VmState::Off)
        .context("an off VM on the standalone host")?;
    let ports = [
        ("127.0.0.1:50051", stack.address("remote-tasks")?),
        ("127.0.0.1:50053", stack.address("inventory")?),
        ("127.0.0.1:50054", stack.address("jobs")?),
        ("127.0.0.1:50055", stack.address("notifications")?),
    ];
    let mut job_id = String::new();
    let mut failures = Vec::new();
    for command in commands {
        let streaming = command
            .iter()
            .any(|w| w.ends_with("/Watch") || w.ends_with("/Subscribe"));
        let args: Vec<String> = command[1..]
            .iter()
            .map(|word| {
                let mut word = word.replace("hv-ams-s01.corp.example", standalone.name());
                word = word.replace("<vm id>", &off.id.to_string());
                word = word.replace("job-…", &job_id);
                for (documented, actual) in &ports {
                    word = word.replace(documented, &actual.to_string());
                }
                word
            })
            .collect();
        let limit = if streaming { "3" } else { "30" };
        let output = tokio::process::Command::new(&grpcurl)
            .args(["-max-time", limit])
            .args(&args)
            .kill_on_drop(true)
            .output()
            .await?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        // A stream runs until grpcurl's deadline: it must have printed events by then.
        let ok = if streaming {
            stderr.contains("DeadlineExceeded") && !stdout.trim().is_empty()
        } else {
            output.status.success()
        };
        if !ok {
            failures.push(format!("grpcurl {}: {stderr}{stdout}", args.join(" ")));
        }
        if command.iter().any(|w| w.ends_with("Jobs/Submit")) {
            let submitted: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_default();
            job_id = submitted["jobId"]
                .as_str()
                .or(submitted["job_id"].as_str())
                .unwrap_or_default()
                .to_string();
        }
    }
    stack.stop().await?;
    ensure!(
        failures.is_empty(),
        "README commands failed:\n{}",
        failures.join("\n")
    );
    Ok(())
}

#[test]
fn words_split_like_a_shell() -> anyhow::Result<()> {
    assert_eq!(
        words(r#"grpcurl -d '{"a":"b c"}' "x \"y\"" z   # comment"#)?,
        ["grpcurl", "-d", r#"{"a":"b c"}"#, r#"x "y""#, "z"]
    );
    assert!(words("grpcurl 'open").is_err());
    Ok(())
}
