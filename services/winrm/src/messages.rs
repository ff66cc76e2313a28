//! WinRS message bodies (Create, Command, Send, Receive, Signal, Delete, config Get):
//! typed values, the body builders each side writes and the parsers each side reads.

use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::envelope::{EnvelopeError, Header, format_duration, parse_bool, parse_duration};
use crate::ns;
use crate::xml::{Element, escape};

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

// ---------------------------------------------------------------------------------------
// Request bodies (client writes, server reads)
// ---------------------------------------------------------------------------------------

/// Header options and body of a Create request.
pub fn create_request(opts: &ShellOptions) -> (Vec<(&'static str, String)>, String) {
    let mut options = Vec::new();
    if let Some(np) = opts.no_profile {
        options.push((
            ns::OPT_NOPROFILE,
            if np { "TRUE" } else { "FALSE" }.to_owned(),
        ));
    }
    if let Some(cp) = opts.codepage {
        options.push((ns::OPT_CODEPAGE, cp.to_string()));
    }
    let mut body = String::from(
        "<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>",
    );
    if let Some(t) = opts.idle_timeout {
        let _ = write!(
            body,
            "<rsp:IdleTimeOut>{}</rsp:IdleTimeOut>",
            format_duration(t)
        );
    }
    if let Some(wd) = &opts.working_directory {
        let _ = write!(
            body,
            "<rsp:WorkingDirectory>{}</rsp:WorkingDirectory>",
            escape(wd)
        );
    }
    if !opts.environment.is_empty() {
        body.push_str("<rsp:Environment>");
        for (k, v) in &opts.environment {
            let _ = write!(
                body,
                r#"<rsp:Variable Name="{}">{}</rsp:Variable>"#,
                escape(k),
                escape(v)
            );
        }
        body.push_str("</rsp:Environment>");
    }
    body.push_str("</rsp:Shell>");
    (options, body)
}

/// Reads a Create request.
pub fn parse_create_request(
    header: &Header,
    body: &Element,
) -> Result<ShellOptions, EnvelopeError> {
    let shell = body
        .child(ns::SHELL, "Shell")
        .ok_or(EnvelopeError::Missing("rsp:Shell"))?;
    let codepage = header
        .option(ns::OPT_CODEPAGE)
        .map(|v| {
            v.trim()
                .parse::<u32>()
                .map_err(|_| invalid(ns::OPT_CODEPAGE, v))
        })
        .transpose()?;
    let environment = shell
        .child(ns::SHELL, "Environment")
        .map(|env| {
            env.children_named(ns::SHELL, "Variable")
                .map(|v| {
                    (
                        v.attr("Name").unwrap_or_default().to_owned(),
                        v.text.clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let idle_timeout = shell
        .child(ns::SHELL, "IdleTimeOut")
        .map(|t| parse_duration(&t.text).ok_or_else(|| invalid("IdleTimeOut", &t.text)))
        .transpose()?;
    Ok(ShellOptions {
        codepage,
        no_profile: header.bool_option(ns::OPT_NOPROFILE)?,
        environment,
        working_directory: shell
            .child(ns::SHELL, "WorkingDirectory")
            .map(|w| w.trimmed_text().to_owned()),
        idle_timeout,
    })
}

/// Header options and body of a Command request.
pub fn command_request(
    command: &str,
    args: &[String],
    opts: &CommandOptions,
) -> (Vec<(&'static str, String)>, String) {
    let mut options = Vec::new();
    if let Some(c) = opts.console_mode_stdin {
        options.push((
            ns::OPT_CONSOLEMODE_STDIN,
            if c { "TRUE" } else { "FALSE" }.to_owned(),
        ));
    }
    options.push((
        ns::OPT_SKIP_CMD_SHELL,
        if opts.skip_cmd_shell { "TRUE" } else { "FALSE" }.to_owned(),
    ));
    let mut body = format!(
        "<rsp:CommandLine><rsp:Command>{}</rsp:Command>",
        escape(command)
    );
    for a in args {
        let _ = write!(body, "<rsp:Arguments>{}</rsp:Arguments>", escape(a));
    }
    body.push_str("</rsp:CommandLine>");
    (options, body)
}

/// A parsed Command request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub command: String,
    pub arguments: Vec<String>,
    /// A CommandId the client chose, if any.
    pub command_id: Option<String>,
    pub options: CommandOptions,
}

impl CommandLine {
    /// The line Windows runs: command and arguments joined by spaces, unquoted.
    pub fn joined(&self) -> String {
        joined_command_line(&self.command, &self.arguments)
    }
}

/// Command and arguments joined the way WinRS does (spaces, no quoting).
pub fn joined_command_line(command: &str, args: &[String]) -> String {
    let mut s = command.to_owned();
    for a in args {
        s.push(' ');
        s.push_str(a);
    }
    s
}

/// Reads a Command request.
pub fn parse_command_request(
    header: &Header,
    body: &Element,
) -> Result<CommandLine, EnvelopeError> {
    let cl = body
        .child(ns::SHELL, "CommandLine")
        .ok_or(EnvelopeError::Missing("rsp:CommandLine"))?;
    let command = cl
        .child(ns::SHELL, "Command")
        .ok_or(EnvelopeError::Missing("rsp:Command"))?;
    Ok(CommandLine {
        command: command.text.trim().to_owned(),
        arguments: cl
            .children_named(ns::SHELL, "Arguments")
            .map(|a| a.text.clone())
            .collect(),
        command_id: cl.attr("CommandId").map(str::to_owned),
        options: CommandOptions {
            skip_cmd_shell: header.bool_option(ns::OPT_SKIP_CMD_SHELL)?.unwrap_or(false),
            console_mode_stdin: header.bool_option(ns::OPT_CONSOLEMODE_STDIN)?,
        },
    })
}

/// Body of a Send request for one stdin chunk.
pub fn send_request(command_id: &str, data: &[u8], end: bool) -> String {
    format!(
        r#"<rsp:Send><rsp:Stream Name="stdin" CommandId="{}"{}>{}</rsp:Stream></rsp:Send>"#,
        escape(command_id),
        if end { r#" End="true""# } else { "" },
        B64.encode(data)
    )
}

fn parse_stream(el: &Element) -> Result<StreamChunk, EnvelopeError> {
    let text: String = el
        .text
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let data = B64
        .decode(text.as_bytes())
        .map_err(|_| invalid("rsp:Stream", &el.text))?;
    Ok(StreamChunk {
        name: el.attr("Name").unwrap_or_default().to_owned(),
        command_id: el.attr("CommandId").map(str::to_owned),
        data,
        end: el.attr("End").map(parse_bool).transpose()?.unwrap_or(false),
    })
}

/// Reads a Send request: its stdin chunks.
pub fn parse_send_request(body: &Element) -> Result<Vec<StreamChunk>, EnvelopeError> {
    let send = body
        .child(ns::SHELL, "Send")
        .ok_or(EnvelopeError::Missing("rsp:Send"))?;
    send.children_named(ns::SHELL, "Stream")
        .map(parse_stream)
        .collect()
}

/// Body of a Receive request.
pub fn receive_request(command_id: &str) -> String {
    format!(
        r#"<rsp:Receive><rsp:DesiredStream CommandId="{}">stdout stderr</rsp:DesiredStream></rsp:Receive>"#,
        escape(command_id)
    )
}

/// Reads a Receive request: the command id it asks about, if any.
pub fn parse_receive_request(body: &Element) -> Result<Option<String>, EnvelopeError> {
    let r = body
        .child(ns::SHELL, "Receive")
        .ok_or(EnvelopeError::Missing("rsp:Receive"))?;
    Ok(r.child(ns::SHELL, "DesiredStream")
        .and_then(|d| d.attr("CommandId"))
        .map(str::to_owned))
}

/// Body of a Signal request.
pub fn signal_request(command_id: &str, signal: Signal) -> String {
    format!(
        r#"<rsp:Signal CommandId="{}"><rsp:Code>{}</rsp:Code></rsp:Signal>"#,
        escape(command_id),
        signal.uri()
    )
}

/// Reads a Signal request: command id and signal.
pub fn parse_signal_request(body: &Element) -> Result<(Option<String>, Signal), EnvelopeError> {
    let s = body
        .child(ns::SHELL, "Signal")
        .ok_or(EnvelopeError::Missing("rsp:Signal"))?;
    let code = s
        .child(ns::SHELL, "Code")
        .ok_or(EnvelopeError::Missing("rsp:Code"))?;
    let signal = Signal::from_uri(&code.text).ok_or_else(|| invalid("rsp:Code", &code.text))?;
    Ok((s.attr("CommandId").map(str::to_owned), signal))
}

// ---------------------------------------------------------------------------------------
// Response bodies (server writes, client reads)
// ---------------------------------------------------------------------------------------

/// Reads the shell id from a Create response.
pub fn parse_create_response(body: &Element) -> Result<String, EnvelopeError> {
    let from_selector = body
        .path(&[
            (ns::TRANSFER, "ResourceCreated"),
            (ns::ADDRESSING, "ReferenceParameters"),
            (ns::WSMAN, "SelectorSet"),
        ])
        .and_then(|set| {
            set.children_named(ns::WSMAN, "Selector").find(|s| {
                s.attr("Name")
                    .is_some_and(|n| n.eq_ignore_ascii_case("ShellId"))
            })
        })
        .map(|s| s.trimmed_text().to_owned());
    let from_shell = || {
        body.path(&[(ns::SHELL, "Shell"), (ns::SHELL, "ShellId")])
            .map(|s| s.trimmed_text().to_owned())
    };
    from_selector
        .or_else(from_shell)
        .filter(|s| !s.is_empty())
        .ok_or(EnvelopeError::Missing("ShellId"))
}

/// Facts a Create response reports about the new shell.
#[derive(Debug, Clone)]
pub struct CreatedShell<'a> {
    pub shell_id: &'a str,
    pub address: &'a str,
    pub owner: &'a str,
    pub client_ip: &'a str,
    pub working_directory: Option<&'a str>,
    pub idle_timeout: Duration,
}

/// Body of a Create response, as Windows ≥ 2008 R2 writes it.
pub fn create_response(c: &CreatedShell<'_>) -> String {
    let mut s = format!(
        concat!(
            "<x:ResourceCreated><a:Address>{addr}</a:Address><a:ReferenceParameters>",
            "<w:ResourceURI>{res}</w:ResourceURI><w:SelectorSet><w:Selector Name=\"ShellId\">{id}</w:Selector>",
            "</w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>",
            "<rsp:Shell xmlns:rsp=\"{rsp}\"><rsp:ShellId>{id}</rsp:ShellId><rsp:ResourceUri>{res}</rsp:ResourceUri>",
            "<rsp:Owner>{owner}</rsp:Owner><rsp:ClientIP>{ip}</rsp:ClientIP>"
        ),
        addr = escape(c.address),
        res = ns::RESOURCE_CMD,
        id = escape(c.shell_id),
        rsp = ns::SHELL,
        owner = escape(c.owner),
        ip = escape(c.client_ip),
    );
    if let Some(wd) = c.working_directory {
        let _ = write!(
            s,
            "<rsp:WorkingDirectory>{}</rsp:WorkingDirectory>",
            escape(wd)
        );
    }
    let _ = write!(
        s,
        concat!(
            "<rsp:IdleTimeOut>PT{}.{:03}S</rsp:IdleTimeOut><rsp:InputStreams>stdin</rsp:InputStreams>",
            "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams><rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime>",
            "<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity></rsp:Shell>"
        ),
        c.idle_timeout.as_secs(),
        c.idle_timeout.subsec_millis()
    );
    s
}

/// Reads the command id from a Command response.
pub fn parse_command_response(body: &Element) -> Result<String, EnvelopeError> {
    body.path(&[(ns::SHELL, "CommandResponse"), (ns::SHELL, "CommandId")])
        .map(|c| c.trimmed_text().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or(EnvelopeError::Missing("rsp:CommandId"))
}

/// Body of a Command response.
pub fn command_response(command_id: &str) -> String {
    format!(
        "<rsp:CommandResponse><rsp:CommandId>{}</rsp:CommandId></rsp:CommandResponse>",
        escape(command_id)
    )
}

/// Reads a Receive response.
pub fn parse_receive_response(body: &Element) -> Result<ReceiveOutput, EnvelopeError> {
    let rr = body
        .child(ns::SHELL, "ReceiveResponse")
        .ok_or(EnvelopeError::Missing("rsp:ReceiveResponse"))?;
    let streams = rr
        .children_named(ns::SHELL, "Stream")
        .map(parse_stream)
        .collect::<Result<_, _>>()?;
    let status = rr
        .child(ns::SHELL, "CommandState")
        .map(|cs| -> Result<CommandStatus, EnvelopeError> {
            let state_uri = cs.attr("State").unwrap_or_default();
            let state = CommandState::from_uri(state_uri)
                .ok_or_else(|| invalid("CommandState", state_uri))?;
            let exit_code = cs
                .child(ns::SHELL, "ExitCode")
                .map(|e| parse_exit_code(&e.text).ok_or_else(|| invalid("rsp:ExitCode", &e.text)))
                .transpose()?;
            Ok(CommandStatus {
                command_id: cs.attr("CommandId").map(str::to_owned),
                state,
                exit_code,
            })
        })
        .transpose()?;
    Ok(ReceiveOutput { streams, status })
}

/// Body of a Receive response. Streams with `end` get a following empty `End="true"` element
/// when they carry data, as Windows writes them.
pub fn receive_response(command_id: &str, out: &ReceiveOutput) -> String {
    let mut s = String::from("<rsp:ReceiveResponse>");
    let id = escape(command_id);
    for c in &out.streams {
        let name = escape(&c.name);
        if !c.data.is_empty() {
            let _ = write!(
                s,
                r#"<rsp:Stream Name="{name}" CommandId="{id}">{}</rsp:Stream>"#,
                B64.encode(&c.data)
            );
        }
        if c.end {
            let _ = write!(
                s,
                r#"<rsp:Stream Name="{name}" CommandId="{id}" End="true"></rsp:Stream>"#
            );
        }
    }
    if let Some(st) = &out.status {
        let _ = write!(
            s,
            r#"<rsp:CommandState CommandId="{id}" State="{}">"#,
            st.state.uri()
        );
        match st.exit_code {
            Some(code) if st.state == CommandState::Done => {
                let _ = write!(s, "<rsp:ExitCode>{code}</rsp:ExitCode></rsp:CommandState>");
            }
            _ => s.push_str("</rsp:CommandState>"),
        }
    }
    s.push_str("</rsp:ReceiveResponse>");
    s
}

/// Reads `MaxEnvelopeSizekb` from a config Get response.
pub fn parse_config_response(body: &Element) -> Result<u32, EnvelopeError> {
    let el = body
        .path(&[(ns::CONFIG, "Config"), (ns::CONFIG, "MaxEnvelopeSizekb")])
        .ok_or(EnvelopeError::Missing("cfg:MaxEnvelopeSizekb"))?;
    el.trimmed_text()
        .parse()
        .map_err(|_| invalid("cfg:MaxEnvelopeSizekb", &el.text))
}

/// Body of a config Get response, shaped like Windows' (the fields clients read).
pub fn config_response(
    max_envelope_size_kb: u32,
    max_timeout_ms: u64,
    allow_unencrypted: bool,
    basic: bool,
) -> String {
    format!(
        concat!(
            "<cfg:Config xmlns:cfg=\"{cfg}\"><cfg:MaxEnvelopeSizekb>{env}</cfg:MaxEnvelopeSizekb>",
            "<cfg:MaxTimeoutms>{to}</cfg:MaxTimeoutms><cfg:MaxBatchItems>32000</cfg:MaxBatchItems>",
            "<cfg:MaxProviderRequests>4294967295</cfg:MaxProviderRequests>",
            "<cfg:Service><cfg:AllowUnencrypted>{ue}</cfg:AllowUnencrypted><cfg:Auth><cfg:Basic>{basic}</cfg:Basic>",
            "<cfg:Kerberos>false</cfg:Kerberos><cfg:Negotiate>true</cfg:Negotiate><cfg:Certificate>false</cfg:Certificate>",
            "<cfg:CredSSP>false</cfg:CredSSP></cfg:Auth><cfg:DefaultPorts><cfg:HTTP>5985</cfg:HTTP><cfg:HTTPS>5986</cfg:HTTPS>",
            "</cfg:DefaultPorts></cfg:Service><cfg:Winrs><cfg:AllowRemoteShellAccess>true</cfg:AllowRemoteShellAccess>",
            "<cfg:IdleTimeout>7200000</cfg:IdleTimeout></cfg:Winrs></cfg:Config>"
        ),
        cfg = ns::CONFIG,
        env = max_envelope_size_kb,
        to = max_timeout_ms,
        ue = allow_unencrypted,
        basic = basic,
    )
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
