//! Response bodies: written by the server, read by the client.

use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::request::parse_stream;
use super::*;
use crate::envelope::EnvelopeError;
use crate::ns;
use crate::xml::{Element, escape};

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
