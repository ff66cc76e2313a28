//! NTLM message sealing done here instead of by sspi (MS-NLMP 3.4.4.2 and 3.4.3: extended
//! session security, 128-bit keys, key exchange — what sspi, Windows and pyspnego
//! negotiate). sspi's `encrypt_message`/`decrypt_message` copy the whole body several
//! times and run RC4 a byte at a time into a new vector; this seals in place.
//!
//! The keys come from sspi's exported session key; whether this module agrees with the
//! established sspi context is proven once per context, before any use, by sealing a
//! probe both ways on a clone of it ([`FastSeal::for_context`]). When it does not agree
//! (another negotiation), the caller keeps using sspi.

use md5::{Digest, Md5};
use sspi::{Sspi, SspiImpl};

const CLIENT_SIGN: &[u8] = b"session key to client-to-server signing key magic constant\0";
const SERVER_SIGN: &[u8] = b"session key to server-to-client signing key magic constant\0";
const CLIENT_SEAL: &[u8] = b"session key to client-to-server sealing key magic constant\0";
const SERVER_SEAL: &[u8] = b"session key to server-to-client sealing key magic constant\0";

/// The NTLM signature's version field.
const VERSION: [u8; 4] = [1, 0, 0, 0];

/// The probe sealed both ways to check agreement with sspi.
const PROBE: &[u8] = b"<probe>aetherv ntlm sealing agreement</probe>";

/// RC4, in place.
#[derive(Clone)]
struct Rc4 {
    i: u8,
    j: u8,
    s: [u8; 256],
}

impl Rc4 {
    fn new(key: &[u8]) -> Rc4 {
        let mut s = [0u8; 256];
        for (i, v) in s.iter_mut().enumerate() {
            *v = i as u8;
        }
        let mut j = 0u8;
        for i in 0..256 {
            j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len()]);
            s.swap(i, usize::from(j));
        }
        Rc4 { i: 0, j: 0, s }
    }

    fn apply(&mut self, data: &mut [u8]) {
        let (mut i, mut j, s) = (self.i, self.j, &mut self.s);
        for byte in data {
            i = i.wrapping_add(1);
            let si = s[usize::from(i)];
            j = j.wrapping_add(si);
            let sj = s[usize::from(j)];
            s[usize::from(i)] = sj;
            s[usize::from(j)] = si;
            *byte ^= s[usize::from(si.wrapping_add(sj))];
        }
        self.i = i;
        self.j = j;
    }
}

/// One direction's keys and sequence number.
#[derive(Clone)]
struct Direction {
    sign: [u8; 16],
    seal: Rc4,
    seq: u32,
}

impl Direction {
    fn new(session_key: &[u8], sign_magic: &[u8], seal_magic: &[u8]) -> Direction {
        let derive = |magic: &[u8]| -> [u8; 16] {
            let mut md5 = Md5::new();
            md5.update(session_key);
            md5.update(magic);
            md5.finalize().into()
        };
        Direction {
            sign: derive(sign_magic),
            seal: Rc4::new(&derive(seal_magic)),
            seq: 0,
        }
    }

    /// The checksum of `plaintext` under sequence number `seq`: the first 8 bytes of
    /// HMAC-MD5(signing key, seq ‖ plaintext) (RFC 2104 written out: the key is 16 bytes).
    fn checksum(&self, seq: u32, plaintext: &[u8]) -> [u8; 8] {
        let mut ipad = [0x36u8; 64];
        let mut opad = [0x5cu8; 64];
        for (k, (i, o)) in self.sign.iter().zip(ipad.iter_mut().zip(opad.iter_mut())) {
            *i ^= k;
            *o ^= k;
        }
        let mut inner = Md5::new();
        inner.update(ipad);
        inner.update(seq.to_le_bytes());
        inner.update(plaintext);
        let inner = inner.finalize();
        let mut outer = Md5::new();
        outer.update(opad);
        outer.update(inner);
        let digest = outer.finalize();
        let mut checksum = [0u8; 8];
        checksum.copy_from_slice(&digest[..8]);
        checksum
    }
}

/// Why a body did not unseal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UnsealError {
    #[error("ntlm signature is not 16 bytes")]
    SignatureLength,
    #[error("ntlm sequence number {got} where {expected} was expected")]
    Sequence { expected: u32, got: u32 },
    #[error("ntlm signature does not match the message")]
    Signature,
}

/// An established NTLM context's sealing, both directions.
#[derive(Clone)]
pub(crate) struct FastSeal {
    send: Direction,
    recv: Direction,
}

impl FastSeal {
    fn new(session_key: &[u8], client: bool) -> FastSeal {
        let to_server = Direction::new(session_key, CLIENT_SIGN, CLIENT_SEAL);
        let to_client = Direction::new(session_key, SERVER_SIGN, SERVER_SEAL);
        if client {
            FastSeal {
                send: to_server,
                recv: to_client,
            }
        } else {
            FastSeal {
                send: to_client,
                recv: to_server,
            }
        }
    }

