//! WS-Management faults: the typed fault both sides share, its parser, its writer, and
//! what a caller should do about it.

use std::fmt::{self, Write as _};

use crate::envelope::build_response;
use crate::ns;
use crate::xml::{Element, escape};

/// WSManFault code of `w:TimedOut`: nothing happened within OperationTimeout; ask again.
pub const CODE_OPERATION_TIMEOUT: u32 = 2_150_858_793;
/// WSManFault code of `w:InvalidSelectors`: the shell or command does not exist.
pub const CODE_INVALID_SELECTORS: u32 = 2_150_858_843;
/// `a:InvalidMessageInformationHeader`, e.g. a malformed OperationTimeout.
pub const CODE_INVALID_HEADER: u32 = 2_150_858_767;
/// `w:EncodingLimit`: MaxEnvelopeSize below 8192 or an envelope over the limit.
pub const CODE_ENCODING_LIMIT: u32 = 2_150_858_805;
/// ERROR_WSMAN_MAX_ENVELOPE_SIZE_EXCEEDED.
pub const CODE_MAX_ENVELOPE_SIZE_EXCEEDED: u32 = 2_150_858_824;
/// HRESULT of ERROR_FILENAME_EXCED_RANGE: command line over CreateProcess's 32767.
pub const CODE_FILENAME_TOO_LONG: u32 = 2_147_942_606;
/// HRESULT of ERROR_FILE_NOT_FOUND (skip-cmd-shell with an unknown executable).
pub const CODE_FILE_NOT_FOUND: u32 = 2_147_942_402;
/// ERROR_INVALID_PARAMETER (e.g. Receive without a command).
pub const CODE_INVALID_PARAMETER: u32 = 87;
/// ERROR_BUSY: the previous Send is still being processed.
pub const CODE_BUSY: u32 = 170;
/// ERROR_ACCESS_DENIED.
pub const CODE_ACCESS_DENIED: u32 = 5;
/// HRESULT form of ERROR_ACCESS_DENIED.
pub const CODE_ACCESS_DENIED_HRESULT: u32 = 2_147_942_405;

/// Message Windows gives for an unknown command id.
pub const MSG_UNKNOWN_COMMAND: &str = "The Windows Remote Shell received a request to perform an operation on a command identifier that does not exist. Either the command has completed execution or the client specified an invalid command identifier. ";
/// Reason text of `w:InvalidSelectors`.
pub const MSG_INVALID_SELECTORS: &str = "The WS-Management service cannot process the request because the request contained invalid selectors for the resource. ";
/// Text of `w:TimedOut`.
pub const MSG_OPERATION_TIMEOUT: &str = "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  ";

/// A provider fault nested in the WSManFault message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderFault {
    pub provider: Option<String>,
    pub path: Option<String>,
    pub text: String,
}

/// A WS-Management fault (HTTP 500 with `s:Fault`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// `s:Code/s:Value`, e.g. `s:Receiver` or `s:Sender` (as written, prefix included).
    pub code: String,
    /// `s:Code/s:Subcode/s:Value`, e.g. `w:TimedOut`.
    pub subcode: Option<String>,
    /// `s:Reason/s:Text`.
    pub reason: Option<String>,
    /// `w:FaultDetail` URI, when present.
    pub fault_detail: Option<String>,
    /// `f:WSManFault/@Code`.
    pub wsman_code: Option<u32>,
    /// `f:WSManFault/@Machine`.
    pub machine: Option<String>,
    /// `f:WSManFault/f:Message` text (without a nested provider fault).
    pub message: Option<String>,
    /// A nested `f:ProviderFault`.
    pub provider_fault: Option<ProviderFault>,
}

/// What a caller should do about a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// OperationTimeout elapsed without news: send the same request again.
    OperationTimeout,
    /// The shell or command is gone: recreate the shell.
    ShellOrCommandGone,
    /// The command line is over the Windows limit: a caller bug, do not retry.
    CommandLineTooLong,
    /// The host is busy with the previous Send: retry after a pause.
    Busy,
    /// The user may not do this.
    AccessDenied,
    /// Anything else.
    Other,
}

