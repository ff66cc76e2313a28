//! MS-WSMV 2.2.9.1 message encryption framing (`multipart/encrypted`,
//! `application/HTTP-SPNEGO-session-encrypted`).
//!
//! Output is byte-exact with pywinrm and the spec (a TAB before each part header). Input is
//! lenient: TAB or no TAB, header names in any case. The sealing itself is done by
//! [`crate::ntlm`]; this module only frames (header, sealed bytes, plaintext length).

/// The multipart boundary Windows and every client use.
pub const BOUNDARY: &str = "Encrypted Boundary";
/// The protocol of SPNEGO (NTLM or Kerberos) session encryption.
pub const PROTOCOL_SPNEGO: &str = "application/HTTP-SPNEGO-session-encrypted";
/// The HTTP Content-Type of an encrypted body.
pub const CONTENT_TYPE: &str = "multipart/encrypted;protocol=\"application/HTTP-SPNEGO-session-encrypted\";boundary=\"Encrypted Boundary\"";

/// Why an encrypted body could not be unframed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FramingError {
    #[error("encrypted body does not start with the `--{BOUNDARY}` boundary")]
    NoBoundary,
    #[error("encrypted body has no `{0}` part header")]
    MissingHeader(&'static str),
    #[error("encrypted body names protocol `{0}`, expected {PROTOCOL_SPNEGO}")]
    WrongProtocol(String),
    #[error("encrypted body has no valid `Length=` in OriginalContent")]
    BadLength,
    #[error("encrypted body is truncated")]
    Truncated,
    #[error("encrypted body's signature length {0} is larger than the body")]
    BadSignatureLength(u32),
}

/// The parts of an encrypted body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedParts {
    /// The security header: the 16-byte NTLM signature (or a Kerberos wrap header).
    pub header: Vec<u8>,
    /// The sealed bytes.
    pub sealed: Vec<u8>,
    /// The plaintext length the sender declared (`Length=`); check it after unsealing.
    pub length: usize,
    /// The `type=` of OriginalContent (e.g. `application/soap+xml;charset=UTF-8`).
    pub original_type: String,
}

/// True when an HTTP Content-Type names an SPNEGO-encrypted multipart body.
pub fn is_encrypted_content_type(ct: &str) -> bool {
    let lower = ct.to_ascii_lowercase();
    lower.starts_with("multipart/encrypted")
        && lower.contains(&PROTOCOL_SPNEGO.to_ascii_lowercase())
}

fn frame_head(plaintext_len: usize) -> String {
    format!(
        "--{BOUNDARY}\r\n\tContent-Type: {PROTOCOL_SPNEGO}\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length={plaintext_len}\r\n--{BOUNDARY}\r\n\tContent-Type: application/octet-stream\r\n"
    )
}

fn frame_tail() -> String {
    format!("--{BOUNDARY}--\r\n")
}

/// Frames a sealed message.
pub fn encode(header: &[u8], sealed: &[u8], plaintext_len: usize) -> Vec<u8> {
    let (head, tail) = (frame_head(plaintext_len), frame_tail());
    let mut out = Vec::with_capacity(head.len() + 4 + header.len() + sealed.len() + tail.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(header);
    out.extend_from_slice(sealed);
    out.extend_from_slice(tail.as_bytes());
    out
}

/// Frames `plaintext` sealed in place, in the output itself, by `seal`, which returns
/// the 16-byte security header: the same bytes as [`encode`] without a copy of the body.
pub fn encode_sealed_in_place(
    plaintext: &[u8],
    seal: impl FnOnce(&mut [u8]) -> [u8; 16],
) -> Vec<u8> {
    let (head, tail) = (frame_head(plaintext.len()), frame_tail());
    let mut out = Vec::with_capacity(head.len() + 4 + 16 + plaintext.len() + tail.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(&16u32.to_le_bytes());
    let header_at = out.len();
    out.extend_from_slice(&[0; 16]);
    let body_at = out.len();
    out.extend_from_slice(plaintext);
    let header = seal(&mut out[body_at..]);
    out[header_at..body_at].copy_from_slice(&header);
    out.extend_from_slice(tail.as_bytes());
    out
}

/// Reads one CRLF-terminated line starting at `pos`; returns it (without CRLF) and the next pos.
fn line_at(body: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = body.get(pos..)?;
    let idx = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..idx], pos + idx + 2))
}

fn header_value<'a>(line: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(line)
        .ok()?
        .trim_start_matches([' ', '\t']);
    let (k, v) = text.split_once(':')?;
    k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
}

