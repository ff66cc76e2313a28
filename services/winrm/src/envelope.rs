//! SOAP envelopes: building request and response headers, parsing either side's envelope
//! into a typed header plus the body element.
//!
//! Requests are shaped like pypsrp's (which the recorded Windows exchanges answer);
//! responses like Windows' (`a:Action` = request action + `Response`, `a:MessageID`,
//! `a:To` anonymous, `a:RelatesTo`).

use std::fmt::Write as _;
use std::time::Duration;

use crate::ns;
use crate::xml::{self, Element, XmlError, escape};

/// Why an envelope could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("envelope is not well-formed xml")]
    Xml(#[from] XmlError),
    #[error("document root is `{0}`, not a soap 1.2 envelope")]
    NotEnvelope(String),
    #[error("envelope has no `{0}`")]
    Missing(&'static str),
    #[error("envelope field `{field}` has an invalid value `{value}`")]
    Invalid { field: &'static str, value: String },
}

/// Everything a request header says, for building a request.
#[derive(Debug, Clone)]
pub struct RequestHeader<'a> {
    pub to: &'a str,
    pub action: &'a str,
    pub resource_uri: &'a str,
    pub message_id: &'a str,
    pub max_envelope_size: u32,
    pub operation_timeout: Duration,
    pub selectors: &'a [(&'a str, &'a str)],
    pub options: &'a [(&'a str, String)],
}

/// Formats a duration as an xs:duration `PT<seconds>S` (milliseconds when not whole).
pub fn format_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("PT{}S", d.as_secs())
    } else {
        format!("PT{}.{:03}S", d.as_secs(), d.subsec_millis())
    }
}

/// Parses an xs:duration such as `PT20S`, `PT7200.000S`, `PT1M30S` or `P0DT0H0M5S`.
/// Negative or non-finite values are refused.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let rest = s.trim().strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut secs = 0f64;
    let mut any = false;
    for (part, units) in [
        (date, &[('D', 86400.0)][..]),
        (time, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)][..]),
    ] {
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                num.push(c);
                continue;
            }
            let factor = units.iter().find(|(u, _)| *u == c)?.1;
            let v: f64 = num.parse().ok()?;
            secs += v * factor;
            num.clear();
            any = true;
        }
        if !num.is_empty() {
            return None;
        }
    }
    if !any || !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return None;
    }
    Some(Duration::from_secs_f64(secs))
}

/// Builds a request envelope with pypsrp's namespace prefixes.
pub fn build_request(h: &RequestHeader<'_>, body: &str) -> String {
    let mut s = String::with_capacity(1400 + body.len());
    let _ = write!(
        s,
        concat!(
            r#"<s:Envelope xmlns:s="{soap}" xmlns:wsa="{wsa}" xmlns:wsman="{wsman}" xmlns:wsmv="{wsmv}" xmlns:rsp="{rsp}">"#,
            r#"<s:Header><wsa:Action s:mustUnderstand="true">{action}</wsa:Action>"#,
            r#"<wsmv:DataLocale s:mustUnderstand="false" xml:lang="en-US" />"#,
            r#"<wsman:Locale s:mustUnderstand="false" xml:lang="en-US" />"#,
            r#"<wsman:MaxEnvelopeSize s:mustUnderstand="true">{max}</wsman:MaxEnvelopeSize>"#,
            r#"<wsa:MessageID>uuid:{mid}</wsa:MessageID>"#,
            r#"<wsman:OperationTimeout>{timeout}</wsman:OperationTimeout>"#,
            r#"<wsa:ReplyTo><wsa:Address s:mustUnderstand="true">{anon}</wsa:Address></wsa:ReplyTo>"#,
            r#"<wsman:ResourceURI s:mustUnderstand="true">{resource}</wsman:ResourceURI>"#,
            r#"<wsa:To>{to}</wsa:To>"#
        ),
        soap = ns::SOAP,
        wsa = ns::ADDRESSING,
        wsman = ns::WSMAN,
        wsmv = ns::WSMV,
        rsp = ns::SHELL,
        action = escape(h.action),
        max = h.max_envelope_size,
        mid = escape(h.message_id),
        timeout = format_duration(h.operation_timeout),
        anon = ns::ANONYMOUS,
        resource = escape(h.resource_uri),
        to = escape(h.to),
    );
    if !h.options.is_empty() {
        s.push_str(r#"<wsman:OptionSet s:mustUnderstand="true">"#);
        for (name, value) in h.options {
            let _ = write!(
                s,
                r#"<wsman:Option Name="{}">{}</wsman:Option>"#,
                escape(name),
                escape(value)
            );
        }
        s.push_str("</wsman:OptionSet>");
    }
    if !h.selectors.is_empty() {
        s.push_str("<wsman:SelectorSet>");
        for (name, value) in h.selectors {
            let _ = write!(
                s,
                r#"<wsman:Selector Name="{}">{}</wsman:Selector>"#,
                escape(name),
                escape(value)
            );
        }
        s.push_str("</wsman:SelectorSet>");
    }
    s.push_str("</s:Header>");
    if body.is_empty() {
        s.push_str("<s:Body />");
    } else {
        s.push_str("<s:Body>");
        s.push_str(body);
        s.push_str("</s:Body>");
    }
    s.push_str("</s:Envelope>");
    s
}

/// Builds a response envelope the way Windows shapes it.
pub fn build_response(action: &str, relates_to: &str, body: &str) -> String {
    let mut s = String::with_capacity(900 + body.len());
    let _ = write!(
        s,
        concat!(
            r#"<s:Envelope xml:lang="en-US" xmlns:s="{soap}" xmlns:a="{wsa}" xmlns:x="{x}" xmlns:w="{wsman}" xmlns:rsp="{rsp}" xmlns:p="{wsmv}">"#,
            r#"<s:Header><a:Action>{action}</a:Action><a:MessageID>uuid:{mid}</a:MessageID>"#,
            r#"<a:To>{anon}</a:To><a:RelatesTo>{rel}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"#
        ),
        soap = ns::SOAP,
        wsa = ns::ADDRESSING,
        x = ns::TRANSFER,
        wsman = ns::WSMAN,
        rsp = ns::SHELL,
        wsmv = ns::WSMV,
        action = escape(action),
        mid = uuid::Uuid::new_v4().to_string().to_uppercase(),
        anon = ns::ANONYMOUS,
        rel = escape(relates_to),
        body = body,
    );
    s
}

/// The header fields of a parsed envelope (request or response).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub action: Option<String>,
    pub message_id: Option<String>,
    pub relates_to: Option<String>,
    pub to: Option<String>,
    pub resource_uri: Option<String>,
    /// Raw `MaxEnvelopeSize` text; see [`Header::max_envelope_size`].
    pub max_envelope_size: Option<String>,
    /// Raw `OperationTimeout` text; see [`Header::operation_timeout`].
    pub operation_timeout: Option<String>,
    pub selectors: Vec<(String, String)>,
    pub options: Vec<(String, String)>,
}