impl Fault {
    /// The local part of the subcode (`TimedOut` for `w:TimedOut`).
    pub fn subcode_local(&self) -> Option<&str> {
        self.subcode
            .as_deref()
            .map(|s| s.rsplit_once(':').map_or(s, |(_, l)| l))
    }

    /// Classifies the fault for the caller.
    pub fn kind(&self) -> FaultKind {
        match (self.wsman_code, self.subcode_local()) {
            (Some(CODE_OPERATION_TIMEOUT), _) | (None, Some("TimedOut")) => {
                FaultKind::OperationTimeout
            }
            (Some(CODE_INVALID_SELECTORS), _) | (None, Some("InvalidSelectors")) => {
                FaultKind::ShellOrCommandGone
            }
            (Some(CODE_FILENAME_TOO_LONG), _) => FaultKind::CommandLineTooLong,
            (Some(CODE_BUSY), _) => FaultKind::Busy,
            (Some(CODE_ACCESS_DENIED | CODE_ACCESS_DENIED_HRESULT), _)
            | (_, Some("AccessDenied")) => FaultKind::AccessDenied,
            _ => FaultKind::Other,
        }
    }

    /// The most specific human text: the provider fault, then the message, then the reason.
    pub fn text(&self) -> &str {
        self.provider_fault
            .as_ref()
            .map(|p| p.text.as_str())
            .or(self.message.as_deref())
            .or(self.reason.as_deref())
            .unwrap_or("")
            .trim()
    }

    /// Reads a fault from a response body, if the body holds one.
    pub fn from_body(body: &Element) -> Option<Fault> {
        let f = body.child(ns::SOAP, "Fault")?;
        let code = f.child(ns::SOAP, "Code");
        let value = |el: Option<&Element>| {
            el.and_then(|e| e.child(ns::SOAP, "Value"))
                .map(|v| v.trimmed_text().to_owned())
        };
        let detail = f.child(ns::SOAP, "Detail");
        let wsman = detail.and_then(|d| d.child(ns::WSMAN_FAULT, "WSManFault"));
        let msg_el = wsman.and_then(|w| w.child(ns::WSMAN_FAULT, "Message"));
        let provider_fault = msg_el
            .and_then(|m| m.child(ns::WSMAN_FAULT, "ProviderFault"))
            .map(|p| ProviderFault {
                provider: p.attr("provider").map(str::to_owned),
                path: p.attr("path").map(str::to_owned),
                text: p.text.clone(),
            });
        Some(Fault {
            code: value(code).unwrap_or_default(),
            subcode: value(code.and_then(|c| c.child(ns::SOAP, "Subcode"))),
            reason: f
                .path(&[(ns::SOAP, "Reason"), (ns::SOAP, "Text")])
                .map(|t| t.text.clone()),
            fault_detail: detail
                .and_then(|d| d.child(ns::WSMAN, "FaultDetail"))
                .map(|d| d.trimmed_text().to_owned()),
            wsman_code: wsman
                .and_then(|w| w.attr("Code"))
                .and_then(|c| c.trim().parse().ok()),
            machine: wsman.and_then(|w| w.attr("Machine")).map(str::to_owned),
            message: msg_el.and_then(|m| (!m.text.trim().is_empty()).then(|| m.text.clone())),
            provider_fault,
        })
    }

    /// A fault with a WSManFault detail; `code` is `s:Sender` or `s:Receiver`.
    pub fn new(code: &str, subcode: &str, wsman_code: u32, machine: &str, message: &str) -> Fault {
        Fault {
            code: code.to_owned(),
            subcode: Some(subcode.to_owned()),
            reason: Some(message.to_owned()),
            fault_detail: None,
            wsman_code: Some(wsman_code),
            machine: Some(machine.to_owned()),
            message: Some(message.to_owned()),
            provider_fault: None,
        }
    }

