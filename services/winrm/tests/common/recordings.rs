//! Reads the recorded Windows exchanges in `../shared/fixtures/winrm-recorded/` (pypsrp's
//! format). The files are a small YAML subset: `messages:`, then per message a
//! `- request: <xml>` line, a `  response: <xml>` line and optional nested maps
//! (`transport_error`, `overrides`). This reader accepts exactly that and fails loudly on
//! anything else.

use std::path::PathBuf;

pub struct Message {
    pub request: String,
    pub response: String,
    /// `transport_error.code`, e.g. 500.
    pub http_status: Option<u16>,
}

pub fn fixtures_dir() -> PathBuf {
    let dir = super::workspace_root().join("../shared/fixtures/winrm-recorded");
    assert!(
        dir.join("README.md").is_file(),
        "recorded WinRM fixtures are missing at {} (the shared/ folder beside the repository)",
        dir.display()
    );
    dir
}

pub fn load(name: &str) -> Vec<Message> {
    let path = fixtures_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text.lines();
    assert_eq!(
        lines.next().map(str::trim_end),
        Some("messages:"),
        "{name}: first line"
    );
    let mut out: Vec<Message> = Vec::new();
    let mut in_transport_error = false;
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        if let Some(xml) = line.strip_prefix("- request: ") {
            out.push(Message {
                request: xml.trim_end().to_owned(),
                response: String::new(),
                http_status: None,
            });
            in_transport_error = false;
            continue;
        }
        let cur = out
            .last_mut()
            .unwrap_or_else(|| panic!("{name}: content before the first message"));
        if let Some(xml) = line.strip_prefix("  response: ") {
            cur.response = xml.trim_end().to_owned();
        } else if line == "  transport_error:" {
            in_transport_error = true;
        } else if line.starts_with("  overrides:") {
            in_transport_error = false;
        } else if let Some(code) = line.strip_prefix("    code: ") {
            assert!(in_transport_error, "{name}: code outside transport_error");
            cur.http_status = Some(
                code.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}: bad code {code}")),
            );
        } else if line.starts_with("    ") || line.starts_with("  - ") {
            // nested keys of transport_error/overrides we do not need (protocol, path, attributes)
        } else {
            panic!("{name}: unexpected line {line:?}");
        }
    }
    assert!(!out.is_empty(), "{name}: no messages");
    for m in &out {
        assert!(
            m.request.starts_with("<s:Envelope") && m.response.starts_with("<s:Envelope"),
            "{name}: bad message"
        );
    }
    out
}