impl Header {
    /// The selector with this name (case-insensitive name).
    pub fn selector(&self, name: &str) -> Option<&str> {
        self.selectors
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The option with this name (case-insensitive name).
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A boolean option (`TRUE`/`True`/`true`/`1` or the false forms).
    pub fn bool_option(&self, name: &str) -> Result<Option<bool>, EnvelopeError> {
        self.option(name).map(parse_bool).transpose()
    }

    /// `OperationTimeout` as a duration.
    pub fn operation_timeout(&self) -> Result<Option<Duration>, EnvelopeError> {
        self.operation_timeout
            .as_deref()
            .map(|v| {
                parse_duration(v).ok_or_else(|| EnvelopeError::Invalid {
                    field: "OperationTimeout",
                    value: v.to_owned(),
                })
            })
            .transpose()
    }

    /// `MaxEnvelopeSize` in bytes.
    pub fn max_envelope_size(&self) -> Result<Option<u32>, EnvelopeError> {
        self.max_envelope_size
            .as_deref()
            .map(|v| {
                v.trim().parse::<u32>().map_err(|_| EnvelopeError::Invalid {
                    field: "MaxEnvelopeSize",
                    value: v.to_owned(),
                })
            })
            .transpose()
    }
}

/// Parses an xs:boolean the way WinRS accepts it (any case, or 0/1).
pub fn parse_bool(v: &str) -> Result<bool, EnvelopeError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(EnvelopeError::Invalid {
            field: "boolean",
            value: v.to_owned(),
        }),
    }
}

/// A parsed envelope.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub header: Header,
    pub body: Element,
}

fn strip_uuid(s: &str) -> String {
    s.trim().to_owned()
}

