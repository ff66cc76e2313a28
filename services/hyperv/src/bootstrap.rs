//! The bootstrap: the few hundred characters of PowerShell passed with
//! `powershell.exe ... -EncodedCommand`. It pins the bundle's SHA-256, reads stdin (request
//! line, then the packed bundle), unpacks and checks the hash, dot-sources the bundle and calls
//! `Invoke-AetherVAgent` (template: `agent/host/bootstrap.ps1`).
//!
//! The pinned hash is the only 64-character lower-case hex literal of the decoded
//! bootstrap ([`pinned_sha256`] finds it; the simulator uses it to emulate the check).

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::bundle::{AgentBundle, BOOTSTRAP_TEMPLATE};

/// The executable every agent command runs.
pub const POWERSHELL: &str = "powershell.exe";

/// Its arguments before the encoded bootstrap.
pub const POWERSHELL_ARGS: [&str; 6] = [
    "-NoLogo",
    "-NoProfile",
    "-NonInteractive",
    "-ExecutionPolicy",
    "Bypass",
    "-EncodedCommand",
];

/// cmd.exe's command-line limit, which WinRS commands are under (KB830473).
pub const CMD_LINE_LIMIT: usize = 8191;

const PLACEHOLDER: &str = "{{AGENT_SHA256}}";

/// A bootstrap that cannot be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BootstrapError {
    /// The command line would be refused by cmd.exe.
    #[error("the bootstrap command line is {length} characters, over cmd.exe's limit of {limit}")]
    TooLong {
        /// Its length in UTF-16 units.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// The template has no `{{AGENT_SHA256}}` placeholder.
    #[error("the bootstrap template has no {PLACEHOLDER} placeholder")]
    NoPlaceholder,
    /// An `-EncodedCommand` value that is not base64.
    #[error("the encoded command is not base64")]
    NotBase64,
    /// An `-EncodedCommand` value that is not UTF-16LE text.
    #[error("the encoded command is not utf-16le text")]
    NotUtf16,
}

/// The bootstrap for one bundle, with its encoded command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bootstrap {
    script: String,
    encoded: String,
}

static BUILTIN: LazyLock<Result<Bootstrap, BootstrapError>> =
    LazyLock::new(|| Bootstrap::for_bundle(AgentBundle::builtin()));

impl Bootstrap {
    /// The bootstrap of the built-in bundle. It always fits (a test checks it); the error
    /// is kept for a bundle built with a broken template.
    pub fn builtin() -> Result<&'static Bootstrap, BootstrapError> {
        BUILTIN.as_ref().map_err(Clone::clone)
    }

    /// Fills the template with the bundle's hash and checks the command line's length.
    pub fn for_bundle(bundle: &AgentBundle) -> Result<Bootstrap, BootstrapError> {
        Self::from_template(BOOTSTRAP_TEMPLATE, bundle.sha256())
    }

    /// Fills a template: drops comment and blank lines, puts `sha256` in place of the
    /// placeholder, joins the lines with LF and encodes it.
    pub fn from_template(template: &str, sha256: &str) -> Result<Bootstrap, BootstrapError> {
        if !template.contains(PLACEHOLDER) {
            return Err(BootstrapError::NoPlaceholder);
        }
        let script = template
            .lines()
            .map(|line| line.trim_end_matches('\r'))
            .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
            .replace(PLACEHOLDER, sha256);
        let bootstrap = Bootstrap {
            encoded: encode_command(&script),
            script,
        };
        let length = bootstrap.command_line().encode_utf16().count();
        if length > CMD_LINE_LIMIT {
            return Err(BootstrapError::TooLong {
                length,
                limit: CMD_LINE_LIMIT,
            });
        }
        Ok(bootstrap)
    }

    /// The bootstrap script, decoded.
    pub fn script(&self) -> &str {
        &self.script
    }

    /// The `-EncodedCommand` value: base64 of the UTF-16LE script.
    pub fn encoded_command(&self) -> &str {
        &self.encoded
    }

    /// The executable, [`POWERSHELL`].
    pub fn command(&self) -> &'static str {
        POWERSHELL
    }

    /// The arguments: [`POWERSHELL_ARGS`] then the encoded bootstrap.
    pub fn arguments(&self) -> Vec<String> {
        POWERSHELL_ARGS
            .iter()
            .map(|a| (*a).to_owned())
            .chain(std::iter::once(self.encoded.clone()))
            .collect()
    }

    /// The whole command line as Windows sees it.
    pub fn command_line(&self) -> String {
        format!(
            "{POWERSHELL} {} {}",
            POWERSHELL_ARGS.join(" "),
            self.encoded
        )
    }
}

