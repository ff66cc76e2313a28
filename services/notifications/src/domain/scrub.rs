//! A last line of defence against secrets in notifications. Producers must never put a
//! secret in one; this catches the obvious slips before anything is stored, so a secret
//! never reaches the list, the event log, a subscriber or a browser:
//!
//! - a metadata entry whose key names a secret (`password`, `guest_la_pw`, `api_key`,
//!   `ssh_key`, `token`, `credential`, ...) has its value replaced by the mask;
//! - in titles, messages and metadata values: `password=…`, `"secret": "…"`, `token='…'`
//!   (a secret-naming word assigned with `=`, or with `:` and a quoted value),
//!   `Authorization: <scheme> <credentials>`, `Bearer <token>`, the password of a URL
//!   (`https://user:pass@host`), and PEM private key blocks.
//!
//! Prose such as "password: must be at least 8 characters" is left alone (an unquoted
//! value after `:` is not treated as a secret). The mask is `aetherv_runtime::MASK`.

use std::borrow::Cow;
use std::ops::Range;

use aetherv_runtime::MASK;

/// Words that name a secret in `word=value` text.
const TEXT_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "_pw",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "access_key",
    "private_key",
];

/// Parts of a metadata key that mark its value secret.
const KEY_PARTS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "access_key",
    "private_key",
    "ssh_key",
    "credential",
];

/// True when a metadata key names a secret.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    KEY_PARTS.iter().any(|part| key.contains(part))
        || key == "pw"
        || key == "pwd"
        || key.ends_with("_pw")
        || key.ends_with("_pwd")
        || key.ends_with("-pw")
}

/// `text` with every secret-looking value replaced by the mask (borrowed when none).
pub fn scrub_text(text: &str) -> Cow<'_, str> {
    let lower = text.to_ascii_lowercase();
    let mut spans = Vec::new();
    assignments(&lower, &mut spans);
    authorizations(&lower, &mut spans);
    url_passwords(&lower, &mut spans);
    private_keys(&lower, &mut spans);
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    spans.sort_by_key(|span| span.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for span in spans {
        if span.end <= at {
            continue;
        }
        let start = span.start.max(at);
        out.push_str(&text[at..start]);
        out.push_str(MASK);
        at = span.end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn skip_spaces(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
        i += 1;
    }
    i
}

/// The end of an unquoted value starting at `i`.
fn bare_value_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !b",;&\"'<>)]}".contains(&bytes[i])
    {
        i += 1;
    }
    i
}

/// `word=value`, `word: "value"`, `"word": "value"`, `word = 'value'`.
fn assignments(lower: &str, spans: &mut Vec<Range<usize>>) {
    let bytes = lower.as_bytes();
    for word in TEXT_WORDS {
        for (at, _) in lower.match_indices(word) {
            let mut i = at + word.len();
            if i < bytes.len() && is_word_byte(bytes[i]) {
                continue;
            }
            if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
                i += 1;
            }
            i = skip_spaces(bytes, i);
            let Some(&separator) = bytes.get(i) else {
                continue;
            };
            if separator != b'=' && separator != b':' {
                continue;
            }
            i = skip_spaces(bytes, i + 1);
            match bytes.get(i) {
                Some(&quote @ (b'"' | b'\'')) => {
                    let start = i + 1;
                    let end = bytes[start..]
                        .iter()
                        .position(|&b| b == quote)
                        .map_or(bytes.len(), |offset| start + offset);
                    if end > start {
                        spans.push(start..end);
                    }
                }
                Some(_) if separator == b'=' => {
                    let end = bare_value_end(bytes, i);
                    if end > i {
                        spans.push(i..end);
                    }
                }
                _ => {}
            }
        }
    }
}