    /// `w:TimedOut` (2150858793), as a Receive long poll answers when nothing happened.
    pub fn operation_timeout(machine: &str) -> Fault {
        Fault::new(
            "s:Receiver",
            "w:TimedOut",
            CODE_OPERATION_TIMEOUT,
            machine,
            MSG_OPERATION_TIMEOUT,
        )
    }

    /// `w:InvalidSelectors` (2150858843) for a command id that does not exist.
    pub fn unknown_command(machine: &str) -> Fault {
        Fault {
            reason: Some(MSG_INVALID_SELECTORS.to_owned()),
            fault_detail: Some(
                "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors".into(),
            ),
            ..Fault::new(
                "s:Sender",
                "w:InvalidSelectors",
                CODE_INVALID_SELECTORS,
                machine,
                MSG_UNKNOWN_COMMAND,
            )
        }
    }

    /// `w:InvalidSelectors` (2150858843) for a shell id that does not exist.
    pub fn unknown_shell(machine: &str, shell_id: &str) -> Fault {
        let msg = format!(
            "The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer exists on the server. Provide the correct ShellId or create a new shell and retry the operation. "
        );
        Fault {
            reason: Some(MSG_INVALID_SELECTORS.to_owned()),
            fault_detail: Some(
                "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors".into(),
            ),
            ..Fault::new(
                "s:Sender",
                "w:InvalidSelectors",
                CODE_INVALID_SELECTORS,
                machine,
                &msg,
            )
        }
    }

    /// A fault raised by the shell plugin, nested as `f:ProviderFault` like Windows does.
    pub fn provider(
        code: &str,
        subcode: &str,
        wsman_code: u32,
        machine: &str,
        text: &str,
    ) -> Fault {
        Fault {
            message: None,
            provider_fault: Some(ProviderFault {
                provider: Some("Shell cmd plugin".into()),
                path: Some("%systemroot%\\system32\\winrscmd.dll".into()),
                text: text.to_owned(),
            }),
            ..Fault::new(code, subcode, wsman_code, machine, text)
        }
    }

    /// Fault 87 (invalid parameter), e.g. a Receive that names no command.
    pub fn invalid_parameter(machine: &str) -> Fault {
        Fault {
            fault_detail: Some(
                "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InvalidValue".into(),
            ),
            ..Fault::provider(
                "s:Sender",
                "w:InvalidParameter",
                CODE_INVALID_PARAMETER,
                machine,
                "The parameter is incorrect. ",
            )
        }
    }

    /// 2147942606: the command line is over CreateProcess's limit.
    pub fn filename_too_long(machine: &str) -> Fault {
        Fault::provider(
            "s:Receiver",
            "w:InternalError",
            CODE_FILENAME_TOO_LONG,
            machine,
            "The filename or extension is too long. ",
        )
    }

    /// 2147942402: the executable was not found (skip-cmd-shell with a bare name).
    pub fn file_not_found(machine: &str) -> Fault {
        Fault::provider(
            "s:Receiver",
            "w:InternalError",
            CODE_FILE_NOT_FOUND,
            machine,
            "The system cannot find the file specified. ",
        )
    }