/// Unframes an encrypted body. Does not decrypt.
pub fn decode(body: &[u8]) -> Result<EncryptedParts, FramingError> {
    let boundary_line = format!("--{BOUNDARY}");
    let (first, mut pos) = line_at(body, 0).ok_or(FramingError::NoBoundary)?;
    if first != boundary_line.as_bytes() {
        return Err(FramingError::NoBoundary);
    }
    // First part headers, until the second boundary line.
    let mut protocol = None;
    let mut original = None;
    loop {
        let (line, next) = line_at(body, pos).ok_or(FramingError::Truncated)?;
        pos = next;
        if line == boundary_line.as_bytes() {
            break;
        }
        if let Some(v) = header_value(line, "Content-Type") {
            protocol = Some(v.to_owned());
        } else if let Some(v) = header_value(line, "OriginalContent") {
            original = Some(v.to_owned());
        }
    }
    let protocol = protocol.ok_or(FramingError::MissingHeader("Content-Type"))?;
    if !protocol.eq_ignore_ascii_case(PROTOCOL_SPNEGO) {
        return Err(FramingError::WrongProtocol(protocol));
    }
    let original = original.ok_or(FramingError::MissingHeader("OriginalContent"))?;
    let mut length = None;
    let mut original_type = String::new();
    for field in original.split(';') {
        let field = field.trim();
        if let Some((k, v)) = field.split_once('=') {
            if k.trim().eq_ignore_ascii_case("Length") {
                length = Some(
                    v.trim()
                        .parse::<usize>()
                        .map_err(|_| FramingError::BadLength)?,
                );
                continue;
            }
            if k.trim().eq_ignore_ascii_case("type") {
                original_type = v.trim().to_owned();
                continue;
            }
        }
        if !original_type.is_empty() {
            original_type.push(';');
            original_type.push_str(field);
        }
    }
    let length = length.ok_or(FramingError::BadLength)?;
    // Second part: one header line, then the binary payload up to the closing boundary.
    let (line, next) = line_at(body, pos).ok_or(FramingError::Truncated)?;
    if header_value(line, "Content-Type").is_none() {
        return Err(FramingError::MissingHeader(
            "Content-Type: application/octet-stream",
        ));
    }
    pos = next;
    let closing = format!("--{BOUNDARY}--");
    let payload = &body[pos..];
    let end = payload
        .windows(closing.len())
        .rposition(|w| w == closing.as_bytes())
        .ok_or(FramingError::Truncated)?;
    let payload = &payload[..end];
    if payload.len() < 4 {
        return Err(FramingError::Truncated);
    }
    let sig_len = u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]);
    let sig_end = 4usize
        .checked_add(sig_len as usize)
        .filter(|e| *e <= payload.len())
        .ok_or(FramingError::BadSignatureLength(sig_len))?;
    Ok(EncryptedParts {
        header: payload[4..sig_end].to_vec(),
        sealed: payload[sig_end..].to_vec(),
        length,
        original_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_is_byte_exact() {
        // The layout pywinrm and MS-WSMV 2.2.9.1.1 define.
        let out = encode(&[0xAA; 16], b"sealed!", 7);
        let mut expected = b"--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=7\r\n--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n".to_vec();
        expected.extend_from_slice(&[16, 0, 0, 0]);
        expected.extend_from_slice(&[0xAA; 16]);
        expected.extend_from_slice(b"sealed!--Encrypted Boundary--\r\n");
        assert_eq!(out, expected);
    }

    #[test]
    fn sealing_in_place_frames_like_encode() {
        let plaintext = b"<s:Envelope>body</s:Envelope>";
        let framed = encode_sealed_in_place(plaintext, |body| {
            for b in body.iter_mut() {
                *b ^= 0x5a;
            }
            [7; 16]
        });
        let sealed: Vec<u8> = plaintext.iter().map(|b| b ^ 0x5a).collect();
        assert_eq!(framed, encode(&[7; 16], &sealed, plaintext.len()));
    }

    #[test]
    fn round_trip_with_binary_payload_containing_crlf_and_dashes() {
        let sealed = b"\r\n--Encrypted Boundary\r\n\x00\x01--".to_vec();
        let out = encode(b"0123456789abcdef", &sealed, sealed.len());
        let parts = decode(&out).unwrap();
        assert_eq!(parts.header, b"0123456789abcdef");
        assert_eq!(parts.sealed, sealed);
        assert_eq!(parts.length, sealed.len());
        assert_eq!(parts.original_type, "application/soap+xml;charset=UTF-8");
    }

    #[test]
    fn decode_accepts_no_tab_and_other_case() {
        let mut body = b"--Encrypted Boundary\r\ncontent-type: application/HTTP-SPNEGO-session-encrypted\r\nOriginalContent: type=application/soap+xml;charset=UTF-8;Length=3\r\n--Encrypted Boundary\r\nContent-Type: application/octet-stream\r\n".to_vec();
        body.extend_from_slice(&[2, 0, 0, 0, 9, 9, b'a', b'b', b'c']);
        body.extend_from_slice(b"--Encrypted Boundary--\r\n");
        let parts = decode(&body).unwrap();
        assert_eq!(parts.header, [9, 9]);
        assert_eq!(parts.sealed, b"abc");
        assert_eq!(parts.length, 3);
    }

    #[test]
    fn decode_rejects_bad_framing() {
        assert_eq!(decode(b"hello"), Err(FramingError::NoBoundary));
        let good = encode(&[1; 16], b"x", 1);
        assert_eq!(
            decode(&good[..good.len() - 25]),
            Err(FramingError::Truncated)
        );
        let wrong = String::from_utf8_lossy(&good).replace("HTTP-SPNEGO", "HTTP-CredSSP");
        assert!(matches!(
            decode(wrong.as_bytes()),
            Err(FramingError::WrongProtocol(_))
        ));
        let nolen = String::from_utf8_lossy(&good).replace("Length=1", "Length=x");
        assert_eq!(decode(nolen.as_bytes()), Err(FramingError::BadLength));
        let mut badsig = encode(&[1; 16], b"x", 1);
        let at = badsig.len() - 24 - 17 - 4;
        badsig[at] = 200;
        assert_eq!(decode(&badsig), Err(FramingError::BadSignatureLength(200)));
        assert!(is_encrypted_content_type(CONTENT_TYPE));
        assert!(!is_encrypted_content_type(
            "application/soap+xml;charset=UTF-8"
        ));
    }
}
