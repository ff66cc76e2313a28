//! The bootstrap, emulated as ARCHITECTURE.md describes it (template:
//! `agent/host/bootstrap.ps1`): `-EncodedCommand` carries Base64 of a UTF-16LE script
//! that pins the SHA-256 of the agent script; stdin carries the request line, then the
//! agent script gzip-compressed and base64-encoded on one line. The simulator recognises
//! the bootstrap by the one 64-hex-digit literal in it (the pinned hash), reads stdin to
//! its end the way `$input` hands it to the bootstrap (lines ending at CR LF, LF or CR;
//! the first is the request; the second, decoded and decompressed, is the script), and
//! compares the script's SHA-256 with the pinned one. Any other script is PowerShell the
//! simulated host cannot run.

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

/// How much of what follows the request line is kept (for [`declared_version`] and for
/// what a `-Command -` script says it was).
pub const HEAD_BYTES: usize = 64 * 1024;

/// The longest packed bundle line read; a longer one is not decoded (the hash of nothing
/// is then compared, and fails). The real bundle packs to about 35 KB.
pub const KEEP_BYTES: usize = 4 * 1024 * 1024;

/// The most a packed bundle may decompress to (a gzip bomb stops here, and fails the hash).
const UNPACKED_LIMIT: u64 = 64 * 1024 * 1024;

/// How many distinct packed bundles [`StdinReader::finish`] remembers.
const REMEMBERED: usize = 4;

/// A packed bundle already unpacked: its line, the hash and declared version of the
/// script it unpacks to.
#[derive(Debug)]
struct Known {
    packed: Vec<u8>,
    sha256: String,
    version: Option<String>,
}

/// The packed bundles unpacked last, newest first.
static KNOWN: std::sync::Mutex<Vec<std::sync::Arc<Known>>> = std::sync::Mutex::new(Vec::new());

/// What the bootstrap does with line 2: base64-decode it (`[Convert]::FromBase64String`
/// skips white space), gunzip it. Anything that does not decode gives no bytes.
fn unpack(packed: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let text: Vec<u8> = packed
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let Ok(compressed) = B64.decode(text) else {
        return Vec::new();
    };
    let mut script = Vec::new();
    let decoded = flate2::read::GzDecoder::new(compressed.as_slice())
        .take(UNPACKED_LIMIT + 1)
        .read_to_end(&mut script);
    match decoded {
        Ok(n) if (n as u64) <= UNPACKED_LIMIT => script,
        _ => Vec::new(),
    }
}

/// The hash and declared version of the script `packed` unpacks to: remembered from an
/// earlier identical line (the same bundle arrives with every call), or computed.
fn known(packed: Vec<u8>) -> std::sync::Arc<Known> {
    let remembered: Vec<std::sync::Arc<Known>> =
        KNOWN.lock().map(|k| k.clone()).unwrap_or_default();
    if let Some(hit) = remembered.into_iter().find(|k| k.packed == packed) {
        return hit;
    }
    let script = unpack(&packed);
    let entry = std::sync::Arc::new(Known {
        sha256: sha256_hex(&script),
        version: declared_version(&script[..script.len().min(HEAD_BYTES)]),
        packed,
    });
    if let Ok(mut k) = KNOWN.lock() {
        k.insert(0, entry.clone());
        k.truncate(REMEMBERED);
    }
    entry
}

/// Reads stdin as the bootstrap does: powershell.exe hands it over as `$input`, one
/// string per line (lines end at CR LF, LF or a lone CR); line 1 is the request, line 2
/// the packed bundle, which the bootstrap unpacks and hashes. Fed chunk by chunk.
#[derive(Debug)]
pub struct StdinReader {
    pending_cr: bool,
    /// The line being read: 0 the request, 1 the packed bundle, 2 anything after.
    line_index: usize,
    line: Vec<u8>,
    line_limit: usize,
    packed: Vec<u8>,
    packed_too_long: bool,
    head: Vec<u8>,
    normalized: Vec<u8>,
}

/// What [`StdinReader::finish`] gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stdin {
    /// The request line (without its line end), decoded lossily.
    pub request_line: String,
    /// SHA-256 of the script as the bootstrap unpacks it, lower-case hex.
    pub script_sha256: String,
    /// The first [`HEAD_BYTES`] bytes after the request line, line ends as LF.
    pub head: Vec<u8>,
    /// The version the unpacked script declares ([`declared_version`]).
    pub declared_version: Option<String>,
}