/// Parses any SOAP 1.2 envelope into its header fields and body element.
pub fn parse_envelope(input: &[u8]) -> Result<Envelope, EnvelopeError> {
    let root = xml::parse(input)?;
    if !root.is(ns::SOAP, "Envelope") {
        return Err(EnvelopeError::NotEnvelope(root.name.clone()));
    }
    let mut header = Header::default();
    if let Some(h) = root.child(ns::SOAP, "Header") {
        for el in &h.children {
            match (el.ns.as_deref(), el.name.as_str()) {
                (Some(ns::ADDRESSING), "Action") => header.action = Some(el.trimmed_text().into()),
                (Some(ns::ADDRESSING), "MessageID") => {
                    header.message_id = Some(strip_uuid(&el.text))
                }
                (Some(ns::ADDRESSING), "RelatesTo") => {
                    header.relates_to = Some(strip_uuid(&el.text))
                }
                (Some(ns::ADDRESSING), "To") => header.to = Some(el.trimmed_text().into()),
                (Some(ns::WSMAN), "ResourceURI") => {
                    header.resource_uri = Some(el.trimmed_text().into())
                }
                (Some(ns::WSMAN), "MaxEnvelopeSize") => {
                    header.max_envelope_size = Some(el.trimmed_text().into())
                }
                (Some(ns::WSMAN), "OperationTimeout") => {
                    header.operation_timeout = Some(el.trimmed_text().into())
                }
                (Some(ns::WSMAN), "SelectorSet") => {
                    for sel in el.children_named(ns::WSMAN, "Selector") {
                        let name = sel.attr("Name").unwrap_or_default().to_owned();
                        header.selectors.push((name, sel.trimmed_text().to_owned()));
                    }
                }
                (Some(ns::WSMAN), "OptionSet") => {
                    for opt in el.children_named(ns::WSMAN, "Option") {
                        let name = opt.attr("Name").unwrap_or_default().to_owned();
                        header.options.push((name, opt.trimmed_text().to_owned()));
                    }
                }
                _ => {}
            }
        }
    }
    let body = root
        .children
        .into_iter()
        .find(|c| c.is(ns::SOAP, "Body"))
        .ok_or(EnvelopeError::Missing("s:Body"))?;
    Ok(Envelope { header, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip_and_refuse_negative() {
        assert_eq!(parse_duration("PT20S"), Some(Duration::from_secs(20)));
        assert_eq!(
            parse_duration("PT7200.000S"),
            Some(Duration::from_secs(7200))
        );
        assert_eq!(parse_duration("PT1M30S"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("P0DT0H0M5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("PT0.5S"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("PT-1S"), None);
        assert_eq!(parse_duration("20"), None);
        assert_eq!(parse_duration("PT"), None);
        assert_eq!(format_duration(Duration::from_millis(1500)), "PT1.500S");
        assert_eq!(format_duration(Duration::from_secs(20)), "PT20S");
    }

    #[test]
    fn request_round_trips_through_the_parser() {
        let opts = [("WINRS_CODEPAGE", "65001".to_owned())];
        let sel = [("ShellId", "ABC")];
        let xml = build_request(
            &RequestHeader {
                to: "http://h:5985/wsman",
                action: ns::ACTION_COMMAND,
                resource_uri: ns::RESOURCE_CMD,
                message_id: "11111111-2222-3333-4444-555555555555",
                max_envelope_size: 153600,
                operation_timeout: Duration::from_secs(20),
                selectors: &sel,
                options: &opts,
            },
            "<rsp:CommandLine><rsp:Command>a &amp; b</rsp:Command></rsp:CommandLine>",
        );
        let env = parse_envelope(xml.as_bytes()).unwrap();
        assert_eq!(env.header.action.as_deref(), Some(ns::ACTION_COMMAND));
        assert_eq!(
            env.header.message_id.as_deref(),
            Some("uuid:11111111-2222-3333-4444-555555555555")
        );
        assert_eq!(env.header.selector("shellid"), Some("ABC"));
        assert_eq!(env.header.option("WINRS_CODEPAGE"), Some("65001"));
        assert_eq!(env.header.max_envelope_size().unwrap(), Some(153600));
        assert_eq!(
            env.header.operation_timeout().unwrap(),
            Some(Duration::from_secs(20))
        );
        let cmd = env
            .body
            .path(&[(ns::SHELL, "CommandLine"), (ns::SHELL, "Command")])
            .unwrap();
        assert_eq!(cmd.text, "a & b");
    }

    #[test]
    fn response_header_is_windows_shaped() {
        let xml = build_response("urn:act", "uuid:REL", "<rsp:SendResponse/>");
        let env = parse_envelope(xml.as_bytes()).unwrap();
        assert_eq!(env.header.action.as_deref(), Some("urn:act"));
        assert_eq!(env.header.relates_to.as_deref(), Some("uuid:REL"));
        assert_eq!(env.header.to.as_deref(), Some(ns::ANONYMOUS));
        assert!(env.header.message_id.unwrap().starts_with("uuid:"));
        assert!(env.body.child(ns::SHELL, "SendResponse").is_some());
    }

    #[test]
    fn not_an_envelope() {
        assert!(matches!(
            parse_envelope(b"<a/>"),
            Err(EnvelopeError::NotEnvelope(_))
        ));
        assert!(matches!(
            parse_envelope(format!(r#"<s:Envelope xmlns:s="{}"/>"#, ns::SOAP).as_bytes()),
            Err(EnvelopeError::Missing(_))
        ));
    }
}
