//! One test per recorded Windows exchange (`../shared/fixtures/winrm-recorded/`): every
//! response is parsed and checked, and the real client is driven through the recording by
//! a replay server that compares each request it sends with the recorded one.

mod common;

use std::time::Duration;

use aetherv_winrm::client::{AuthMethod, Client, ClientConfig, CommandSpec, Error};
use aetherv_winrm::envelope::parse_envelope;
use aetherv_winrm::fault::{Fault, FaultKind};
use aetherv_winrm::messages::{self, CommandOptions, ReceiveOutput, ShellOptions, Signal};
use aetherv_winrm::ns;
use aetherv_winrm::xml::Element;
use common::recordings::{Message, load};
use common::replay::Replay;
use tokio::sync::mpsc;

fn body(xml: &str) -> Element {
    parse_envelope(xml.as_bytes())
        .expect("recorded response parses")
        .body
}

fn shell_id(m: &Message) -> String {
    messages::parse_create_response(&body(&m.response)).unwrap()
}

fn command_id(m: &Message) -> String {
    messages::parse_command_response(&body(&m.response)).unwrap()
}

fn receive(m: &Message) -> ReceiveOutput {
    messages::parse_receive_response(&body(&m.response)).unwrap()
}

fn fault(m: &Message) -> Fault {
    assert_eq!(m.http_status, Some(500), "faults come with http 500");
    let env = parse_envelope(m.response.as_bytes()).unwrap();
    assert_eq!(env.header.action.as_deref(), Some(ns::ACTION_FAULT));
    Fault::from_body(&env.body).expect("a fault")
}

/// Every response header is Windows-shaped: Action = request action + Response.
fn check_headers(msgs: &[Message]) {
    for m in msgs {
        let req = parse_envelope(m.request.as_bytes()).unwrap();
        let resp = parse_envelope(m.response.as_bytes()).unwrap();
        let expected = match m.http_status {
            Some(_) => ns::ACTION_FAULT.to_owned(),
            None => format!("{}Response", req.header.action.unwrap()),
        };
        assert_eq!(resp.header.action.as_deref(), Some(expected.as_str()));
        assert_eq!(resp.header.relates_to, req.header.message_id);
        assert_eq!(resp.header.to.as_deref(), Some(ns::ANONYMOUS));
    }
}

fn replay_client(replay: &Replay) -> Client {
    let mut cfg = ClientConfig::new(replay.url(), AuthMethod::Basic, "vagrant", "vagrant");
    cfg.insecure_http = true;
    Client::new(cfg).unwrap()
}

fn plain_options() -> CommandOptions {
    CommandOptions {
        skip_cmd_shell: false,
        console_mode_stdin: None,
    }
}

async fn receive_all(shell: &aetherv_winrm::Shell, cmd: &str) -> (Vec<u8>, i32) {
    let mut out = Vec::new();
    loop {
        let r = shell.receive(cmd).await.unwrap();
        out.extend(r.stream_bytes("stdout"));
        if r.is_done() {
            return (out, r.exit_code().unwrap());
        }
    }
}

#[tokio::test]
async fn winrs_standard() {
    let msgs = load("winrs_standard.yml");
    check_headers(&msgs);
    assert_eq!(shell_id(&msgs[0]), "4283CBDC-3706-415B-88BD-B385F3E51A53");
    assert_eq!(command_id(&msgs[1]), "CF84C20A-0A35-43FA-AF78-0B4711DA5F30");
    let r = receive(&msgs[2]);
    assert_eq!(r.stream_bytes("stdout"), b"hi\r\n");
    assert!(r.stream_bytes("stderr").is_empty());
    assert!(r.is_done());
    assert_eq!(r.exit_code(), Some(0));
    assert_eq!(r.streams.iter().filter(|s| s.end).count(), 2);

    // The high-level run, end to end, against the recorded answers.
    let replay = Replay::start(msgs, true).await;
    let client = replay_client(&replay);
    let mut spec = CommandSpec::new("cmd.exe", vec!["/c".into(), "echo".into(), "hi".into()]);
    spec.shell = ShellOptions::default();
    spec.options = plain_options();
    spec.deadline = Some(Duration::from_secs(30));
    let (tx, rx) = mpsc::channel(8);
    let collector = tokio::spawn(common::collect(rx));
    assert_eq!(client.run(spec, tx).await.unwrap(), 0);
    let (out, err, _) = collector.await.unwrap();
    assert_eq!(out, b"hi\r\n");
    assert!(err.is_empty());
    replay.assert_complete();
}