    /// Seals `data` in place; returns the 16-byte signature.
    pub(crate) fn seal(&mut self, data: &mut [u8]) -> [u8; 16] {
        let seq = self.send.seq;
        self.send.seq = seq.wrapping_add(1);
        let mut checksum = self.send.checksum(seq, data);
        self.send.seal.apply(data);
        self.send.seal.apply(&mut checksum);
        let mut signature = [0u8; 16];
        signature[..4].copy_from_slice(&VERSION);
        signature[4..12].copy_from_slice(&checksum);
        signature[12..].copy_from_slice(&seq.to_le_bytes());
        signature
    }

    /// Unseals `data` in place and checks `signature`.
    pub(crate) fn unseal(&mut self, signature: &[u8], data: &mut [u8]) -> Result<(), UnsealError> {
        let signature: &[u8; 16] = signature
            .try_into()
            .map_err(|_| UnsealError::SignatureLength)?;
        let got = u32::from_le_bytes([signature[12], signature[13], signature[14], signature[15]]);
        let expected = self.recv.seq;
        self.recv.seq = expected.wrapping_add(1);
        if got != expected {
            return Err(UnsealError::Sequence { expected, got });
        }
        self.recv.seal.apply(data);
        let mut checksum = self.recv.checksum(got, data);
        self.recv.seal.apply(&mut checksum);
        if signature[..4] != VERSION || signature[4..12] != checksum {
            return Err(UnsealError::Signature);
        }
        Ok(())
    }

    /// Sealing for an established sspi context that has sealed nothing yet, when this
    /// module provably agrees with it: a clone of the context and this sealing each seal
    /// a probe that the other must unseal to the same bytes, in both directions.
    pub(crate) fn for_context<S>(context: &S, client: bool) -> Option<FastSeal>
    where
        S: Sspi + SspiImpl + Clone,
    {
        let mut theirs = context.clone();
        // sspi derives a server context's keys on its first seal; do that on the clone.
        let (header, sealed) = super::ntlm::seal_with(&mut theirs, PROBE).ok()?;
        let key = theirs.query_context_session_key().ok()?;
        let ours = FastSeal::new(key.session_key.as_ref(), client);
        // Our sending side matches theirs byte for byte.
        let mut mine = ours.clone();
        let mut data = PROBE.to_vec();
        let signature = mine.seal(&mut data);
        if signature.as_slice() != header.as_slice() || data != sealed {
            return None;
        }
        // What the peer would send, as we would seal it, unseals on their side.
        let mut peer = FastSeal::new(key.session_key.as_ref(), !client);
        let mut data = PROBE.to_vec();
        let signature = peer.seal(&mut data);
        let plain = super::ntlm::unseal_with(&mut theirs, &signature, &data).ok()?;
        (plain == PROBE).then_some(ours)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rc4_matches_the_published_vectors() {
        // RFC 6229-style vectors (Wikipedia's "Key"/"Plaintext" and "Wiki"/"pedia").
        let mut data = b"Plaintext".to_vec();
        Rc4::new(b"Key").apply(&mut data);
        assert_eq!(data, [0xBB, 0xF3, 0x16, 0xE8, 0xD9, 0x40, 0xAF, 0x0A, 0xD3]);
        let mut data = b"pedia".to_vec();
        Rc4::new(b"Wiki").apply(&mut data);
        assert_eq!(data, [0x10, 0x21, 0xBF, 0x04, 0x20]);
        // Split calls continue the key stream.
        let mut whole = b"Attack at dawn".to_vec();
        Rc4::new(b"Secret").apply(&mut whole);
        let mut split = b"Attack at dawn".to_vec();
        let mut rc4 = Rc4::new(b"Secret");
        let (a, b) = split.split_at_mut(5);
        rc4.apply(a);
        rc4.apply(b);
        assert_eq!(whole, split);
    }

    #[test]
    fn client_and_server_seal_for_each_other_and_refuse_tampering() {
        let key = [7u8; 16];
        let mut client = FastSeal::new(&key, true);
        let mut server = FastSeal::new(&key, false);
        for round in 0..3u8 {
            let text = vec![round; 1000 + usize::from(round)];
            let mut data = text.clone();
            let signature = client.seal(&mut data);
            assert_ne!(data, text);
            server.unseal(&signature, &mut data).unwrap();
            assert_eq!(data, text);
            let mut data = text.clone();
            let signature = server.seal(&mut data);
            client.unseal(&signature, &mut data).unwrap();
            assert_eq!(data, text);
        }
        let mut data = b"hello".to_vec();
        let signature = client.seal(&mut data);
        data[0] ^= 1;
        assert_eq!(
            server.clone().unseal(&signature, &mut data.clone()),
            Err(UnsealError::Signature)
        );
        let mut replay = signature;
        replay[12] = 0;
        assert_eq!(
            server.unseal(&replay, &mut data),
            Err(UnsealError::Sequence {
                expected: 3,
                got: 0
            })
        );
        assert_eq!(
            server.unseal(&[0; 3], &mut data),
            Err(UnsealError::SignatureLength)
        );
    }
}
