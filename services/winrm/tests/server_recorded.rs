//! Our server answers the requests pypsrp sent to real Windows hosts the way Windows did:
//! each recorded request (ids replaced by the ones our server handed out) is posted to an
//! in-process server whose processes print what the recorded processes printed, and the
//! answer is compared with the recorded answer: HTTP status, action, fault subcode, code
//! and text, shell/command ids present, stream bytes, Done and exit code, config values.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use aetherv_winrm::envelope::parse_envelope;
use aetherv_winrm::fault::Fault;
use aetherv_winrm::messages;
use aetherv_winrm::ns;
use aetherv_winrm::server::{
    CommandHandler, CommandRequest, ProcessFuture, ProcessIo, ServerConfig, ServerUser, WinrmServer,
};
use base64::Engine as _;
use bytes::Bytes;
use common::recordings::{Message, load};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// Plays the processes of a recording: output by command line, taken from the recording.
struct Recorded {
    outputs: HashMap<String, (Vec<u8>, Vec<u8>, i32)>,
}

impl CommandHandler for Recorded {
    fn start(&self, req: CommandRequest, mut io: ProcessIo) -> Result<ProcessFuture, Fault> {
        if req.skip_cmd_shell && !req.command.contains('\\') {
            return Err(Fault::file_not_found(&req.machine));
        }
        let (out, err, code) = self
            .outputs
            .get(&req.command_line())
            .cloned()
            .unwrap_or_default();
        Ok(Box::pin(async move {
            if req.command.ends_with("powershell.exe") && req.arguments == ["-"] {
                while io.stdin.recv().await.is_some() {}
            }
            if !out.is_empty() {
                let _ = io.stdout.send(Bytes::from(out)).await;
            }
            if !err.is_empty() {
                let _ = io.stderr.send(Bytes::from(err)).await;
            }
            code
        }))
    }
}

fn outputs_of(msgs: &[Message]) -> HashMap<String, (Vec<u8>, Vec<u8>, i32)> {
    let mut lines = HashMap::new();
    let mut outputs = HashMap::new();
    for m in msgs {
        let req = parse_envelope(m.request.as_bytes()).unwrap();
        let resp = parse_envelope(m.response.as_bytes()).unwrap();
        match req.header.action.as_deref() {
            Some(ns::ACTION_COMMAND) if m.http_status.is_none() => {
                let line = messages::parse_command_request(&req.header, &req.body)
                    .unwrap()
                    .joined();
                lines.insert(messages::parse_command_response(&resp.body).unwrap(), line);
            }
            Some(ns::ACTION_RECEIVE) if m.http_status.is_none() => {
                let id = messages::parse_receive_request(&req.body).unwrap().unwrap();
                let r = messages::parse_receive_response(&resp.body).unwrap();
                let line = lines[&id].clone();
                outputs.insert(
                    line,
                    (
                        r.stream_bytes("stdout"),
                        r.stream_bytes("stderr"),
                        r.exit_code().unwrap(),
                    ),
                );
            }
            _ => {}
        }
    }
    outputs
}

async fn post(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    addr: &str,
    body: String,
) -> (u16, Vec<u8>) {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        common::USER,
        common::PASSWORD
    ));
    let req = http::Request::post(format!("http://{addr}/wsman"))
        .header(http::header::HOST, addr)
        .header(http::header::CONTENT_TYPE, ns::SOAP_CONTENT_TYPE)
        .header(http::header::AUTHORIZATION, format!("Basic {auth}"))
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    sender.ready().await.unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    (
        status,
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
}