    /// The `s:Fault` element.
    pub fn to_xml(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "<s:Fault><s:Code><s:Value>{}</s:Value>",
            escape(&self.code)
        );
        if let Some(sub) = &self.subcode {
            let _ = write!(
                s,
                "<s:Subcode><s:Value>{}</s:Value></s:Subcode>",
                escape(sub)
            );
        }
        s.push_str("</s:Code>");
        let reason = self.reason.as_deref().unwrap_or_else(|| self.text());
        let _ = write!(
            s,
            r#"<s:Reason><s:Text xml:lang="en-US">{}</s:Text></s:Reason><s:Detail>"#,
            escape(reason)
        );
        if let Some(d) = &self.fault_detail {
            let _ = write!(s, "<w:FaultDetail>{}</w:FaultDetail>", escape(d));
        }
        if let Some(code) = self.wsman_code {
            let _ = write!(
                s,
                r#"<f:WSManFault xmlns:f="{}" Code="{}" Machine="{}"><f:Message>"#,
                ns::WSMAN_FAULT,
                code,
                escape(self.machine.as_deref().unwrap_or(""))
            );
            match &self.provider_fault {
                Some(p) => {
                    let _ = write!(
                        s,
                        r#"<f:ProviderFault provider="{}" path="{}">{}</f:ProviderFault>"#,
                        escape(p.provider.as_deref().unwrap_or("")),
                        escape(p.path.as_deref().unwrap_or("")),
                        escape(&p.text)
                    );
                }
                None => s.push_str(&escape(self.message.as_deref().unwrap_or(""))),
            }
            s.push_str("</f:Message></f:WSManFault>");
        }
        s.push_str("</s:Detail></s:Fault>");
        s
    }

    /// A whole fault response envelope answering `relates_to`.
    pub fn to_envelope(&self, relates_to: &str) -> String {
        build_response(ns::ACTION_FAULT, relates_to, &self.to_xml())
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ws-management fault {}",
            self.subcode.as_deref().unwrap_or(&self.code)
        )?;
        if let Some(code) = self.wsman_code {
            write!(f, " (code {code})")?;
        }
        if let Some(m) = &self.machine {
            write!(f, " from {m}")?;
        }
        let text = self.text();
        if !text.is_empty() {
            write!(f, ": {text}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::parse_envelope;

    fn round_trip(f: &Fault) -> Fault {
        let env = parse_envelope(f.to_envelope("uuid:X").as_bytes()).unwrap();
        assert_eq!(env.header.action.as_deref(), Some(ns::ACTION_FAULT));
        Fault::from_body(&env.body).unwrap()
    }

    #[test]
    fn faults_round_trip_and_classify() {
        let t = round_trip(&Fault::operation_timeout("m1"));
        assert_eq!(t.kind(), FaultKind::OperationTimeout);
        assert_eq!(t.wsman_code, Some(CODE_OPERATION_TIMEOUT));
        assert_eq!(t.machine.as_deref(), Some("m1"));
        assert_eq!(t.subcode_local(), Some("TimedOut"));

        let c = round_trip(&Fault::unknown_command("m"));
        assert_eq!(c.kind(), FaultKind::ShellOrCommandGone);
        assert_eq!(c.message.as_deref(), Some(MSG_UNKNOWN_COMMAND));
        assert!(c.fault_detail.unwrap().ends_with("UnexpectedSelectors"));

        let s = round_trip(&Fault::unknown_shell("m", "ABC"));
        assert_eq!(s.kind(), FaultKind::ShellOrCommandGone);
        assert!(s.text().contains("ShellId ABC"));

        let p = round_trip(&Fault::invalid_parameter("m"));
        assert_eq!(p.wsman_code, Some(87));
        let pf = p.provider_fault.clone().unwrap();
        assert_eq!(pf.provider.as_deref(), Some("Shell cmd plugin"));
        assert_eq!(p.text(), "The parameter is incorrect.");
        assert_eq!(p.kind(), FaultKind::Other);

        assert_eq!(
            round_trip(&Fault::filename_too_long("m")).kind(),
            FaultKind::CommandLineTooLong
        );
        let busy = Fault::new("s:Receiver", "w:InternalError", CODE_BUSY, "m", "busy");
        assert_eq!(round_trip(&busy).kind(), FaultKind::Busy);
        let denied = Fault::new(
            "s:Sender",
            "w:AccessDenied",
            CODE_ACCESS_DENIED_HRESULT,
            "m",
            "no",
        );
        assert_eq!(round_trip(&denied).kind(), FaultKind::AccessDenied);
    }

    #[test]
    fn display_names_code_machine_and_text() {
        let f = Fault::unknown_command("host1");
        let s = f.to_string();
        assert!(
            s.contains("w:InvalidSelectors") && s.contains("2150858843") && s.contains("host1")
        );
        assert!(s.contains("command identifier that does not exist"));
    }
}