/// `-EncodedCommand` encoding: base64 of the script in UTF-16LE.
pub fn encode_command(script: &str) -> String {
    let bytes: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    BASE64.encode(bytes)
}

/// Decodes an `-EncodedCommand` value back to the script.
pub fn decode_encoded_command(encoded: &str) -> Result<String, BootstrapError> {
    let bytes = BASE64
        .decode(encoded.trim())
        .map_err(|_| BootstrapError::NotBase64)?;
    if bytes.len() % 2 != 0 {
        return Err(BootstrapError::NotUtf16);
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    String::from_utf16(&units).map_err(|_| BootstrapError::NotUtf16)
}

/// The SHA-256 a decoded bootstrap pins: its only 64-character lower-case hex literal
/// (`'…'`). None when there is not exactly one.
pub fn pinned_sha256(script: &str) -> Option<&str> {
    let mut found = script.split('\'').filter(|part| {
        part.len() == 64
            && part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_bootstrap_fits_cmd_exe_and_pins_the_bundle() -> Result<(), BootstrapError> {
        let bootstrap = Bootstrap::builtin()?;
        let length = bootstrap.command_line().encode_utf16().count();
        assert!(length <= CMD_LINE_LIMIT, "{length}");
        assert!(
            bootstrap.script().len() < 1500,
            "{}",
            bootstrap.script().len()
        );
        let decoded = decode_encoded_command(bootstrap.encoded_command())?;
        assert_eq!(decoded, bootstrap.script());
        assert_eq!(
            pinned_sha256(&decoded),
            Some(AgentBundle::builtin().sha256())
        );
        assert!(decoded.contains("Invoke-AetherVAgent"));
        assert!(!decoded.contains('#'), "comments must be stripped");
        assert!(!decoded.contains(PLACEHOLDER));
        let args = bootstrap.arguments();
        assert_eq!(args.len(), 7);
        assert_eq!(args[5], "-EncodedCommand");
        assert_eq!(args[6], bootstrap.encoded_command());
        Ok(())
    }

    #[test]
    fn encoding_round_trips_any_text() -> Result<(), BootstrapError> {
        for text in ["", "$x = 'é'", "a\nb", "日本語 🚀 `n"] {
            assert_eq!(decode_encoded_command(&encode_command(text))?, text);
        }
        assert_eq!(encode_command("ab"), "YQBiAA==");
        assert_eq!(decode_encoded_command("!!"), Err(BootstrapError::NotBase64));
        assert_eq!(
            decode_encoded_command("YQ=="),
            Err(BootstrapError::NotUtf16)
        );
        Ok(())
    }

    #[test]
    fn a_long_template_is_refused() {
        let template = format!("$p='{PLACEHOLDER}'\n$x='{}'", "y".repeat(4000));
        assert!(matches!(
            Bootstrap::from_template(&template, &"a".repeat(64)),
            Err(BootstrapError::TooLong { limit: 8191, .. })
        ));
        assert_eq!(
            Bootstrap::from_template("no placeholder", "x"),
            Err(BootstrapError::NoPlaceholder)
        );
    }

    #[test]
    fn the_pinned_hash_is_found_only_when_unique() {
        let hash = "0123456789abcdef".repeat(4);
        assert_eq!(
            pinned_sha256(&format!("$p='{hash}';x")),
            Some(hash.as_str())
        );
        assert_eq!(pinned_sha256(&format!("'{hash}' '{hash}'")), None);
        assert_eq!(pinned_sha256(&format!("'{}'", hash.to_uppercase())), None);
        assert_eq!(pinned_sha256("nothing"), None);
    }
}
