//! Our client against our server, in process, over real sockets.

mod common;

use std::time::Duration;

use aetherv_winrm::client::{AuthMethod, CommandSpec, Error, TimeoutKind};
use aetherv_winrm::fault::FaultKind;
use aetherv_winrm::messages::{CommandOptions, ShellOptions, Signal};
use aetherv_winrm::server::ServerEvent;
use bytes::Bytes;
use common::*;
use tokio::sync::mpsc;

async fn run(
    client: &aetherv_winrm::Client,
    spec: CommandSpec,
) -> (Result<i32, Error>, Vec<u8>, Vec<u8>) {
    let (tx, rx) = mpsc::channel(16);
    let collector = tokio::spawn(collect(rx));
    let r = client.run(spec, tx).await;
    let (out, err, _) = collector.await.unwrap();
    (r, out, err)
}

#[tokio::test]
async fn ntlm_with_encryption_over_http_runs_a_command_with_stdin() {
    let srv = start(server_config(), false).await;
    let mut events = srv.server.subscribe();
    let client = srv.client(AuthMethod::Ntlm);
    let mut spec = CommandSpec::new("echo", vec!["3".into()]);
    spec.stdin = Some(Bytes::from_static("héllo wörld\r\n".as_bytes()));
    let (r, out, err) = run(&client, spec).await;
    assert_eq!(r.unwrap(), 3);
    assert_eq!(out, "héllo wörld\r\n".as_bytes());
    assert_eq!(err, b"done\n");
    // the shell was closed: the final Signal terminate, then Delete
    let mut seen = Vec::new();
    while let Ok(Ok(ev)) = tokio::time::timeout(Duration::from_secs(2), events.recv()).await {
        let last = matches!(ev, ServerEvent::ShellDeleted { .. });
        seen.push(ev);
        if last {
            break;
        }
    }
    assert!(
        seen.iter()
            .any(|e| matches!(e, ServerEvent::Authenticated { user, .. } if user == USER))
    );
    assert!(seen.iter().any(|e| matches!(
        e,
        ServerEvent::Signalled {
            signal: Signal::Terminate,
            ..
        }
    )));
    assert!(matches!(
        seen.last(),
        Some(ServerEvent::ShellDeleted { .. })
    ));
    assert_eq!(srv.server.shell_count(), 0);
}