async fn check(file: &str, envelope_kb: u32) {
    let msgs = load(file);
    let mut config = ServerConfig::new(
        "SIMHOST",
        vec![ServerUser::new(common::USER, common::PASSWORD)],
    );
    config.allow_basic_over_http = true;
    config.max_envelope_size_kb = envelope_kb;
    let server = WinrmServer::new(
        config,
        Arc::new(Recorded {
            outputs: outputs_of(&msgs),
        }),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let srv = server.clone();
    let task = tokio::spawn(async move {
        let (tcp, peer) = listener.accept().await.unwrap();
        let _ = srv.serve_connection(tcp, peer).await;
    });
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);

    let mut ids: Vec<(String, String)> = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let mut request = m.request.clone();
        for (recorded, ours) in &ids {
            request = request.replace(recorded, ours);
        }
        let (status, body) = post(&mut sender, &addr, request.clone()).await;
        let ctx = format!("{file} message {i}");
        assert_eq!(
            status,
            m.http_status.unwrap_or(200),
            "{ctx}: http status; body {}",
            String::from_utf8_lossy(&body)
        );
        let ours = parse_envelope(&body)
            .unwrap_or_else(|e| panic!("{ctx}: our answer does not parse: {e}"));
        let theirs = parse_envelope(m.response.as_bytes()).unwrap();
        let req = parse_envelope(request.as_bytes()).unwrap();
        assert_eq!(ours.header.action, theirs.header.action, "{ctx}: action");
        assert_eq!(
            ours.header.relates_to, req.header.message_id,
            "{ctx}: RelatesTo"
        );
        assert_eq!(ours.header.to.as_deref(), Some(ns::ANONYMOUS), "{ctx}: To");
        if let Some(theirs_fault) = Fault::from_body(&theirs.body) {
            let f =
                Fault::from_body(&ours.body).unwrap_or_else(|| panic!("{ctx}: expected a fault"));
            assert_eq!(f.code, theirs_fault.code, "{ctx}: fault code");
            assert_eq!(f.subcode, theirs_fault.subcode, "{ctx}: subcode");
            assert_eq!(
                f.wsman_code, theirs_fault.wsman_code,
                "{ctx}: WSManFault code"
            );
            assert_eq!(f.text(), theirs_fault.text(), "{ctx}: fault text");
            assert_eq!(
                f.fault_detail, theirs_fault.fault_detail,
                "{ctx}: FaultDetail"
            );
            assert_eq!(
                f.provider_fault.is_some(),
                theirs_fault.provider_fault.is_some(),
                "{ctx}: ProviderFault"
            );
            continue;
        }
        match req.header.action.as_deref().unwrap() {
            ns::ACTION_CREATE => {
                let recorded = messages::parse_create_response(&theirs.body).unwrap();
                let id = messages::parse_create_response(&ours.body).unwrap();
                let shell = ours
                    .body
                    .child(ns::SHELL, "Shell")
                    .expect("rsp:Shell block");
                assert_eq!(shell.child(ns::SHELL, "Owner").unwrap().text, common::USER);
                ids.push((recorded, id));
            }
            ns::ACTION_COMMAND => {
                let recorded = messages::parse_command_response(&theirs.body).unwrap();
                ids.push((
                    recorded,
                    messages::parse_command_response(&ours.body).unwrap(),
                ));
            }
            ns::ACTION_RECEIVE => {
                let (a, b) = (
                    messages::parse_receive_response(&ours.body).unwrap(),
                    messages::parse_receive_response(&theirs.body).unwrap(),
                );
                for s in ["stdout", "stderr"] {
                    assert_eq!(a.stream_bytes(s), b.stream_bytes(s), "{ctx}: {s}");
                    assert!(
                        a.streams.iter().any(|c| c.name == s && c.end),
                        "{ctx}: {s} End"
                    );
                }
                assert!(a.is_done(), "{ctx}: Done");
                assert_eq!(a.exit_code(), b.exit_code(), "{ctx}: exit code");
            }
            ns::ACTION_GET => {
                assert_eq!(
                    messages::parse_config_response(&ours.body).unwrap(),
                    envelope_kb,
                    "{ctx}"
                );
            }
            ns::ACTION_SEND | ns::ACTION_SIGNAL => {
                let want = theirs.body.children[0].name.clone();
                assert_eq!(ours.body.children.len(), 1, "{ctx}");
                assert_eq!(ours.body.children[0].name, want, "{ctx}");
            }
            ns::ACTION_DELETE => assert!(ours.body.children.is_empty(), "{ctx}: empty body"),
            other => panic!("{ctx}: unexpected action {other}"),
        }
    }
    assert_eq!(
        server.shell_count(),
        0,
        "{file}: the recording deletes its shell"
    );
    drop(sender);
    task.abort();
}

#[tokio::test]
async fn answers_like_windows_standard() {
    check("winrs_standard.yml", 500).await;
}

#[tokio::test]
async fn answers_like_windows_send() {
    check("winrs_send.yml", 500).await;
}

#[tokio::test]
async fn answers_like_windows_extra_opts() {
    check("winrs_extra_opts.yml", 500).await;
}

#[tokio::test]
async fn answers_like_windows_noprofile() {
    check("winrs_noprofile.yml", 500).await;
}

#[tokio::test]
async fn answers_like_windows_no_cmd_shell() {
    check("winrs_no_cmd_shell.yml", 500).await;
}

#[tokio::test]
async fn answers_like_windows_bad_cmd_id() {
    check("winrs_bad_cmd_id.yml", 500).await;
}

#[tokio::test]
async fn answers_like_windows_open_already_opened() {
    check("winrs_open_already_opened.yml", 500).await;
}

#[tokio::test]
async fn answers_like_windows_fail_poll_process() {
    check("winrs_fail_poll_process.yml", 500).await;
}

#[tokio::test]
async fn answers_like_windows_config_get() {
    check("wsman_envelope_size_150.yml", 150).await;
    check("wsman_envelope_size_500.yml", 500).await;
    check("wsman_envelope_size_4096.yml", 4096).await;
}
