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

/// Scripts up to this size are kept whole, so that one already verified (the same
/// bundle arrives with every call) is recognised by comparing bytes instead of hashing
/// it again; a longer script is hashed as it streams.
pub const KEEP_BYTES: usize = 4 * 1024 * 1024;

/// How many distinct scripts [`StdinReader::finish`] remembers.
const REMEMBERED: usize = 4;

/// A script already hashed: its bytes (as hashed), hash and declared version.
#[derive(Debug)]
struct Known {
    script: Vec<u8>,
    sha256: String,
    version: Option<String>,
}

/// The scripts hashed last, newest first.
static KNOWN: std::sync::Mutex<Vec<std::sync::Arc<Known>>> = std::sync::Mutex::new(Vec::new());

/// The hash and declared version of `script` (the exact bytes the bootstrap hashes):
/// remembered from an earlier identical script, or computed and remembered.
fn known(script: Vec<u8>) -> std::sync::Arc<Known> {
    let remembered: Vec<std::sync::Arc<Known>> =
        KNOWN.lock().map(|k| k.clone()).unwrap_or_default();
    if let Some(hit) = remembered.into_iter().find(|k| k.script == script) {
        return hit;
    }
    let entry = std::sync::Arc::new(Known {
        sha256: sha256_hex(&script),
        version: declared_version(&script[..script.len().min(HEAD_BYTES)]),
        script,
    });
    if let Ok(mut k) = KNOWN.lock() {
        k.insert(0, entry.clone());
        k.truncate(REMEMBERED);
    }
    entry
}

/// Reads stdin as the bootstrap does: powershell.exe hands it over as `$input`, one
/// string per line (lines end at CR LF, LF or a lone CR); the first line is the request,
/// and the script is the other lines joined with LF plus a final LF — what gets hashed.
/// Fed chunk by chunk; a script longer than [`KEEP_BYTES`] is hashed as it streams.
#[derive(Debug)]
pub struct StdinReader {
    pending_cr: bool,
    in_first_line: bool,
    line: Vec<u8>,
    line_limit: usize,
    /// The script so far, while it is at most [`KEEP_BYTES`].
    script: Vec<u8>,
    /// Set once the script passed [`KEEP_BYTES`]: the hash of everything so far.
    hasher: Option<Sha256>,
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
    /// The version the script declares ([`declared_version`] of `head`).
    pub declared_version: Option<String>,
}

impl StdinReader {
    /// A reader keeping at most `line_limit` bytes of the request line.
    pub fn new(line_limit: usize) -> StdinReader {
        StdinReader {
            pending_cr: false,
            in_first_line: true,
            line: Vec::new(),
            line_limit,
            script: Vec::new(),
            hasher: None,
            last: None,
            head: Vec::new(),
            normalized: Vec::new(),
        }
    }

    /// Takes the next chunk of stdin.
    pub fn feed(&mut self, chunk: &[u8]) {
        if !self.pending_cr && !chunk.contains(&b'\r') {
            // Nothing to normalise (the usual LF-only stdin).
            self.take(chunk);
            return;
        }
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
        self.last = bytes.last().copied();
        let room = HEAD_BYTES.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..bytes.len().min(room)]);
        match &mut self.hasher {
            Some(hasher) => hasher.update(bytes),
            None if self.script.len() + bytes.len() > KEEP_BYTES => {
                let mut hasher = Sha256::new();
                hasher.update(&self.script);
                hasher.update(bytes);
                self.script = Vec::new();
                self.hasher = Some(hasher);
            }
            None => self.script.extend_from_slice(bytes),
        }
    }

    /// Ends the stream.
    pub fn finish(mut self) -> Stdin {
        if self.pending_cr {
            self.pending_cr = false;
            self.take(b"\n");
        }
        let request_line = String::from_utf8_lossy(&self.line).into_owned();
        let final_lf = self.last != Some(b'\n');
        let (script_sha256, declared) = match self.hasher.take() {
            Some(mut hasher) => {
                if final_lf {
                    hasher.update(b"\n");
                }
                (hex::encode(hasher.finalize()), declared_version(&self.head))
            }
            None => {
                let mut script = std::mem::take(&mut self.script);
                if final_lf {
                    script.push(b'\n');
                }
                let known = known(script);
                (known.sha256.clone(), known.version.clone())
            }
        };
        Stdin {
            request_line,
            script_sha256,
            head: self.head,
            declared_version: declared,
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
    fn a_script_seen_before_or_too_long_to_keep_hashes_the_same() {
        let script = b"$script:AgentVersion = '3.1.4'\nWrite-Output hi\n";
        let mut stdin = b"{}\n".to_vec();
        stdin.extend_from_slice(script);
        for _ in 0..3 {
            let s = read(&[&stdin]);
            assert_eq!(s.script_sha256, sha256_hex(script));
            assert_eq!(s.declared_version.as_deref(), Some("3.1.4"));
        }
        // Same length, one byte different: not taken for the one seen before.
        let mut other = stdin.clone();
        let at = other.len() - 2;
        other[at] = b'o';
        let mut changed = script.to_vec();
        changed[script.len() - 2] = b'o';
        assert_eq!(read(&[&other]).script_sha256, sha256_hex(&changed));
        // Longer than KEEP_BYTES: hashed while it streams, in any chunking.
        let long: Vec<u8> = b"# padding line\r\n"
            .iter()
            .copied()
            .cycle()
            .take(KEEP_BYTES + 100)
            .collect();
        let mut big = b"{}\n$AgentVersion = '1.0.0'\n".to_vec();
        big.extend_from_slice(&long);
        let expected = {
            let mut s = b"$AgentVersion = '1.0.0'\n".to_vec();
            s.extend(String::from_utf8_lossy(&long).replace("\r\n", "\n").bytes());
            s.push(b'\n'); // it ends in the middle of a line
            sha256_hex(&s)
        };
        let chunks: Vec<&[u8]> = big.chunks(7777).collect();
        let s = read(&chunks);
        assert_eq!(s.script_sha256, expected);
        assert_eq!(s.declared_version.as_deref(), Some("1.0.0"));
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