#[tokio::test]
async fn winrs_send() {
    let msgs = load("winrs_send.yml");
    check_headers(&msgs);
    let shell = shell_id(&msgs[0]);
    let cmd = command_id(&msgs[1]);
    assert_eq!(cmd, "B0973E54-434E-4D99-B4BE-ADE584CE3BFB");
    for (m, text, end) in [
        (&msgs[2], "Write-Host \"output 1\";", false),
        (&msgs[3], "Write-Host \"output 2\";", true),
    ] {
        let req = parse_envelope(m.request.as_bytes()).unwrap();
        let chunks = messages::parse_send_request(&req.body).unwrap();
        assert_eq!(chunks[0].data, text.as_bytes());
        assert_eq!(
            chunks[0].end, end,
            "End=\"True\"/\"False\" parsed case-insensitively"
        );
        assert!(body(&m.response).child(ns::SHELL, "SendResponse").is_some());
    }
    let r = receive(&msgs[4]);
    assert_eq!(r.stream_bytes("stdout"), b"output 1\noutput 2\n");
    assert_eq!(r.exit_code(), Some(0));

    // The real client through the whole command with the lower-level shell API.
    let replay = Replay::start(msgs, false).await;
    let client = replay_client(&replay);
    let s = client.open_shell(&ShellOptions::default()).await.unwrap();
    assert_eq!(s.id(), shell);
    let id = s
        .command("powershell.exe", &["-".into()], &plain_options())
        .await
        .unwrap();
    assert_eq!(id, cmd);
    s.send_stdin(&id, b"Write-Host \"output 1\";", false)
        .await
        .unwrap();
    s.send_stdin(&id, b"Write-Host \"output 2\";", true)
        .await
        .unwrap();
    assert_eq!(
        receive_all(&s, &id).await,
        (b"output 1\noutput 2\n".to_vec(), 0)
    );
    s.signal(&id, Signal::CtrlC).await.unwrap();
    s.delete().await.unwrap();
    replay.assert_complete();
}

#[tokio::test]
async fn winrs_extra_opts() {
    let msgs = load("winrs_extra_opts.yml");
    check_headers(&msgs);
    let created = body(&msgs[0].response);
    assert_eq!(shell_id(&msgs[0]), "CBA3E536-A3A2-4B88-9ED3-4919930E15C2");
    let wd = created
        .path(&[(ns::SHELL, "Shell"), (ns::SHELL, "WorkingDirectory")])
        .unwrap();
    assert_eq!(wd.text, "C:\\Windows");
    let r = receive(&msgs[2]);
    assert_eq!(r.stream_bytes("stdout"), b"C:\\Windows\r\n");

    let replay = Replay::start(msgs, false).await;
    let client = replay_client(&replay);
    let opts = ShellOptions {
        working_directory: Some("C:\\Windows".into()),
        idle_timeout: Some(Duration::from_secs(60)),
        ..ShellOptions::default()
    };
    let s = client.open_shell(&opts).await.unwrap();
    let id = s
        .command("powershell.exe", &["(pwd).Path".into()], &plain_options())
        .await
        .unwrap();
    assert_eq!(receive_all(&s, &id).await, (b"C:\\Windows\r\n".to_vec(), 0));
    s.signal(&id, Signal::CtrlC).await.unwrap();
    s.delete().await.unwrap();
    replay.assert_complete();
}

#[tokio::test]
async fn winrs_noprofile() {
    let msgs = load("winrs_noprofile.yml");
    check_headers(&msgs);
    let req = parse_envelope(msgs[0].request.as_bytes()).unwrap();
    assert_eq!(
        req.header.bool_option(ns::OPT_NOPROFILE).unwrap(),
        Some(true)
    );
    let r = receive(&msgs[2]);
    let out = String::from_utf8(r.stream_bytes("stdout")).unwrap();
    assert!(out.contains("COMPUTERNAME=SERVER2016\r\n"), "{out}");
    assert_eq!(r.exit_code(), Some(0));

    let replay = Replay::start(msgs, false).await;
    let client = replay_client(&replay);
    let s = client
        .open_shell(&ShellOptions {
            no_profile: Some(true),
            ..ShellOptions::default()
        })
        .await
        .unwrap();
    let id = s
        .command("cmd.exe", &["/c".into(), "set".into()], &plain_options())
        .await
        .unwrap();
    let (stdout, code) = receive_all(&s, &id).await;
    assert_eq!(String::from_utf8(stdout).unwrap(), out);
    assert_eq!(code, 0);
    s.signal(&id, Signal::CtrlC).await.unwrap();
    s.delete().await.unwrap();
    replay.assert_complete();
}

#[tokio::test]
async fn winrs_no_cmd_shell() {
    let msgs = load("winrs_no_cmd_shell.yml");
    check_headers(&msgs);
    let f = fault(&msgs[1]);
    assert_eq!(f.wsman_code, Some(2_147_942_402));
    assert_eq!(f.subcode.as_deref(), Some("w:InternalError"));
    assert_eq!(f.machine.as_deref(), Some("server2008r2.domain.local"));
    let pf = f.provider_fault.clone().unwrap();
    assert_eq!(pf.provider.as_deref(), Some("Shell cmd plugin"));
    assert_eq!(f.text(), "The system cannot find the file specified.");
    assert_eq!(receive(&msgs[3]).stream_bytes("stdout"), b"hi\n");

    let replay = Replay::start(msgs, false).await;
    let client = replay_client(&replay);
    let s = client.open_shell(&ShellOptions::default()).await.unwrap();
    let skip = CommandOptions {
        skip_cmd_shell: true,
        console_mode_stdin: None,
    };
    let args = vec!["Write-Host".to_owned(), "hi".to_owned()];
    let err = s.command("powershell.exe", &args, &skip).await.unwrap_err();
    assert_eq!(err.fault().and_then(|f| f.wsman_code), Some(2_147_942_402));
    let id = s
        .command(
            "C:\\Windows\\system32\\WindowsPowerShell\\v1.0\\powershell.exe",
            &args,
            &skip,
        )
        .await
        .unwrap();
    assert_eq!(receive_all(&s, &id).await, (b"hi\n".to_vec(), 0));
    s.signal(&id, Signal::CtrlC).await.unwrap();
    s.delete().await.unwrap();
    replay.assert_complete();
}

