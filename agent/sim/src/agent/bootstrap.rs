//! The bootstrap, emulated as ARCHITECTURE.md describes it (template:
//! `agent/host/bootstrap.ps1`): `-EncodedCommand` carries Base64 of a UTF-16LE script
//! that pins the SHA-256 of the agent script; stdin carries the request line, then the
//! agent script. The simulator recognises the bootstrap by the one 64-hex-digit literal
//! in it (the pinned hash), reads stdin to its end the way `$input` hands it to the
//! bootstrap (lines ending at CR LF, LF or CR; the first is the request; the others
//! joined with LF plus a final LF are the script), and compares the script's SHA-256 with
//! the pinned one. Any other script is PowerShell the simulated host cannot run.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

/// An -EncodedCommand value that is not Base64 of UTF-16LE text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the -EncodedCommand value is not base64 of utf-16le text")]
pub struct BadEncoding;

/// Decodes an -EncodedCommand value.
pub fn decode_encoded_command(value: &str) -> Result<String, BadEncoding> {
    let bytes = B64.decode(value.trim()).map_err(|_| BadEncoding)?;
    if bytes.len() % 2 != 0 {
        return Err(BadEncoding);
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .collect();
    String::from_utf16(&units).map_err(|_| BadEncoding)
}

/// What the decoded script is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Script {
    /// The agent bootstrap, pinning this SHA-256 (lower-case hex).
    Bootstrap {
        /// The pinned hash.
        pinned_sha256: String,
    },
    /// Any other PowerShell.
    Other,
}

/// Finds the pinned hash: the only distinct run of exactly 64 hex digits.
pub fn classify(script: &str) -> Script {
    let mut found: Vec<String> = Vec::new();
    let bytes = script.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_hexdigit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_hexdigit() {
                i += 1;
            }
            let run = &script[start..i];
            let word_before = start > 0 && is_word(bytes[start - 1]);
            let word_after = i < bytes.len() && is_word(bytes[i]);
            if run.len() == 64 && !word_before && !word_after {
                let run = run.to_ascii_lowercase();
                if !found.contains(&run) {
                    found.push(run);
                }
            }
        } else {
            i += 1;
        }
    }
    match found.as_slice() {
        [only] => Script::Bootstrap {
            pinned_sha256: only.clone(),
        },
        _ => Script::Other,
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// How much of the script is kept for [`declared_version`].
pub const HEAD_BYTES: usize = 64 * 1024;

/// Reads stdin as the bootstrap does: powershell.exe hands it over as `$input`, one
/// string per line (lines end at CR LF, LF or a lone CR); the first line is the request,
/// and the script is the other lines joined with LF plus a final LF — what gets hashed.
/// Fed chunk by chunk, so a large bundle is hashed as it streams.
#[derive(Debug)]
pub struct StdinReader {
    pending_cr: bool,
    in_first_line: bool,
    line: Vec<u8>,
    line_limit: usize,
    hasher: Sha256,
    last: Option<u8>,
    head: Vec<u8>,
    normalized: Vec<u8>,
}

/// What [`StdinReader::finish`] gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stdin {
    /// The request line (without its line end), decoded lossily.
    pub request_line: String,
    /// SHA-256 of the script as the bootstrap rebuilds it, lower-case hex.
    pub script_sha256: String,
    /// The script's first [`HEAD_BYTES`] bytes.
    pub head: Vec<u8>,
}

impl StdinReader {
    /// A reader keeping at most `line_limit` bytes of the request line.
    pub fn new(line_limit: usize) -> StdinReader {
        StdinReader {
            pending_cr: false,
            in_first_line: true,
            line: Vec::new(),
            line_limit,
            hasher: Sha256::new(),
            last: None,
            head: Vec::new(),
            normalized: Vec::new(),
        }
    }

    /// Takes the next chunk of stdin.
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut out = std::mem::take(&mut self.normalized);
        out.clear();
        for &b in chunk {
            if self.pending_cr {
                self.pending_cr = false;
                out.push(b'\n');
                if b == b'\n' {
                    continue;
                }
            }
            if b == b'\r' {
                self.pending_cr = true;
            } else {
                out.push(b);
            }
        }
        self.take(&out);
        self.normalized = out;
    }

    fn take(&mut self, mut bytes: &[u8]) {
        if self.in_first_line {
            let end = bytes.iter().position(|b| *b == b'\n');
            let part = &bytes[..end.unwrap_or(bytes.len())];
            let room = self.line_limit.saturating_sub(self.line.len());
            self.line.extend_from_slice(&part[..part.len().min(room)]);
            match end {
                Some(i) => {
                    self.in_first_line = false;
                    bytes = &bytes[i + 1..];
                }
                None => return,
            }
        }
        if bytes.is_empty() {
            return;
        }
        self.hasher.update(bytes);
        self.last = bytes.last().copied();
        let room = HEAD_BYTES.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// Ends the stream.
    pub fn finish(mut self) -> Stdin {
        if self.pending_cr {
            self.pending_cr = false;
            self.take(b"\n");
        }
        if self.last != Some(b'\n') {
            self.hasher.update(b"\n");
        }
        Stdin {
            request_line: String::from_utf8_lossy(&self.line).into_owned(),
            script_sha256: hex::encode(self.hasher.finalize()),
            head: self.head,
        }
    }
}

