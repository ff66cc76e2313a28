//! NTLMv2 response verification for the acceptor.
//!
//! sspi's NTLM acceptor proves the password only through the AUTHENTICATE message's MIC;
//! a client that sends no MIC would be accepted with any password. So the raw-NTLM path
//! also checks the NTProofStr (MS-NLMP 3.3.2) against the configured password.

use hmac::{KeyInit, Mac};
use md4::{Digest, Md4};

type HmacMd5 = hmac::Hmac<md5::Md5>;

const NEGOTIATE_UNICODE: u32 = 0x0000_0001;

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> Option<[u8; 16]> {
    let mut mac = HmacMd5::new_from_slice(key).ok()?;
    for p in parts {
        mac.update(p);
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&mac.finalize().into_bytes());
    Some(out)
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The payload a (len, maxlen, offset) field at `at` points to.
fn field(b: &[u8], at: usize) -> Option<&[u8]> {
    let len = usize::from(u16_at(b, at)?);
    let offset = u32_at(b, at + 4)? as usize;
    b.get(offset..offset.checked_add(len)?)
}

fn decode(bytes: &[u8], unicode: bool) -> Option<String> {
    if unicode {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16(&units).ok()
    } else {
        String::from_utf8(bytes.to_vec()).ok()
    }
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// True when the AUTHENTICATE message carries an NTLMv2 response computed with `password`
/// for the CHALLENGE message `challenge`. NTLMv1 and anonymous responses are refused.
pub(crate) fn verify_ntlmv2(challenge: &[u8], authenticate: &[u8], password: &str) -> bool {
    check(challenge, authenticate, password).unwrap_or(false)
}

fn check(challenge: &[u8], authenticate: &[u8], password: &str) -> Option<bool> {
    if !challenge.starts_with(b"NTLMSSP\0") || u32_at(challenge, 8)? != 2 {
        return None;
    }
    if !authenticate.starts_with(b"NTLMSSP\0") || u32_at(authenticate, 8)? != 3 {
        return None;
    }
    let server_challenge = challenge.get(24..32)?;
    let nt_response = field(authenticate, 20)?;
    let domain = field(authenticate, 28)?;
    let user = field(authenticate, 36)?;
    let flags = u32_at(authenticate, 60)?;
    if nt_response.len() <= 24 || user.is_empty() {
        return Some(false);
    }
    let unicode = flags & NEGOTIATE_UNICODE != 0;
    let user = decode(user, unicode)?;
    let domain = decode(domain, unicode)?;
    let nt_hash = Md4::digest(utf16le(password));
    let identity = utf16le(&format!("{}{}", user.to_uppercase(), domain));
    let ntowf = hmac_md5(&nt_hash, &[&identity])?;
    let (proof, blob) = nt_response.split_at(16);
    let expected = hmac_md5(&ntowf, &[server_challenge, blob])?;
    Some(
        expected
            .iter()
            .zip(proof)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// MS-NLMP 4.2.4 (NTLMv2 authentication): User "User", UserDom "Domain",
    /// Password "Password", ServerChallenge 0123456789abcdef, the `temp` blob of 4.2.4.1.3.
    #[test]
    fn ms_nlmp_ntlmv2_test_vector() {
        let mut challenge = b"NTLMSSP\0".to_vec();
        challenge.extend_from_slice(&2u32.to_le_bytes());
        challenge.extend_from_slice(&[0u8; 12]);
        challenge.extend_from_slice(&hex("0123456789abcdef"));
        let temp = hex("0101000000000000 0000000000000000 aaaaaaaaaaaaaaaa 00000000
             02000c0044006f006d00610069006e00 01000c005300650072007600650072000000 0000 00000000");
        let mut nt = hex("68cd0ab851e51c96aabc927bebef6a1c");
        nt.extend_from_slice(&temp);
        let user = utf16le("User");
        let domain = utf16le("Domain");
        let header = 64usize;
        let mut msg = b"NTLMSSP\0".to_vec();
        msg.extend_from_slice(&3u32.to_le_bytes());
        let mut payload = Vec::new();
        let mut put = |msg: &mut Vec<u8>, data: &[u8]| {
            let offset = (header + payload.len()) as u32;
            msg.extend_from_slice(&(data.len() as u16).to_le_bytes());
            msg.extend_from_slice(&(data.len() as u16).to_le_bytes());
            msg.extend_from_slice(&offset.to_le_bytes());
            payload.extend_from_slice(data);
        };
        put(&mut msg, &[]); // LM
        put(&mut msg, &nt);
        put(&mut msg, &domain);
        put(&mut msg, &user);
        put(&mut msg, &[]); // workstation
        put(&mut msg, &[]); // session key
        msg.extend_from_slice(&NEGOTIATE_UNICODE.to_le_bytes());
        assert_eq!(msg.len(), header);
        msg.extend_from_slice(&payload);
        assert!(verify_ntlmv2(&challenge, &msg, "Password"));
        assert!(!verify_ntlmv2(&challenge, &msg, "password"));
    }

    #[test]
    fn garbage_is_refused() {
        assert!(!verify_ntlmv2(b"", b"", "x"));
        assert!(!verify_ntlmv2(
            b"NTLMSSP\0\x02\0\0\0",
            b"NTLMSSP\0\x03\0\0\0",
            "x"
        ));
    }
}
