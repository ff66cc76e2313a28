//! Our client against our server, in process, over real sockets.

mod common;

use std::sync::Arc;
use std::time::Duration;

use aetherv_winrm::client::{AuthMethod, Client, CommandSpec, Error, Shell, TimeoutKind};
use aetherv_winrm::fault::{self, FaultKind};
use aetherv_winrm::messages::{CommandOptions, ShellOptions, Signal};
use aetherv_winrm::server::ServerEvent;
use bytes::Bytes;
use common::*;
use tokio::sync::{broadcast, mpsc};

/// `echo` with empty stdin (End sent), so the process sees end of input.
fn echo_spec(args: Vec<String>) -> CommandSpec {
    let mut spec = CommandSpec::new("echo", args);
    spec.stdin = Some(Bytes::new());
    spec
}

async fn run(client: &Client, spec: CommandSpec) -> (Result<i32, Error>, Vec<u8>, Vec<u8>) {
    let (tx, rx) = mpsc::channel(16);
    let collector = tokio::spawn(collect(rx));
    let r = client.run(spec, tx).await;
    let (out, err, _) = collector.await.unwrap();
    (r, out, err)
}

/// Waits (bounded) for an event matching `pred`; returns the events seen up to it.
async fn wait_for(
    events: &mut broadcast::Receiver<ServerEvent>,
    pred: impl Fn(&ServerEvent) -> bool,
) -> Vec<ServerEvent> {
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
            Ok(Ok(ev)) => {
                let hit = pred(&ev);
                seen.push(ev);
                if hit {
                    return seen;
                }
            }
            other => panic!("event not seen ({other:?}); saw {seen:?}"),
        }
    }
}

#[tokio::test]
async fn ntlm_with_encryption_over_http_runs_a_command_with_stdin() {
    let srv = start(server_config(), false).await;
    let mut events = srv.server.subscribe();
    let client = srv.client(AuthMethod::Ntlm);
    let mut spec = echo_spec(vec!["3".into()]);
    spec.stdin = Some(Bytes::from_static("héllo wörld\r\n".as_bytes()));
    let (r, out, err) = run(&client, spec).await;
    assert_eq!(r.unwrap(), 3);
    assert_eq!(out, "héllo wörld\r\n".as_bytes());
    assert_eq!(err, b"done\n");
    // the final Signal terminate, then Delete
    let seen = wait_for(&mut events, |e| {
        matches!(e, ServerEvent::ShellDeleted { .. })
    })
    .await;
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
    assert!(
        seen.iter()
            .any(|e| matches!(e, ServerEvent::StdinReceived { end: true, .. }))
    );
    assert_eq!(srv.server.shell_count(), 0);
}

#[tokio::test]
async fn connections_are_pooled_and_reused() {
    let srv = start(server_config(), false).await;
    let mut events = srv.server.subscribe();
    let mut cfg = srv.client_config(AuthMethod::Ntlm);
    cfg.max_connections = 1;
    let client = Client::new(cfg).unwrap();
    for i in 0..4 {
        let (r, _, err) = run(&client, echo_spec(vec![i.to_string()])).await;
        assert_eq!(r.unwrap(), i);
        assert_eq!(err, b"done\n");
    }
    let mut auths = 0;
    while let Ok(ev) = events.try_recv() {
        if matches!(ev, ServerEvent::Authenticated { .. }) {
            auths += 1;
        }
    }
    assert_eq!(
        auths, 1,
        "one NTLM handshake for four commands on one pooled connection"
    );
}

#[tokio::test]
async fn unknown_command_gets_cmd_exe_message_and_exit_code_1() {
    let srv = start(server_config(), false).await;
    let client = srv.client(AuthMethod::Ntlm);
    let (r, out, err) = run(&client, CommandSpec::new("ipconfig", vec!["/all".into()])).await;
    assert_eq!(r.unwrap(), 1);
    assert!(out.is_empty());
    assert!(
        String::from_utf8_lossy(&err)
            .contains("'ipconfig' is not recognized as an internal or external command")
    );
}

