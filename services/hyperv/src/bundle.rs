//! The host agent bundle (`agent/host/*.ps1`), built into the crate: the scripts in their
//! fixed order, normalised to LF line ends, concatenated, with the bundle's version and
//! SHA-256 computed once. The bootstrap pins that hash; the bundle travels on stdin after
//! the request line, gzip-compressed and base64-encoded on one line (compressed once).

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// The bundle's scripts in the order they are concatenated (core first: it defines the
/// dispatcher and the helpers the others use).
pub const BUNDLE_FILES: &[(&str, &str)] = &[
    ("core.ps1", include_str!("../../../agent/host/core.ps1")),
    ("errors.ps1", include_str!("../../../agent/host/errors.ps1")),
    ("params.ps1", include_str!("../../../agent/host/params.ps1")),
    ("host.ps1", include_str!("../../../agent/host/host.ps1")),
    (
        "inventory.ps1",
        include_str!("../../../agent/host/inventory.ps1"),
    ),
    ("watch.ps1", include_str!("../../../agent/host/watch.ps1")),
    ("power.ps1", include_str!("../../../agent/host/power.ps1")),
    ("vm.ps1", include_str!("../../../agent/host/vm.ps1")),
    ("disk.ps1", include_str!("../../../agent/host/disk.ps1")),
    ("nic.ps1", include_str!("../../../agent/host/nic.ps1")),
];

/// The bootstrap template (`agent/host/bootstrap.ps1`); see [`crate::Bootstrap`].
pub const BOOTSTRAP_TEMPLATE: &str = include_str!("../../../agent/host/bootstrap.ps1");

/// The line of `core.ps1` that carries the bundle's version.
const VERSION_PREFIX: &str = "$script:AgentVersion = '";

/// The agent bundle: UTF-8, LF line ends only, ending with LF; sent packed (gzip, then
/// base64) as the second line of stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentBundle {
    text: String,
    packed: String,
    sha256: String,
    version: String,
}

/// gzip (best compression, no file name, time 0: the same bytes every build), then base64.
fn pack(text: &str) -> String {
    use std::io::Write as _;
    let mut gzip = GzEncoder::new(Vec::with_capacity(text.len() / 3), Compression::best());
    // Writing into a Vec cannot fail.
    let compressed = gzip
        .write_all(text.as_bytes())
        .and_then(|()| gzip.finish())
        .unwrap_or_default();
    BASE64.encode(compressed)
}

static BUNDLE: LazyLock<AgentBundle> = LazyLock::new(|| AgentBundle::from_files(BUNDLE_FILES));

