//! The web UI in headless Chromium against the whole suite: a [`TestStack`] (simulated
//! fleet over real WinRM, every service in process, the gateway with the UI built in) with
//! the simulator's control API, then `node tests/browser/ui.spec.mjs`, which drives Debian's
//! Chromium through the pinned `playwright-core` and takes the control API as the truth
//! (what it checks: `tests/browser/README.md`). Fails, never skips, when node, the npm
//! packages or Chromium are missing, saying to run `./scripts/test`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use aetherv_tests::TestStack;
use anyhow::{Context, bail, ensure};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_in_headless_chromium() -> anyhow::Result<()> {
    let root = workspace_root();
    let browser = root.join("tests/browser");
    for needed in ["node_modules/playwright-core", "node_modules/axe-core"] {
        if !browser.join(needed).exists() {
            bail!(
                "{} is missing: run ./scripts/test (it runs npm ci in tests/browser)",
                browser.join(needed).display()
            );
        }
    }
    let chromium = std::env::var_os("AETHERV_CHROMIUM")
        .map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from);
    if !chromium.exists() {
        bail!(
            "{} is missing: run ./scripts/test (it installs Debian's chromium)",
            chromium.display()
        );
    }

    let stack = TestStack::builder()
        .hosts(4)
        .vms_per_host(12)
        .clusters(1)
        .time_scale(0.05)
        .control_api()
        .start()
        .await?;
    stack.wait_for_converged().await?;
    let base = stack.gateway_url()?;
    let control = stack
        .sim_control_url()
        .context("the stack was started with the simulator's control api")?;
    let screenshots = root.join("target/browser-screenshots");

    let status = tokio::process::Command::new("node")
        .arg(browser.join("ui.spec.mjs"))
        .args(["--base-url", &base, "--sim-control", &control])
        .arg("--screenshots")
        .arg(&screenshots)
        .current_dir(&browser)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .status()
        .await
        .context("cannot run node (run ./scripts/test to install the browser test's tools)")?;
    stack.stop().await?;
    ensure!(
        status.success(),
        "the browser spec failed ({status}); its output above names the step, and \
         {} holds the screenshots",
        screenshots.display()
    );
    Ok(())
}
