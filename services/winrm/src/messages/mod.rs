//! WinRS message bodies (Create, Command, Send, Receive, Signal, Delete, config Get):
//! typed values, the body builders each side writes and the parsers each side reads.

mod request;
mod response;

pub use request::*;
pub use response::*;

use std::time::Duration;

use crate::envelope::{EnvelopeError, parse_bool};
use crate::ns;

/// Options of a new shell (the `Create` request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShellOptions {
    /// `WINRS_CODEPAGE` (65001 for UTF-8).
    pub codepage: Option<u32>,
    /// `WINRS_NOPROFILE`.
    pub no_profile: Option<bool>,
    /// Environment variables of the shell.
    pub environment: Vec<(String, String)>,
    /// Working directory of the shell.
    pub working_directory: Option<String>,
    /// Idle timeout of the shell.
    pub idle_timeout: Option<Duration>,
}

/// Options of one command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOptions {
    /// `WINRS_SKIP_CMD_SHELL`: run the executable directly, not through `cmd.exe /c`.
    pub skip_cmd_shell: bool,
    /// `WINRS_CONSOLEMODE_STDIN`; `Some(false)` when piping stdin. `None` leaves it out.
    pub console_mode_stdin: Option<bool>,
}

/// A WinRS signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Terminate,
    CtrlC,
    CtrlBreak,
}

impl Signal {
    /// The signal code URI.
    pub fn uri(self) -> String {
        format!("{}{}", ns::SIGNAL_PREFIX, self.name())
    }

    fn name(self) -> &'static str {
        match self {
            Signal::Terminate => "terminate",
            Signal::CtrlC => "ctrl_c",
            Signal::CtrlBreak => "ctrl_break",
        }
    }

    /// Reads a signal code URI, case-insensitively (pypsrp writes `Terminate`).
    pub fn from_uri(uri: &str) -> Option<Signal> {
        let uri = uri.trim();
        let prefix = ns::SIGNAL_PREFIX;
        if uri.len() <= prefix.len() || !uri[..prefix.len()].eq_ignore_ascii_case(prefix) {
            return None;
        }
        let name = &uri[prefix.len()..];
        [Signal::Terminate, Signal::CtrlC, Signal::CtrlBreak]
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name))
    }
}

/// The state of a command in a Receive response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandState {
    Pending,
    Running,
    Done,
}

impl CommandState {
    fn uri(self) -> String {
        let name = match self {
            CommandState::Pending => "Pending",
            CommandState::Running => "Running",
            CommandState::Done => "Done",
        };
        format!("{}{}", ns::COMMAND_STATE_PREFIX, name)
    }

    fn from_uri(uri: &str) -> Option<CommandState> {
        let tail = uri.trim().rsplit('/').next()?;
        [
            CommandState::Pending,
            CommandState::Running,
            CommandState::Done,
        ]
        .into_iter()
        .find(|s| {
            s.uri()
                .rsplit('/')
                .next()
                .is_some_and(|n| n.eq_ignore_ascii_case(tail))
        })
    }
}

/// One `rsp:Stream` element: decoded bytes of stdin, stdout or stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamChunk {
    pub name: String,
    pub command_id: Option<String>,
    pub data: Vec<u8>,
    pub end: bool,
}

/// `rsp:CommandState`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandStatus {
    pub command_id: Option<String>,
    pub state: CommandState,
    pub exit_code: Option<i32>,
}

/// The body of a Receive response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiveOutput {
    pub streams: Vec<StreamChunk>,
    pub status: Option<CommandStatus>,
}

impl ReceiveOutput {
    /// True when the command reported Done.
    pub fn is_done(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(|s| s.state == CommandState::Done)
    }

    /// The exit code, when Done.
    pub fn exit_code(&self) -> Option<i32> {
        self.status.as_ref().and_then(|s| s.exit_code)
    }

    /// All bytes of one stream concatenated (chunks may split UTF-8 sequences).
    pub fn stream_bytes(&self, name: &str) -> Vec<u8> {
        self.streams
            .iter()
            .filter(|c| c.name == name)
            .flat_map(|c| c.data.iter().copied())
            .collect()
    }
}