/// `Authorization: <scheme> <credentials>` and `Bearer <token>` (8+ token characters).
fn authorizations(lower: &str, spans: &mut Vec<Range<usize>>) {
    let bytes = lower.as_bytes();
    let token_end = |mut i: usize| {
        while i < bytes.len()
            && (bytes[i].is_ascii_alphanumeric() || b"._~+/=-".contains(&bytes[i]))
        {
            i += 1;
        }
        i
    };
    for (at, word) in lower.match_indices("authorization:") {
        let scheme = skip_spaces(bytes, at + word.len());
        let scheme_end = token_end(scheme);
        let value = skip_spaces(bytes, scheme_end);
        let end = token_end(value);
        if end > value {
            spans.push(value..end);
        } else if scheme_end > scheme {
            spans.push(scheme..scheme_end);
        }
    }
    for (at, word) in lower.match_indices("bearer ") {
        if at > 0 && is_word_byte(bytes[at - 1]) {
            continue;
        }
        let value = skip_spaces(bytes, at + word.len());
        let end = token_end(value);
        if end - value >= 8 {
            spans.push(value..end);
        }
    }
}

/// The password in `scheme://user:password@host`.
fn url_passwords(lower: &str, spans: &mut Vec<Range<usize>>) {
    let bytes = lower.as_bytes();
    for (at, word) in lower.match_indices("://") {
        let start = at + word.len();
        let end = bytes[start..]
            .iter()
            .position(|&b| b"/?#\"'<> \t\r\n".contains(&b))
            .map_or(bytes.len(), |offset| start + offset);
        let authority = &bytes[start..end];
        let Some(at_sign) = authority.iter().rposition(|&b| b == b'@') else {
            continue;
        };
        if let Some(colon) = authority[..at_sign].iter().position(|&b| b == b':')
            && at_sign > colon + 1
        {
            spans.push(start + colon + 1..start + at_sign);
        }
    }
}

/// `-----BEGIN … PRIVATE KEY-----` through its `-----END … PRIVATE KEY-----` line (or the
/// end of the text when it has none).
fn private_keys(lower: &str, spans: &mut Vec<Range<usize>>) {
    const END_MARK: &str = "private key-----";
    for (at, _) in lower.match_indices("-----begin ") {
        let header_end = lower[at..].find('\n').map_or(lower.len(), |n| at + n);
        if !lower[at..header_end].contains(END_MARK) {
            continue;
        }
        let end = lower[header_end..]
            .find("-----end ")
            .and_then(|offset| {
                let from = header_end + offset;
                lower[from..]
                    .find(END_MARK)
                    .map(|n| from + n + END_MARK.len())
            })
            .unwrap_or(lower.len());
        spans.push(at..end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubbed(text: &str) -> String {
        scrub_text(text).into_owned()
    }

    #[test]
    fn assignments_are_masked_and_prose_is_not() {
        assert_eq!(
            scrubbed("login failed for admin password=Hunter2! retry"),
            format!("login failed for admin password={MASK} retry")
        );
        assert_eq!(
            scrubbed(r#"{"guest_la_pw": "x", "client_secret": "s3cr3t"}"#),
            format!(r#"{{"guest_la_pw": "{MASK}", "client_secret": "{MASK}"}}"#)
        );
        assert_eq!(
            scrubbed("https://h/?token=abc123&x=1"),
            format!("https://h/?token={MASK}&x=1")
        );
        assert_eq!(
            scrubbed("password: must be at least 8 characters"),
            "password: must be at least 8 characters"
        );
        assert_eq!(scrubbed("password_file=/etc/p"), "password_file=/etc/p");
        assert!(matches!(scrub_text("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn authorization_urls_and_keys_are_masked() {
        assert_eq!(
            scrubbed("sent Authorization: Basic YWRtaW46cGFzcw== to hv01"),
            format!("sent Authorization: Basic {MASK} to hv01")
        );
        assert_eq!(
            scrubbed("header bearer eyJhbGciOiJIUzI1NiJ9.e30.x ok"),
            format!("header bearer {MASK} ok")
        );
        assert_eq!(
            scrubbed("cannot reach http://admin:P4ss@hv01:5985/wsman"),
            format!("cannot reach http://admin:{MASK}@hv01:5985/wsman")
        );
        assert_eq!(
            scrubbed(
                "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\nend"
            ),
            format!("key:\n{MASK}\nend")
        );
    }

    #[test]
    fn secret_metadata_keys_are_recognised() {
        for key in [
            "password",
            "guest_la_pw",
            "cnf_ansible_ssh_key",
            "API_KEY",
            "token",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in ["job_id", "host", "dedup_key", "took_seconds", "power"] {
            assert!(!is_secret_key(key), "{key}");
        }
    }
}