/// SHA-256, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The agent bundle's version, when the script declares one as
/// `$AgentVersion = '1.2.3'` (any case, either quote).
pub fn declared_version(script: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(script);
    for line in text.lines() {
        let lower = line.to_ascii_lowercase();
        let Some(at) = lower.find("agentversion") else {
            continue;
        };
        let rest = line[at + "agentversion".len()..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        let Some(quote) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') else {
            continue;
        };
        let Some(end) = rest[1..].find(quote) else {
            continue;
        };
        let version = &rest[1..1 + end];
        if is_semver(version) {
            return Some(version.to_owned());
        }
    }
    None
}

fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(script: &str) -> String {
        let bytes: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
        B64.encode(bytes)
    }

    #[test]
    fn decodes_utf16le_base64() {
        assert_eq!(
            decode_encoded_command(&encode("Write-Output 'é'")),
            Ok("Write-Output 'é'".into())
        );
        assert_eq!(decode_encoded_command("not base64!"), Err(BadEncoding));
        assert_eq!(
            decode_encoded_command(&B64.encode([0x41u8])),
            Err(BadEncoding)
        );
    }

    #[test]
    fn finds_the_one_pinned_hash() {
        let h = sha256_hex(b"script");
        let script = format!("$h='{h}';if($x -ne $h){{exit 1}}");
        assert_eq!(
            classify(&script),
            Script::Bootstrap {
                pinned_sha256: h.clone()
            }
        );
        assert_eq!(
            classify(&format!("$h='{}'", h.to_uppercase())),
            Script::Bootstrap {
                pinned_sha256: h.clone()
            }
        );
        assert_eq!(classify("Write-Output hi"), Script::Other);
        let other = sha256_hex(b"other");
        assert_eq!(classify(&format!("'{h}' '{other}'")), Script::Other);
        assert_eq!(classify(&format!("x{h}")), Script::Other);
    }

    fn read(chunks: &[&[u8]]) -> Stdin {
        let mut r = StdinReader::new(1024);
        for c in chunks {
            r.feed(c);
        }
        r.finish()
    }

    #[test]
    fn reads_stdin_as_powershell_input_lines() {
        let s = read(&[b"{\"a\":1}\nline1\nline2\n"]);
        assert_eq!(s.request_line, "{\"a\":1}");
        assert_eq!(s.script_sha256, sha256_hex(b"line1\nline2\n"));
        assert_eq!(s.head, b"line1\nline2\n");
        // CR LF and lone CR end lines too; a missing final line end is added.
        assert_eq!(
            read(&[b"{}\r", b"\nline1\r\nline2"]).script_sha256,
            sha256_hex(b"line1\nline2\n")
        );
        assert_eq!(
            read(&[b"{}\rline1\rline2\r"]).script_sha256,
            sha256_hex(b"line1\nline2\n")
        );
        assert_eq!(
            read(&[b"{}\r\n", b"a\n\n"]).script_sha256,
            sha256_hex(b"a\n\n")
        );
        let only = read(&[b"{}"]);
        assert_eq!(
            (only.request_line.as_str(), only.script_sha256),
            ("{}", sha256_hex(b"\n"))
        );
        assert_eq!(read(&[]).script_sha256, sha256_hex(b"\n"));
        let mut r = StdinReader::new(4);
        r.feed(b"0123456789\nx\n");
        assert_eq!(
            r.finish().request_line,
            "0123",
            "the request line is capped"
        );
    }

    #[test]
    fn reads_a_declared_version() {
        assert_eq!(
            declared_version(b"# x\n$script:AgentVersion = '1.4.0'\n"),
            Some("1.4.0".into())
        );
        assert_eq!(
            declared_version(b"$AGENTVERSION=\"2.0.1-rc.1\""),
            Some("2.0.1-rc.1".into())
        );
        assert_eq!(declared_version(b"$AgentVersion = 'dev'"), None);
        assert_eq!(declared_version(b"nothing"), None);
    }
}
