//! No password anywhere: not in ListHosts, Metrics, Diagnostics, results, errors, nor in
//! any log line of any crate at TRACE level — over NTLM, over Basic/HTTPS (whose
//! Authorization header carries the credentials), and with a wrong password. Params (which
//! may hold secrets) are never logged either. One test per binary: it owns the global
//! tracing subscriber.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use aetherv_hvsim::SimFleet;
use aetherv_proto::common::v1 as common;
use aetherv_proto::common::v1::diagnostics_client::DiagnosticsClient;
use aetherv_proto::remotetasks::v1 as pb;
use aetherv_remote_tasks::config::AuthName;
use aetherv_remote_tasks::{Config, HostEntry};
use aetherv_runtime::SecretString;
use base64::Engine;
use serde_json::json;
use support::*;

const PASSWORD: &str = "Pa55-Only-The-Host-Knows";
const WRONG: &str = "Wr0ng-Pa55-Never-Printed";
const PARAM_SECRET: &str = "param-secret-5b1c9e";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().map(|b| b.clone()).unwrap_or_default()).into_owned()
    }
}

fn assert_clean(what: &str, text: &str) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("aetherv:{PASSWORD}"));
    for secret in [PASSWORD, WRONG, PARAM_SECRET, basic.as_str()] {
        assert!(
            !text.contains(secret),
            "{what} contains a secret ({secret:?})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_response_or_a_log_line() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        panic!("a global subscriber was already set");
    }

    let fleet = match SimFleet::builder()
        .hosts(2)
        .vms_per_host(2)
        .seed(3)
        .time_scale(0.01)
        .https(0)
        .user("aetherv", PASSWORD)
        .start()
        .await
    {
        Ok(fleet) => fleet,
        Err(error) => panic!("{error}"),
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ca = dir.path().join("ca.pem");
    fleet.write_ca_file(&ca).unwrap_or_else(|e| panic!("{e}"));
    let (ntlm_host, basic_host) = (&fleet.hosts()[0], &fleet.hosts()[1]);

    // NTLM over HTTP.
    let ntlm = Service::start(config_for(&fleet)).await;
    let mut client = ntlm.client.clone();
    let mut texts = Vec::new();
    for (operation, params, category) in [
        ("agent.info", json!({}), pb::Category::Inventory),
        ("inventory.collect", json!({}), pb::Category::Inventory),
        (
            "noop",
            json!({"token": PARAM_SECRET}),
            pb::Category::Control,
        ),
        (
            "vm.power",
            json!({"vm_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "action": "start", "x": PARAM_SECRET}),
            pb::Category::Control,
        ),
    ] {
        match run(
            &mut client,
            request(ntlm_host.name(), operation, params, category),
        )
        .await
        {
            Ok(events) => {
                let result = result(&events);
                if operation != "noop" {
                    // noop echoes its params to its caller by design; nothing else may.
                    texts.push(format!("{events:?}"));
                }
                assert!(result.ok || operation == "vm.power", "{result:?}");
            }
            Err(status) => texts.push(format!("{status:?}")),
        }
    }
    let hosts = client.list_hosts(pb::ListHostsRequest {}).await;
    texts.push(format!("{hosts:?}"));
    let metrics = client.metrics(pb::MetricsRequest {}).await;
    texts.push(format!("{metrics:?}"));
    let mut diagnostics = DiagnosticsClient::new(channel(ntlm.address).await);
    texts.push(format!(
        "{:?}",
        diagnostics.get_status(common::GetStatusRequest {}).await
    ));

    // Basic over HTTPS, with the fleet's CA.
    let endpoint = basic_host.https_endpoint().unwrap_or_default();
    let mut config = Config::for_testing(
        vec![HostEntry::at(basic_host.name(), &endpoint)],
        "aetherv",
        PASSWORD,
    );
    config.winrm.auth = Some(AuthName::Basic);
    config.winrm.ca_file = Some(ca.clone());
    let basic = Service::start(config).await;
    let mut client = basic.client.clone();
    let events = run_ok(
        &mut client,
        request(
            basic_host.name(),
            "agent.info",
            json!({}),
            pb::Category::Inventory,
        ),
    )
    .await;
    assert!(result(&events).ok, "{:?}", result(&events));
    texts.push(format!("{events:?}"));
    texts.push(format!(
        "{:?}",
        client.list_hosts(pb::ListHostsRequest {}).await
    ));

    // A wrong password: refused by the host, and said so without the password.
    let mut config = config_for(&fleet);
    config.winrm.password = SecretString::new(WRONG.to_string());
    let wrong = Service::start(config).await;
    let mut client = wrong.client.clone();
    let events = run_ok(
        &mut client,
        request(
            ntlm_host.name(),
            "agent.info",
            json!({}),
            pb::Category::Inventory,
        ),
    )
    .await;
    let error = failure(&events);
    assert_eq!(error.code, common::ErrorCode::Unavailable as i32);
    assert!(error.message.contains("authentication"), "{error:?}");
    texts.push(format!("{events:?}"));

    ntlm.stop().await;
    basic.stop().await;
    wrong.stop().await;

    for text in &texts {
        assert_clean("a response", text);
    }
    let logs = captured.text();
    assert!(
        logs.len() > 10_000,
        "TRACE output was captured ({} bytes)",
        logs.len()
    );
    assert_clean("the log", &logs);
    // One line per task start and finish, with what an operator needs.
    let started = logs.lines().filter(|l| l.contains("task started")).count();
    let finished: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("task finished"))
        .collect();
    // agent.info, inventory.collect, noop (NTLM), agent.info (Basic), agent.info (wrong
    // password); the vm.power with an unknown field was refused before it became a task.
    assert_eq!(
        started, 5,
        "every task that reached a host logged its start"
    );
    assert_eq!(finished.len(), 5, "{finished:#?}");
    assert!(
        finished
            .iter()
            .any(|l| l.contains(&format!("host={}", ntlm_host.name()))
                && l.contains("operation=agent.info")
                && l.contains("category=inventory")
                && l.contains("duration_ms=")
                && l.contains("outcome=\"ok\"")),
        "{finished:#?}"
    );
    assert!(
        finished.iter().any(|l| l.contains("operation=agent.info")
            && l.contains("outcome=UNAVAILABLE")
            && l.contains("agent_code=TRANSPORT")
            && l.contains("authentication")),
        "{finished:#?}"
    );
}