#[tokio::test]
async fn winrs_bad_cmd_id() {
    let msgs = load("winrs_bad_cmd_id.yml");
    check_headers(&msgs);
    let f = fault(&msgs[2]);
    assert_eq!(f.wsman_code, Some(2_150_858_843));
    assert_eq!(f.kind(), FaultKind::ShellOrCommandGone);
    assert_eq!(f.subcode.as_deref(), Some("w:InvalidSelectors"));
    assert_eq!(
        f.fault_detail.as_deref(),
        Some("http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors")
    );
    assert_eq!(
        f.message.as_deref(),
        Some(aetherv_winrm::fault::MSG_UNKNOWN_COMMAND)
    );

    let replay = Replay::start(msgs, false).await;
    let client = replay_client(&replay);
    let s = client.open_shell(&ShellOptions::default()).await.unwrap();
    let args = vec!["/c".to_owned(), "echo".to_owned(), "hi".to_owned()];
    let id = s.command("cmd.exe", &args, &plain_options()).await.unwrap();
    let err = s
        .receive("87E77BEB-6761-4C48-9D70-A00266B8459A")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Fault(f) if f.kind() == FaultKind::ShellOrCommandGone),
        "{err:?}"
    );
    s.signal(&id, Signal::CtrlC).await.unwrap();
    s.delete().await.unwrap();
    replay.assert_complete();
}

#[tokio::test]
async fn winrs_open_already_opened() {
    let msgs = load("winrs_open_already_opened.yml");
    check_headers(&msgs);
    assert_eq!(shell_id(&msgs[0]), "ED7FD87E-E041-4BC2-A22F-B58FF7833094");
    assert!(
        body(&msgs[1].response).children.is_empty(),
        "Delete answers an empty body"
    );

    let replay = Replay::start(msgs, false).await;
    let client = replay_client(&replay);
    let s = client.open_shell(&ShellOptions::default()).await.unwrap();
    s.delete().await.unwrap();
    replay.assert_complete();
}

#[tokio::test]
async fn winrs_fail_poll_process() {
    let msgs = load("winrs_fail_poll_process.yml");
    check_headers(&msgs);
    let f = fault(&msgs[1]);
    assert_eq!(f.wsman_code, Some(87));
    assert_eq!(f.subcode.as_deref(), Some("w:InvalidParameter"));
    assert_eq!(f.machine.as_deref(), Some("127.0.0.1"));
    assert_eq!(f.text(), "The parameter is incorrect.");
    assert_eq!(f.kind(), FaultKind::Other);
    // Our client always names the command in a Receive, so the request side of this
    // recording is checked against our server instead (tests/server_recorded.rs).
}

async fn envelope_size(file: &str, expected: u32) {
    let msgs = load(file);
    check_headers(&msgs);
    assert_eq!(
        messages::parse_config_response(&body(&msgs[0].response)).unwrap(),
        expected
    );
    let replay = Replay::start(msgs, false).await;
    assert_eq!(
        replay_client(&replay).max_envelope_size_kb().await.unwrap(),
        expected
    );
    replay.assert_complete();
}

#[tokio::test]
async fn wsman_envelope_size_150() {
    envelope_size("wsman_envelope_size_150.yml", 150).await;
}

#[tokio::test]
async fn wsman_envelope_size_500() {
    envelope_size("wsman_envelope_size_500.yml", 500).await;
}

#[tokio::test]
async fn wsman_envelope_size_4096() {
    envelope_size("wsman_envelope_size_4096.yml", 4096).await;
}

#[test]
fn every_fixture_file_has_a_test() {
    let mut files: Vec<String> = std::fs::read_dir(common::recordings::fixtures_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    files.sort();
    let tested = [
        "winrs_bad_cmd_id.yml",
        "winrs_extra_opts.yml",
        "winrs_fail_poll_process.yml",
        "winrs_no_cmd_shell.yml",
        "winrs_noprofile.yml",
        "winrs_open_already_opened.yml",
        "winrs_send.yml",
        "winrs_standard.yml",
        "wsman_envelope_size_150.yml",
        "wsman_envelope_size_4096.yml",
        "wsman_envelope_size_500.yml",
    ];
    assert_eq!(files, tested, "a recorded fixture has no test");
}