impl StdinReader {
    /// A reader keeping at most `line_limit` bytes of the request line.
    pub fn new(line_limit: usize) -> StdinReader {
        StdinReader {
            pending_cr: false,
            line_index: 0,
            line: Vec::new(),
            line_limit,
            packed: Vec::new(),
            packed_too_long: false,
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
        if self.line_index == 0 {
            let end = bytes.iter().position(|b| *b == b'\n');
            let part = &bytes[..end.unwrap_or(bytes.len())];
            let room = self.line_limit.saturating_sub(self.line.len());
            self.line.extend_from_slice(&part[..part.len().min(room)]);
            match end {
                Some(i) => {
                    self.line_index = 1;
                    bytes = &bytes[i + 1..];
                }
                None => return,
            }
        }
        let room = HEAD_BYTES.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..bytes.len().min(room)]);
        if self.line_index == 1 {
            let end = bytes.iter().position(|b| *b == b'\n');
            let part = &bytes[..end.unwrap_or(bytes.len())];
            if self.packed.len() + part.len() > KEEP_BYTES {
                self.packed_too_long = true;
                self.packed = Vec::new();
            } else if !self.packed_too_long {
                self.packed.extend_from_slice(part);
            }
            if end.is_some() {
                self.line_index = 2;
            }
        }
    }

    /// Ends the stream.
    pub fn finish(mut self) -> Stdin {
        if self.pending_cr {
            self.pending_cr = false;
            self.take(b"\n");
        }
        let request_line = String::from_utf8_lossy(&self.line).into_owned();
        let packed = if self.packed_too_long {
            Vec::new()
        } else {
            std::mem::take(&mut self.packed)
        };
        let known = known(packed);
        Stdin {
            request_line,
            script_sha256: known.sha256.clone(),
            head: self.head,
            declared_version: known.version.clone(),
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

    fn pack(script: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let compressed = gzip
            .write_all(script)
            .and_then(|()| gzip.finish())
            .unwrap_or_default();
        B64.encode(compressed).into_bytes()
    }

    fn stdin(request: &[u8], script: &[u8], line_end: &[u8]) -> Vec<u8> {
        let mut stdin = request.to_vec();
        stdin.extend_from_slice(line_end);
        stdin.extend_from_slice(&pack(script));
        stdin.extend_from_slice(line_end);
        stdin
    }

    #[test]
    fn reads_the_request_line_and_unpacks_the_bundle_line() {
        let script = b"$script:AgentVersion = '3.1.4'\nWrite-Output hi\n";
        for line_end in [&b"\n"[..], b"\r\n", b"\r"] {
            let whole = stdin(b"{\"a\":1}", script, line_end);
            for chunking in [whole.len(), 7, 1] {
                let chunks: Vec<&[u8]> = whole.chunks(chunking).collect();
                let s = read(&chunks);
                assert_eq!(s.request_line, "{\"a\":1}");
                assert_eq!(s.script_sha256, sha256_hex(script), "{line_end:?}");
                assert_eq!(s.declared_version.as_deref(), Some("3.1.4"));
            }
        }
        // Lines after the bundle's are not part of it.
        let mut more = stdin(b"{}", script, b"\n");
        more.extend_from_slice(b"# appended\n");
        assert_eq!(read(&[&more]).script_sha256, sha256_hex(script));
        let mut r = StdinReader::new(4);
        r.feed(b"0123456789\nx\n");
        assert_eq!(
            r.finish().request_line,
            "0123",
            "the request line is capped"
        );
    }

    #[test]
    fn a_missing_or_broken_bundle_line_hashes_as_nothing() {
        let nothing = sha256_hex(b"");
        assert_eq!(read(&[]).script_sha256, nothing);
        assert_eq!(read(&[b"{}"]).script_sha256, nothing);
        assert_eq!(read(&[b"{}\n"]).script_sha256, nothing);
        assert_eq!(read(&[b"{}\nnot base64!\n"]).script_sha256, nothing);
        // Base64, but not gzip: the plain script the bootstrap no longer takes.
        let plain = B64.encode(b"Write-Output hi\n");
        assert_eq!(
            read(&[format!("{{}}\n{plain}\n").as_bytes()]).script_sha256,
            nothing
        );
        // Too long to keep.
        let mut long = b"{}\n".to_vec();
        long.extend(std::iter::repeat_n(b'A', KEEP_BYTES + 4));
        assert_eq!(read(&[&long]).script_sha256, nothing);
    }

    #[test]
    fn a_bundle_seen_before_hashes_the_same_and_one_byte_changed_does_not() {
        let script = b"$AgentVersion = '1.0.0'\nWrite-Output hi\n";
        let whole = stdin(b"{}", script, b"\n");
        for _ in 0..3 {
            assert_eq!(read(&[&whole]).script_sha256, sha256_hex(script));
        }
        let mut changed = script.to_vec();
        changed[script.len() - 2] = b'o';
        let other = stdin(b"{}", &changed, b"\n");
        assert_eq!(read(&[&other]).script_sha256, sha256_hex(&changed));
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
