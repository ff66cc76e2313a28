//! Readable text from powershell.exe's stderr. With redirected streams it writes CLIXML
//! (`#< CLIXML` then `<Objs>` holding `<S S="Error">…</S>` strings, with `_x000D__x000A_`
//! escapes for control characters); anything else is passed through as text.

const MARKER: &str = "#< CLIXML";

/// The text of `stderr`: the CLIXML strings joined, or the bytes as (lossy) UTF-8.
pub fn stderr_text(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let Some(xml) = trimmed.strip_prefix(MARKER) else {
        return text.trim_end().to_owned();
    };
    let mut out = String::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<S S=\"") {
        let after = &rest[start + 6..];
        let Some(kind_end) = after.find('"') else {
            break;
        };
        let kind = &after[..kind_end];
        let Some(open_end) = after.find('>') else {
            break;
        };
        let body = &after[open_end + 1..];
        let Some(close) = body.find("</S>") else {
            break;
        };
        if kind.eq_ignore_ascii_case("Error") || kind.eq_ignore_ascii_case("warning") {
            out.push_str(&unescape(&body[..close]));
        }
        rest = &body[close + 4..];
    }
    out.trim_end().to_owned()
}

/// Undoes XML entities and PowerShell's `_xHHHH_` escapes.
fn unescape(text: &str) -> String {
    let entities = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    let mut out = String::with_capacity(entities.len());
    let mut rest = entities.as_str();
    while let Some(at) = rest.find("_x") {
        out.push_str(&rest[..at]);
        let candidate = &rest[at..];
        let decoded = candidate
            .get(2..6)
            .filter(|_| candidate.as_bytes().get(6) == Some(&b'_'))
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .and_then(char::from_u32);
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &candidate[7..];
            }
            None => {
                out.push_str("_x");
                rest = &candidate[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clixml_errors_become_text() {
        let stderr = concat!(
            "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">",
            "<Obj S=\"progress\" RefId=\"0\"><TN RefId=\"0\"><T>System.Management.Automation.PSCustomObject</T></TN></Obj>",
            "<S S=\"Error\">Get-VM : Hyper-V was unable to find a virtual machine_x000D__x000A_</S>",
            "<S S=\"Error\">    + FullyQualifiedErrorId : InvalidParameter &amp; more_x000D__x000A_</S></Objs>"
        );
        assert_eq!(
            stderr_text(stderr.as_bytes()),
            "Get-VM : Hyper-V was unable to find a virtual machine\r\n    + FullyQualifiedErrorId : InvalidParameter & more"
        );
    }

    #[test]
    fn plain_text_passes_through() {
        assert_eq!(
            stderr_text(b"'ipconfig' is not recognized as an internal or external command,\r\n"),
            "'ipconfig' is not recognized as an internal or external command,"
        );
        assert_eq!(unescape("a_xZZZZ_b_x0041_"), "a_xZZZZ_bA");
    }
}
