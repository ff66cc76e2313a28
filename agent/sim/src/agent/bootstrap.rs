//! The bootstrap, emulated as ARCHITECTURE.md describes it: `-EncodedCommand` carries
//! Base64 of a UTF-16LE script that pins the SHA-256 of the agent script; stdin carries
//! the request line, a LF, then the agent script. The simulator recognises the bootstrap
//! by the one 64-hex-digit literal in it (the pinned hash), reads stdin to its end,
//! splits it at the first LF, and compares the SHA-256 of the bytes after that LF with the
//! pinned hash. Any other script is PowerShell code the simulated host cannot run.

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

/// stdin split at its first LF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stdin {
    /// The request line (without CR LF), decoded lossily.
    pub request_line: String,
    /// The agent script: every byte after the first LF.
    pub script: Vec<u8>,
}

/// Splits stdin into the request line and the script.
pub fn split_stdin(bytes: &[u8]) -> Stdin {
    match bytes.iter().position(|b| *b == b'\n') {
        Some(i) => Stdin {
            request_line: String::from_utf8_lossy(&bytes[..i])
                .trim_end_matches('\r')
                .to_owned(),
            script: bytes[i + 1..].to_vec(),
        },
        None => Stdin {
            request_line: String::from_utf8_lossy(bytes).into_owned(),
            script: Vec::new(),
        },
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

    #[test]
    fn splits_stdin_at_the_first_lf() {
        let s = split_stdin(b"{\"a\":1}\r\nline1\nline2");
        assert_eq!(s.request_line, "{\"a\":1}");
        assert_eq!(s.script, b"line1\nline2");
        let s = split_stdin(b"{}");
        assert_eq!(s.request_line, "{}");
        assert!(s.script.is_empty());
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