impl AgentBundle {
    /// The bundle built into this crate (computed on first use).
    pub fn builtin() -> &'static AgentBundle {
        &BUNDLE
    }

    /// Builds a bundle from (name, text) scripts in order. Each script's CR characters are
    /// dropped and a missing final LF is added, because the bootstrap rebuilds the bundle
    /// from stdin lines joined with LF and hashes that.
    pub fn from_files(files: &[(&str, &str)]) -> AgentBundle {
        let mut text = String::with_capacity(files.iter().map(|(_, t)| t.len() + 64).sum());
        for (name, script) in files {
            text.push_str("# ---- ");
            text.push_str(name);
            text.push('\n');
            text.extend(script.chars().filter(|&c| c != '\r'));
            if !text.ends_with('\n') {
                text.push('\n');
            }
        }
        let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        let version = text
            .lines()
            .find_map(|line| {
                line.strip_prefix(VERSION_PREFIX)?
                    .split_once('\'')
                    .map(|(v, _)| v)
            })
            .unwrap_or("0.0.0")
            .to_owned();
        AgentBundle {
            packed: pack(&text),
            text,
            sha256,
            version,
        }
    }

    /// The bundle's text: what the bootstrap unpacks, hashes and runs.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// Whether it is empty (never, for the built-in bundle).
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The SHA-256 of [`Self::text`], lower-case hex (what `agent.info` reports as
    /// `agent_sha256`).
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The version `core.ps1` declares (`$script:AgentVersion`), e.g. "1.0.0".
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The bundle as sent: gzip-compressed, base64-encoded, one line.
    pub fn packed(&self) -> &str {
        &self.packed
    }

    /// stdin for one call: the request line, then the packed bundle, each ending in LF.
    pub fn stdin_for(&self, request_line: &str) -> Vec<u8> {
        let mut stdin = Vec::with_capacity(request_line.len() + self.packed.len() + 2);
        stdin.extend_from_slice(request_line.trim_end_matches(['\r', '\n']).as_bytes());
        stdin.push(b'\n');
        stdin.extend_from_slice(self.packed.as_bytes());
        stdin.push(b'\n');
        stdin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_bundle_is_lf_only_and_hashes_its_text() {
        let bundle = AgentBundle::builtin();
        assert!(!bundle.text().contains('\r'));
        assert!(bundle.text().ends_with('\n'));
        assert_eq!(
            bundle.sha256(),
            hex::encode(Sha256::digest(bundle.text().as_bytes()))
        );
        assert_eq!(bundle.sha256().len(), 64);
        let order: Vec<&str> = bundle
            .text()
            .lines()
            .filter_map(|l| l.strip_prefix("# ---- "))
            .collect();
        assert_eq!(
            order,
            BUNDLE_FILES.iter().map(|(n, _)| *n).collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_builtin_bundle_is_ascii_so_no_console_code_page_can_change_its_hash() {
        let bundle = AgentBundle::builtin();
        let at = bundle.text().find(|c: char| !c.is_ascii());
        assert_eq!(at, None, "non-ascii text in the bundle");
        assert!(BOOTSTRAP_TEMPLATE.is_ascii());
    }

    #[test]
    fn the_version_comes_from_core() {
        let version = AgentBundle::builtin().version();
        let parts: Vec<&str> = version.split('.').collect();
        assert_eq!(parts.len(), 3, "{version}");
        assert!(
            parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        );
    }

    #[test]
    fn crlf_scripts_hash_like_lf_scripts() {
        let lf = AgentBundle::from_files(&[("a.ps1", "a\nb\n"), ("b.ps1", "c")]);
        let crlf = AgentBundle::from_files(&[("a.ps1", "a\r\nb\r\n"), ("b.ps1", "c\r\n")]);
        assert_eq!(lf, crlf);
        assert_eq!(lf.text(), "# ---- a.ps1\na\nb\n# ---- b.ps1\nc\n");
    }

    #[test]
    fn stdin_is_the_request_line_then_the_packed_bundle() {
        use std::io::Read as _;
        let bundle = AgentBundle::from_files(&[("a.ps1", "x\n")]);
        let stdin = bundle.stdin_for("{\"protocol\":1}\n");
        let text = String::from_utf8(stdin).unwrap_or_default();
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0], "{\"protocol\":1}");
        // What the bootstrap hashes: line 2 decoded from base64 and decompressed.
        let compressed = BASE64.decode(lines[1]).unwrap_or_default();
        let mut unpacked = String::new();
        flate2::read::GzDecoder::new(compressed.as_slice())
            .read_to_string(&mut unpacked)
            .unwrap_or_default();
        assert_eq!(unpacked, bundle.text());
        assert_eq!(
            hex::encode(Sha256::digest(unpacked.as_bytes())),
            bundle.sha256()
        );
    }

    #[test]
    fn the_packed_bundle_is_a_quarter_of_the_text_and_the_same_every_time() {
        let bundle = AgentBundle::builtin();
        assert!(
            bundle.packed().len() * 3 < bundle.len(),
            "{} packed of {}",
            bundle.packed().len(),
            bundle.len()
        );
        assert_eq!(
            AgentBundle::from_files(BUNDLE_FILES).packed(),
            bundle.packed()
        );
    }
}
