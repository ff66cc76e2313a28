//! Request bodies: written by the client, read by the server.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::*;
use crate::envelope::{EnvelopeError, Header, format_duration, parse_duration};
use crate::ns;
use crate::xml::{Element, escape};

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
    // Base64 written straight into the body: a stdin chunk can be hundreds of KB.
    let head = format!(
        r#"<rsp:Send><rsp:Stream Name="stdin" CommandId="{}"{}>"#,
        escape(command_id),
        if end { r#" End="true""# } else { "" },
    );
    const TAIL: &str = "</rsp:Stream></rsp:Send>";
    let mut body = String::with_capacity(head.len() + data.len().div_ceil(3) * 4 + TAIL.len());
    body.push_str(&head);
    B64.encode_string(data, &mut body);
    body.push_str(TAIL);
    body
}

pub(super) fn parse_stream(el: &Element) -> Result<StreamChunk, EnvelopeError> {
    // Base64 may be wrapped; most senders do not wrap, so the text is usually decoded as is.
    let raw = el.text.as_bytes();
    let decoded = if raw.iter().any(u8::is_ascii_whitespace) {
        let compact: Vec<u8> = raw
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        B64.decode(compact)
    } else {
        B64.decode(raw)
    };
    let data = decoded.map_err(|_| invalid("rsp:Stream", &el.text))?;
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
