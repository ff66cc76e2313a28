//! Third-party clients against our server: pywinrm 0.5.0 (NTLM + message encryption) and
//! pypsrp 0.9.1's WinRS client (SPNEGO/NTLM + message encryption), run with the venv's
//! python against a server started in this process on an ephemeral port.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use serde_json::Value;

fn venv_python() -> PathBuf {
    let venv = std::env::var_os("AETHERV_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv"));
    let python = venv.join("bin/python");
    assert!(
        python.is_file(),
        "python peers are missing: no {} (run ./scripts/test, which creates the venv from tests/requirements.txt)",
        python.display()
    );
    python
}

async fn run_peer(script: &str, args: &[String]) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let child = tokio::process::Command::new(venv_python())
        .arg(&script)
        .args(args)
        .env("WINRM_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start python");
    let out = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
        .await
        .expect("python peer finished in time")
        .expect("python peer ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script:?} failed: {stderr}\n{stdout}"
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{script:?} printed no json ({e}): {stdout}\n{stderr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pywinrm_ntlm_with_message_encryption() {
    let srv = start(server_config(), false).await;
    let r = run_peer("pywinrm_peer.py", &[srv.url(), USER.into()]).await;

    assert_eq!(r["stdin"]["stdout"], "hello from pywinrm\nzwei \u{e9}\n");
    assert_eq!(r["stdin"]["stderr"], "done\n");
    assert_eq!(r["stdin"]["rc"], 7);

    assert_eq!(r["unknown"]["rc"], 1);
    assert_eq!(r["unknown"]["stdout"], "");
    assert!(
        r["unknown"]["stderr"]
            .as_str()
            .unwrap()
            .starts_with("'ipconfig' is not recognized as an internal or external command")
    );

    assert_eq!(r["too_long_cmd"]["rc"], 1);
    assert_eq!(r["too_long_cmd"]["stdout"], "");
    assert_eq!(
        r["too_long_cmd"]["stderr"],
        "The command line is too long.\r\n"
    );

    assert_eq!(r["too_long_process"]["type"], "WSManFaultError");
    assert_eq!(r["too_long_process"]["wsman_code"], 2_147_942_606u64);

    assert_eq!(r["bad_command_id"]["wsman_code"], 2_150_858_843u64);
    assert_eq!(r["bad_command_id"]["subcode"], "w:InvalidSelectors");

    assert_eq!(r["wrong_password"], "InvalidCredentialsError");
    assert_eq!(r["unencrypted"]["code"], 500);
    assert_eq!(r["unencrypted"]["body"], "");

    assert_eq!(r["session"]["rc"], 1);
    assert_eq!(srv.server.shell_count(), 0, "pywinrm closed its shells");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypsrp_winrs_negotiate_with_message_encryption() {
    let srv = start(server_config(), false).await;
    let args = [
        srv.addr.ip().to_string(),
        srv.addr.port().to_string(),
        USER.to_owned(),
    ];
    let r = run_peer("pypsrp_peer.py", &args).await;

    assert_eq!(r["max_envelope_kb_after_get"], 500);
    assert_eq!(r["stdin"]["stdout"], "hello from pypsrp\nsecond line\n");
    assert_eq!(r["stdin"]["stderr"], "done\n");
    assert_eq!(r["stdin"]["rc"], 11);
    assert_eq!(r["unknown"]["rc"], 1);
    assert!(
        r["unknown"]["stderr"]
            .as_str()
            .unwrap()
            .contains("is not recognized as an internal or external command")
    );
    assert_eq!(r["execute_cmd"]["rc"], 1);
    assert_eq!(r["wrong_password"], "AuthenticationError");
    assert_eq!(srv.server.shell_count(), 0, "pypsrp closed its shells");
}