#[tokio::test]
async fn stdin_and_stdout_larger_than_one_envelope() {
    let srv = start(server_config(), false).await;
    let mut events = srv.server.subscribe();
    let client = srv.client(AuthMethod::Ntlm);
    let big: Vec<u8> = (0..600_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let mut spec = echo_spec(vec![]);
    spec.stdin = Some(Bytes::from(big.clone()));
    let (r, out, _) = run(&client, spec).await;
    assert_eq!(r.unwrap(), 0);
    assert_eq!(out.len(), big.len());
    assert!(out == big, "echoed stdin differs");
    let mut sends = 0;
    while let Ok(ev) = events.try_recv() {
        if let ServerEvent::StdinReceived { bytes, .. } = ev {
            assert!(bytes <= 153_600 * 3 / 4, "a Send carried {bytes} bytes");
            sends += 1;
        }
    }
    assert!(
        sends >= 5,
        "600 kB of stdin must take several Sends, took {sends}"
    );

    let (r, out, _) = run(&client, CommandSpec::new("emit", vec!["1000000".into()])).await;
    assert_eq!(r.unwrap(), 0);
    let expected: Vec<u8> = (0..1_000_000usize).map(|i| (i % 251) as u8).collect();
    assert!(out == expected, "emitted output differs");
}

#[tokio::test]
async fn long_poll_timeouts_are_answered_by_asking_again() {
    let srv = start(server_config(), false).await;
    let mut events = srv.server.subscribe();
    let mut cfg = srv.client_config(AuthMethod::Ntlm);
    cfg.operation_timeout = Duration::from_millis(200);
    let client = Client::new(cfg).unwrap();
    let (tx, rx) = mpsc::channel(16);
    let collector = tokio::spawn(collect(rx));
    let runner =
        tokio::spawn(async move { client.run(CommandSpec::new("gate", vec![]), tx).await });
    // Two idle long polls end in w:TimedOut; the client asks again each time.
    wait_for(&mut events, |e| {
        matches!(e, ServerEvent::ReceiveTimedOut { .. })
    })
    .await;
    wait_for(&mut events, |e| {
        matches!(e, ServerEvent::ReceiveTimedOut { .. })
    })
    .await;
    srv.gate.notify_one();
    assert_eq!(runner.await.unwrap().unwrap(), 0);
    let (out, _, _) = collector.await.unwrap();
    assert_eq!(out, b"released");
}

#[tokio::test]
async fn deadline_terminates_the_command_and_deletes_the_shell() {
    let mut srv = start(server_config(), false).await;
    let mut events = srv.server.subscribe();
    let client = srv.client(AuthMethod::Ntlm);
    let mut spec = CommandSpec::new("hang", vec![]);
    spec.deadline = Some(Duration::from_millis(500));
    let (r, _, _) = run(&client, spec).await;
    match r {
        Err(Error::Timeout {
            kind: TimeoutKind::Command,
            ..
        }) => {}
        other => panic!("expected a command timeout, got {other:?}"),
    }
    let seen = wait_for(&mut events, |e| {
        matches!(e, ServerEvent::ShellDeleted { .. })
    })
    .await;
    let started = seen.iter().find_map(|e| match e {
        ServerEvent::CommandStarted { command_id, .. } => Some(command_id.clone()),
        _ => None,
    });
    assert!(seen.iter().any(|e| matches!(e, ServerEvent::Signalled { signal: Signal::Terminate, command_id, .. } if Some(command_id) == started.as_ref())));
    let killed = tokio::time::timeout(Duration::from_secs(5), srv.cancelled.recv())
        .await
        .unwrap();
    assert_eq!(killed, started);
    assert_eq!(srv.server.shell_count(), 0);
}

#[tokio::test]
async fn dropping_the_run_future_still_cleans_up_on_the_host() {
    let mut srv = start(server_config(), false).await;
    let mut events = srv.server.subscribe();
    let mut cfg = srv.client_config(AuthMethod::Ntlm);
    cfg.operation_timeout = Duration::from_millis(200);
    let client = Client::new(cfg).unwrap();
    let (tx, _rx) = mpsc::channel(16);
    let runner =
        tokio::spawn(async move { client.run(CommandSpec::new("hang", vec![]), tx).await });
    // Once a Receive has timed out, the client knows the command id.
    wait_for(&mut events, |e| {
        matches!(e, ServerEvent::ReceiveTimedOut { .. })
    })
    .await;
    runner.abort();
    let seen = wait_for(&mut events, |e| {
        matches!(e, ServerEvent::ShellDeleted { .. })
    })
    .await;
    assert!(seen.iter().any(|e| matches!(
        e,
        ServerEvent::Signalled {
            signal: Signal::Terminate,
            ..
        }
    )));
    assert!(
        tokio::time::timeout(Duration::from_secs(5), srv.cancelled.recv())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(srv.server.shell_count(), 0);
}

#[tokio::test]
async fn closing_the_output_receiver_cancels() {
    let srv = start(server_config(), false).await;
    let client = srv.client(AuthMethod::Ntlm);
    let (tx, rx) = mpsc::channel(1);
    drop(rx);
    let r = client
        .run(CommandSpec::new("emit", vec!["10".into()]), tx)
        .await;
    assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
    assert_eq!(srv.server.shell_count(), 0);
}

#[tokio::test]
async fn wrong_password_is_an_authentication_error() {
    let srv = start(server_config(), true).await;
    for auth in [AuthMethod::Ntlm, AuthMethod::Basic] {
        let mut cfg = srv.client_config(auth);
        cfg.password = "wrong".into();
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        srv.cert.as_ref().unwrap().write_ca_pem(&ca).unwrap();
        cfg.ca_file = Some(ca);
        let client = Client::new(cfg).unwrap();
        let r = client.open_shell(&ShellOptions::default()).await;
        assert!(
            matches!(r, Err(Error::Authentication { .. })),
            "{auth:?}: {r:?}"
        );
    }
    let http = start(server_config(), false).await;
    let mut cfg = http.client_config(AuthMethod::Ntlm);
    cfg.username = "nobody".into();
    let r = Client::new(cfg)
        .unwrap()
        .open_shell(&ShellOptions::default())
        .await;
    assert!(matches!(r, Err(Error::Authentication { .. })), "{r:?}");
}

#[tokio::test]
async fn basic_over_https_with_a_ca_file_and_untrusted_ca_fails() {
    let srv = start(server_config(), true).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    srv.cert.as_ref().unwrap().write_ca_pem(&ca).unwrap();
    let mut cfg = srv.client_config(AuthMethod::Basic);
    cfg.ca_file = Some(ca);
    let client = Client::new(cfg).unwrap();
    let (r, out, _) = {
        let mut spec = echo_spec(vec![]);
        spec.stdin = Some(Bytes::from_static(b"over tls"));
        run(&client, spec).await
    };
    assert_eq!(r.unwrap(), 0);
    assert_eq!(out, b"over tls");
    assert_eq!(client.max_envelope_size_kb().await.unwrap(), 500);

    // NTLM over HTTPS (unsealed inside TLS) works too.
    let mut cfg = srv.client_config(AuthMethod::Ntlm);
    cfg.ca_file = client_ca(&srv, dir.path());
    let (r, _, err) = run(&Client::new(cfg).unwrap(), echo_spec(vec!["4".into()])).await;
    assert_eq!(r.unwrap(), 4);
    assert_eq!(err, b"done\n");

    // A CA that did not sign the server's certificate: the TLS handshake fails.
    let other = aetherv_winrm::server::SelfSignedCert::generate(&["localhost".into()]).unwrap();
    let wrong_ca = dir.path().join("other-ca.pem");
    other.write_ca_pem(&wrong_ca).unwrap();
    let mut cfg = srv.client_config(AuthMethod::Basic);
    cfg.ca_file = Some(wrong_ca);
    let r = Client::new(cfg)
        .unwrap()
        .open_shell(&ShellOptions::default())
        .await;
    assert!(matches!(r, Err(Error::Tls { .. })), "{r:?}");

    // System roots do not trust it either.
    let r = srv
        .client(AuthMethod::Basic)
        .open_shell(&ShellOptions::default())
        .await;
    assert!(matches!(r, Err(Error::Tls { .. })), "{r:?}");
}

fn client_ca(srv: &TestServer, dir: &std::path::Path) -> Option<std::path::PathBuf> {
    let p = dir.join("ca2.pem");
    srv.cert.as_ref().unwrap().write_ca_pem(&p).unwrap();
    Some(p)
}

#[tokio::test]
async fn basic_over_http_needs_the_insecure_switch() {
    let mut config = server_config();
    config.allow_basic_over_http = true;
    let srv = start(config, false).await;
    let refused = Client::new(srv.client_config(AuthMethod::Basic));
    assert!(
        matches!(refused, Err(Error::Config { field: "auth", .. })),
        "{refused:?}"
    );
    let mut cfg = srv.client_config(AuthMethod::Basic);
    cfg.insecure_http = true;
    let (r, _, _) = run(&Client::new(cfg).unwrap(), echo_spec(vec!["5".into()])).await;
    assert_eq!(r.unwrap(), 5);

    // A server that does not allow Basic on HTTP answers 401.
    let strict = start(server_config(), false).await;
    let mut cfg = strict.client_config(AuthMethod::Basic);
    cfg.insecure_http = true;
    let r = Client::new(cfg)
        .unwrap()
        .open_shell(&ShellOptions::default())
        .await;
    assert!(matches!(r, Err(Error::Authentication { .. })), "{r:?}");
}

#[tokio::test]
async fn unknown_shell_and_command_are_typed_faults() {
    let srv = start(server_config(), false).await;
    let client = srv.client(AuthMethod::Ntlm);
    let ghost = Shell::attach(&client, "00000000-0000-0000-0000-000000000000");
    let err = ghost
        .receive("11111111-1111-1111-1111-111111111111")
        .await
        .unwrap_err();
    let f = err.fault().expect("a fault");
    assert_eq!(f.kind(), FaultKind::ShellOrCommandGone);
    assert_eq!(f.wsman_code, Some(fault::CODE_INVALID_SELECTORS));
    assert_eq!(f.machine.as_deref(), Some("SIMHOST"));
    assert!(f.text().contains("shell was not found"));

    let shell = client.open_shell(&ShellOptions::default()).await.unwrap();
    let err = shell
        .receive("11111111-1111-1111-1111-111111111111")
        .await
        .unwrap_err();
    let f = err.fault().expect("a fault");
    assert_eq!(f.kind(), FaultKind::ShellOrCommandGone);
    assert_eq!(f.message.as_deref(), Some(fault::MSG_UNKNOWN_COMMAND));

    // skip_cmd_shell with an executable that does not exist: the Windows fault.
    let opts = CommandOptions {
        skip_cmd_shell: true,
        console_mode_stdin: None,
    };
    let err = shell
        .command("C:\\missing.exe", &[], &opts)
        .await
        .unwrap_err();
    assert_eq!(
        err.fault().and_then(|f| f.wsman_code),
        Some(fault::CODE_FILE_NOT_FOUND)
    );

    // Terminated commands are gone.
    let id = shell
        .command("hang", &[], &CommandOptions::default())
        .await
        .unwrap();
    shell.signal(&id, Signal::Terminate).await.unwrap();
    let err = shell.receive(&id).await.unwrap_err();
    assert_eq!(
        err.fault().map(|f| f.kind()),
        Some(FaultKind::ShellOrCommandGone)
    );
    shell.delete().await.unwrap();
    let err = shell.delete().await.unwrap_err();
    assert_eq!(
        err.fault().map(|f| f.kind()),
        Some(FaultKind::ShellOrCommandGone)
    );
}

#[tokio::test]
async fn another_users_shell_is_not_visible() {
    let srv = start(server_config(), false).await;
    let shell = srv
        .client(AuthMethod::Ntlm)
        .open_shell(&ShellOptions::default())
        .await
        .unwrap();
    let mut cfg = srv.client_config(AuthMethod::Ntlm);
    cfg.username = "DOMAIN\\second".into();
    cfg.password = "Second-Pw-2".into();
    let other = Client::new(cfg).unwrap();
    let err = Shell::attach(&other, shell.id())
        .delete()
        .await
        .unwrap_err();
    assert_eq!(
        err.fault().map(|f| f.kind()),
        Some(FaultKind::ShellOrCommandGone)
    );
    shell.delete().await.unwrap();
}

#[tokio::test]
async fn over_long_command_lines_are_refused_before_sending() {
    let srv = start(server_config(), false).await;
    let mut events = srv.server.subscribe();
    let client = srv.client(AuthMethod::Ntlm);
    let r = run(&client, echo_spec(vec!["x".repeat(9000)])).await.0;
    assert!(
        matches!(r, Err(Error::CommandLineTooLong { limit: 8191, .. })),
        "{r:?}"
    );
    let mut spec = CommandSpec::new("C:\\echo.exe", vec!["x".repeat(33000)]);
    spec.options.skip_cmd_shell = true;
    let r = run(&client, spec).await.0;
    assert!(
        matches!(r, Err(Error::CommandLineTooLong { limit: 32767, .. })),
        "{r:?}"
    );
    assert!(events.try_recv().is_err(), "nothing may reach the server");
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let cfg = aetherv_winrm::ClientConfig::new(
        format!("http://{addr}/wsman"),
        AuthMethod::Ntlm,
        USER,
        PASSWORD,
    );
    let r = Client::new(cfg)
        .unwrap()
        .open_shell(&ShellOptions::default())
        .await;
    assert!(matches!(r, Err(Error::Connect { .. })), "{r:?}");
}

#[tokio::test]
async fn a_connection_closed_by_the_host_is_replaced() {
    // Our own accept loop, able to drop every open connection on demand.
    let srv = start(server_config(), false).await;
    let server = srv.server.clone();
    let mut events = server.subscribe();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (kill, killed) = tokio::sync::watch::channel(0u32);
    let (closed_tx, mut closed) = mpsc::unbounded_channel::<()>();
    let acceptor = tokio::spawn(async move {
        loop {
            let Ok((tcp, peer)) = listener.accept().await else {
                return;
            };
            let (server, mut killed, closed_tx) =
                (server.clone(), killed.clone(), closed_tx.clone());
            killed.borrow_and_update();
            tokio::spawn(async move {
                tokio::select! {
                    _ = server.serve_connection(tcp, peer) => {}
                    _ = killed.changed() => {}
                }
                let _ = closed_tx.send(());
            });
        }
    });
    let mut cfg = aetherv_winrm::ClientConfig::new(
        format!("http://{addr}/wsman"),
        AuthMethod::Ntlm,
        USER,
        PASSWORD,
    );
    cfg.max_connections = 1;
    let client = Client::new(cfg).unwrap();
    let (r, _, _) = run(&client, echo_spec(vec!["1".into()])).await;
    assert_eq!(r.unwrap(), 1);
    kill.send(1).unwrap();
    closed.recv().await.unwrap();
    let (r, _, _) = run(&client, echo_spec(vec!["2".into()])).await;
    assert_eq!(r.unwrap(), 2);
    let mut auths = 0;
    while let Ok(ev) = events.try_recv() {
        auths += usize::from(matches!(ev, ServerEvent::Authenticated { .. }));
    }
    assert_eq!(auths, 2, "the second run authenticated a new connection");
    acceptor.abort();
}

/// Forwards connections to `target`, holding every server→client chunk for `delay`: a
/// slow network on which a reply is still on its way after the host has acted.
async fn slow_replies_proxy(target: std::net::SocketAddr, delay: Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                continue;
            };
            let (mut from_client, mut to_client) = client.into_split();
            let (mut from_server, mut to_server) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut from_client, &mut to_server).await;
            });
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                loop {
                    let n = match from_server.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    tokio::time::sleep(delay).await;
                    if to_client.write_all(&buffer[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{address}/wsman")
}

#[tokio::test]
async fn a_run_cancelled_while_its_shell_is_opening_deletes_that_shell() {
    let srv = start(server_config(), false).await;
    let mut events = srv.server.subscribe();
    let url = slow_replies_proxy(srv.addr, Duration::from_millis(300)).await;
    let client = Client::new(aetherv_winrm::client::ClientConfig::new(
        url,
        AuthMethod::Ntlm,
        USER,
        PASSWORD,
    ))
    .unwrap();
    let (tx, _rx) = mpsc::channel(16);
    let runner =
        tokio::spawn(async move { client.run(CommandSpec::new("hang", vec![]), tx).await });
    // The host has created the shell; its reply is still on the wire when the run goes.
    wait_for(&mut events, |e| {
        matches!(e, ServerEvent::ShellCreated { .. })
    })
    .await;
    runner.abort();
    wait_for(&mut events, |e| {
        matches!(e, ServerEvent::ShellDeleted { .. })
    })
    .await;
    assert_eq!(srv.server.shell_count(), 0);
}

#[tokio::test]
async fn connections_a_burst_opened_are_closed_once_idle() {
    let srv = start(server_config(), false).await;
    let server = srv.server.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = open.clone();
    let acceptor = tokio::spawn(async move {
        loop {
            let Ok((tcp, peer)) = listener.accept().await else {
                return;
            };
            let (server, open) = (server.clone(), counted.clone());
            tokio::spawn(async move {
                open.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = server.serve_connection(tcp, peer).await;
                open.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
    });
    let mut cfg = aetherv_winrm::ClientConfig::new(
        format!("http://{addr}/wsman"),
        AuthMethod::Ntlm,
        USER,
        PASSWORD,
    );
    cfg.max_connections = 4;
    cfg.surplus_idle = Duration::from_millis(300);
    let client = Client::new(cfg).unwrap();
    // A burst: four commands held open at once, each long-polling on its own connection.
    let client = Arc::new(client);
    let burst: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut spec = CommandSpec::new("gate", vec![]);
                spec.stdin = Some(Bytes::new());
                run(&client, spec).await.0
            })
        })
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while srv.server.shell_count() < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the burst did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let opened = open.load(std::sync::atomic::Ordering::SeqCst);
    while !burst.iter().all(|b| b.is_finished()) {
        srv.gate.notify_waiters();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for b in burst {
        let r = b.await.unwrap();
        assert!(r.is_ok(), "{r:?}");
    }
    assert!(opened >= 2, "the burst used {opened} connections");
    // Idle past surplus_idle, then one more command: the surplus is closed, one is kept.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (r, _, _) = run(&client, echo_spec(vec!["again".into()])).await;
    assert!(r.is_ok(), "{r:?}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while open.load(std::sync::atomic::Ordering::SeqCst) > 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} connections still open",
            open.load(std::sync::atomic::Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The one kept is reused: no new connection for the next command.
    let (r, _, _) = run(&client, echo_spec(vec!["kept".into()])).await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(open.load(std::sync::atomic::Ordering::SeqCst), 1);
    acceptor.abort();
}