/// Exit codes are DWORDs; Windows may write them unsigned (e.g. 3221225786).
fn parse_exit_code(s: &str) -> Option<i32> {
    let v: i64 = s.trim().parse().ok()?;
    if (i64::from(i32::MIN)..=i64::from(u32::MAX)).contains(&v) {
        Some(v as u32 as i32)
    } else {
        None
    }
}

fn invalid(field: &'static str, value: &str) -> EnvelopeError {
    EnvelopeError::Invalid {
        field,
        value: value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{RequestHeader, build_request, build_response, parse_envelope};

    fn request(action: &str, options: &[(&str, String)], body: &str) -> crate::envelope::Envelope {
        let xml = build_request(
            &RequestHeader {
                to: "http://h/wsman",
                action,
                resource_uri: ns::RESOURCE_CMD,
                message_id: "X",
                max_envelope_size: 153600,
                operation_timeout: Duration::from_secs(20),
                selectors: &[("ShellId", "S1")],
                options,
            },
            body,
        );
        parse_envelope(xml.as_bytes()).unwrap()
    }

    #[test]
    fn create_round_trip() {
        let opts = ShellOptions {
            codepage: Some(65001),
            no_profile: Some(true),
            environment: vec![("A".into(), "1 & 2".into())],
            working_directory: Some("C:\\Windows".into()),
            idle_timeout: Some(Duration::from_secs(60)),
        };
        let (o, b) = create_request(&opts);
        let env = request(ns::ACTION_CREATE, &o, &b);
        assert_eq!(parse_create_request(&env.header, &env.body).unwrap(), opts);
    }

    #[test]
    fn command_send_signal_receive_round_trip() {
        let args = vec!["-NoProfile".to_owned(), "<x>".to_owned()];
        let opts = CommandOptions {
            skip_cmd_shell: true,
            console_mode_stdin: Some(false),
        };
        let (o, b) = command_request("powershell.exe", &args, &opts);
        let env = request(ns::ACTION_COMMAND, &o, &b);
        let cl = parse_command_request(&env.header, &env.body).unwrap();
        assert_eq!(cl.arguments, args);
        assert_eq!(cl.options, opts);
        assert_eq!(cl.joined(), "powershell.exe -NoProfile <x>");

        let env = request(
            ns::ACTION_SEND,
            &[],
            &send_request("C1", b"\x00\xffhi", true),
        );
        let chunks = parse_send_request(&env.body).unwrap();
        assert_eq!(chunks[0].data, b"\x00\xffhi");
        assert!(chunks[0].end);
        assert_eq!(chunks[0].command_id.as_deref(), Some("C1"));

        let env = request(
            ns::ACTION_SIGNAL,
            &[],
            &signal_request("C1", Signal::Terminate),
        );
        assert_eq!(
            parse_signal_request(&env.body).unwrap(),
            (Some("C1".into()), Signal::Terminate)
        );
        assert_eq!(
            Signal::from_uri(
                "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/Terminate"
            ),
            Some(Signal::Terminate)
        );

        let env = request(ns::ACTION_RECEIVE, &[], &receive_request("C1"));
        assert_eq!(
            parse_receive_request(&env.body).unwrap().as_deref(),
            Some("C1")
        );
    }

    #[test]
    fn receive_response_round_trip() {
        let out = ReceiveOutput {
            streams: vec![
                StreamChunk {
                    name: "stdout".into(),
                    command_id: None,
                    data: b"hi".to_vec(),
                    end: true,
                },
                StreamChunk {
                    name: "stderr".into(),
                    command_id: None,
                    data: vec![],
                    end: true,
                },
            ],
            status: Some(CommandStatus {
                command_id: None,
                state: CommandState::Done,
                exit_code: Some(-1),
            }),
        };
        let xml = build_response("a", "b", &receive_response("C1", &out));
        let parsed = parse_receive_response(&parse_envelope(xml.as_bytes()).unwrap().body).unwrap();
        assert_eq!(parsed.stream_bytes("stdout"), b"hi");
        assert_eq!(parsed.streams.len(), 3);
        assert!(parsed.is_done());
        assert_eq!(parsed.exit_code(), Some(-1));
    }

    #[test]
    fn exit_codes_accept_unsigned_dwords() {
        assert_eq!(parse_exit_code("3221225786"), Some(-1073741510));
        assert_eq!(parse_exit_code("-1"), Some(-1));
        assert_eq!(parse_exit_code("99999999999"), None);
    }
}
