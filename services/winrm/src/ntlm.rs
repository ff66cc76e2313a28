//! NTLM through Devolutions `sspi`: the client context (raw NTLM tokens under the
//! `Negotiate` HTTP scheme, like pywinrm), the acceptor (raw NTLM or SPNEGO-wrapped NTLM,
//! several users), and sealing of message bodies for [`crate::encryption`].

use sspi::ntlm::NtlmConfig;
use sspi::{
    AuthIdentity, BufferType, ClientRequestFlags, CredentialUse, DataRepresentation,
    EncryptionFlags, Negotiate, NegotiateConfig, Ntlm, SecurityBuffer, SecurityBufferRef,
    SecurityStatus, ServerRequestFlags, Sspi, SspiEx, SspiImpl, Username,
};

use crate::encryption::{self, FramingError};
use crate::ntlm_seal::{FastSeal, UnsealError};
use crate::ntlm_verify::verify_ntlmv2;

/// The NTLM message signature prefix.
const NTLM_SIGNATURE: &[u8] = b"NTLMSSP\0";
/// Size of an NTLM message signature (the MS-WSMV header).
const NTLM_SIGNATURE_LEN: usize = 16;

/// An NTLM or sealing failure. Never carries a password or a token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("username `{0}` is not a valid windows user name")]
    BadUsername(String),
    #[error("ntlm {stage} failed: {kind:?}")]
    Sspi {
        stage: &'static str,
        kind: sspi::ErrorKind,
    },
    #[error("authentication token is neither ntlm nor spnego")]
    UnknownToken,
    #[error("ntlm authentication finished without a token to send")]
    NoToken,
    #[error("credentials were not accepted")]
    LogonDenied,
    #[error("ntlm unseal failed: {0}")]
    Unseal(#[from] UnsealError),
    #[error("encrypted body framing")]
    Framing(#[from] FramingError),
    #[error("decrypted body is {actual} bytes but Length= said {declared}")]
    LengthMismatch { declared: usize, actual: usize },
}

fn sspi_err(stage: &'static str) -> impl Fn(sspi::Error) -> AuthError {
    move |e| AuthError::Sspi {
        stage,
        kind: e.error_type,
    }
}

fn identity(username: &str, password: &str) -> Result<AuthIdentity, AuthError> {
    let username =
        Username::parse(username).map_err(|_| AuthError::BadUsername(username.to_owned()))?;
    Ok(AuthIdentity {
        username,
        password: password.to_owned().into(),
    })
}

/// A security context that can seal and unseal WinRM bodies.
pub(crate) enum SealingContext {
    Ntlm(Box<Ntlm>),
    Negotiate(Box<Negotiate>),
    /// The context's keys, sealing in place ([`crate::ntlm_seal`]).
    Fast(Box<FastSeal>),
}

pub(crate) fn seal_with<S: Sspi>(
    ctx: &mut S,
    plaintext: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), AuthError> {
    let mut token = vec![0u8; NTLM_SIGNATURE_LEN];
    let mut data = plaintext.to_vec();
    let mut bufs = [
        SecurityBufferRef::token_buf(&mut token),
        SecurityBufferRef::data_buf(&mut data),
    ];
    ctx.encrypt_message(EncryptionFlags::empty(), &mut bufs)
        .map_err(sspi_err("seal"))?;
    let header = bufs[0].data().to_vec();
    let sealed = bufs[1].data().to_vec();
    Ok((header, sealed))
}

pub(crate) fn unseal_with<S: Sspi>(
    ctx: &mut S,
    header: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, AuthError> {
    let mut token = header.to_vec();
    let mut data = sealed.to_vec();
    let mut bufs = [
        SecurityBufferRef::token_buf(&mut token),
        SecurityBufferRef::data_buf(&mut data),
    ];
    ctx.decrypt_message(&mut bufs).map_err(sspi_err("unseal"))?;
    Ok(bufs[1].data().to_vec())
}

impl SealingContext {
    /// Seals a plaintext body into a framed `multipart/encrypted` body.
    pub(crate) fn encrypt_body(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, AuthError> {
        let (header, sealed) = match self {
            SealingContext::Ntlm(c) => seal_with(c.as_mut(), plaintext)?,
            SealingContext::Negotiate(c) => seal_with(c.as_mut(), plaintext)?,
            SealingContext::Fast(c) => {
                return Ok(encryption::encode_sealed_in_place(plaintext, |body| {
                    c.seal(body)
                }));
            }
        };
        Ok(encryption::encode(&header, &sealed, plaintext.len()))
    }

    /// Unframes and unseals an encrypted body; checks the length against `Length=`.
    pub(crate) fn decrypt_body(&mut self, body: &[u8]) -> Result<Vec<u8>, AuthError> {
        let parts = encryption::decode(body)?;
        let plain = match self {
            SealingContext::Ntlm(c) => unseal_with(c.as_mut(), &parts.header, &parts.sealed)?,
            SealingContext::Negotiate(c) => unseal_with(c.as_mut(), &parts.header, &parts.sealed)?,
            SealingContext::Fast(c) => {
                let mut data = parts.sealed;
                c.unseal(&parts.header, &mut data)
                    .map_err(AuthError::Unseal)?;
                data
            }
        };
        if plain.len() != parts.length {
            return Err(AuthError::LengthMismatch {
                declared: parts.length,
                actual: plain.len(),
            });
        }
        Ok(plain)
    }
}

/// The client side of an NTLM handshake.
pub(crate) struct NtlmClient {
    ntlm: Box<Ntlm>,
    creds: Option<sspi::AuthIdentityBuffers>,
    target: String,
}

impl NtlmClient {
    /// A new context for `username` (`user`, `DOMAIN\user` or `user@domain`) at `host`.
    pub(crate) fn new(username: &str, password: &str, host: &str) -> Result<Self, AuthError> {
        let id = identity(username, password)?;
        let mut ntlm = Box::new(Ntlm::new());
        let creds = ntlm
            .acquire_credentials_handle()
            .with_credential_use(CredentialUse::Outbound)
            .with_auth_data(&id)
            .execute(ntlm.as_mut())
            .map_err(sspi_err("credentials"))?
            .credentials_handle;
        Ok(NtlmClient {
            ntlm,
            creds,
            target: format!("HTTP/{host}"),
        })
    }

    /// One step: `None` for the Type-1 message, then the server's Type-2 for the Type-3.
    pub(crate) fn step(&mut self, input: Option<&[u8]>) -> Result<Vec<u8>, AuthError> {
        let mut output = vec![SecurityBuffer::new(Vec::new(), BufferType::Token)];
        let mut input_bufs =
            input.map(|i| vec![SecurityBuffer::new(i.to_vec(), BufferType::Token)]);
        let flags = ClientRequestFlags::CONFIDENTIALITY
            | ClientRequestFlags::INTEGRITY
            | ClientRequestFlags::ALLOCATE_MEMORY;
        let mut builder = self
            .ntlm
            .initialize_security_context()
            .with_credentials_handle(&mut self.creds)
            .with_context_requirements(flags)
            .with_target_data_representation(DataRepresentation::Native)
            .with_target_name(&self.target)
            .with_output(&mut output);
        if let Some(bufs) = input_bufs.as_mut() {
            builder = builder.with_input(bufs);
        }
        let result = self
            .ntlm
            .initialize_security_context_impl(&mut builder)
            .map_err(sspi_err("initialize"))?
            .resolve_to_result()
            .map_err(sspi_err("initialize"))?;
        if matches!(
            result.status,
            SecurityStatus::CompleteNeeded | SecurityStatus::CompleteAndContinue
        ) {
            self.ntlm
                .complete_auth_token(&mut output)
                .map_err(sspi_err("complete"))?;
        }
        let token = output
            .into_iter()
            .next()
            .map(|b| b.buffer)
            .unwrap_or_default();
        if token.is_empty() {
            return Err(AuthError::NoToken);
        }
        Ok(token)
    }

    /// The established context, for sealing.
    pub(crate) fn into_sealing(self) -> SealingContext {
        match FastSeal::for_context(self.ntlm.as_ref(), true) {
            Some(fast) => SealingContext::Fast(Box::new(fast)),
            None => SealingContext::Ntlm(self.ntlm),
        }
    }
}

/// A configured user the acceptor checks credentials against.
#[derive(Clone)]
pub(crate) struct AcceptorUser {
    pub(crate) username: String,
    pub(crate) password: String,
}

/// The outcome of one acceptor step.
pub(crate) enum AcceptStep {
    /// Send this token back in a 401 and wait for the next one.
    Continue(Vec<u8>),
    /// Authenticated as `user`; send the final token (if any) on the 200.
    Done {
        user: String,
        final_token: Option<Vec<u8>>,
    },
}

enum AcceptorInner {
    Ntlm(Box<Ntlm>),
    Negotiate(Box<Negotiate>),
}

/// The server side of an NTLM handshake (raw NTLM or SPNEGO-wrapped NTLM).
pub(crate) struct NtlmAcceptor {
    inner: AcceptorInner,
    /// The CHALLENGE message sent on the raw-NTLM path, for the NTLMv2 response check.
    challenge: Option<Vec<u8>>,
}

fn account_of(username: &str) -> &str {
    let after_domain = username.rsplit_once('\\').map_or(username, |(_, u)| u);
    after_domain
        .split_once('@')
        .map_or(after_domain, |(u, _)| u)
}

fn accept_step<S>(
    ctx: &mut S,
    creds: &mut S::CredentialsHandle,
    token: &[u8],
) -> Result<(SecurityStatus, Vec<u8>), AuthError>
where
    S: Sspi,
{
    let mut input = vec![SecurityBuffer::new(token.to_vec(), BufferType::Token)];
    let mut output = vec![SecurityBuffer::new(Vec::new(), BufferType::Token)];
    let builder = ctx
        .accept_security_context()
        .with_credentials_handle(creds)
        .with_context_requirements(ServerRequestFlags::ALLOCATE_MEMORY)
        .with_target_data_representation(DataRepresentation::Native)
        .with_input(&mut input)
        .with_output(&mut output);
    let result = ctx
        .accept_security_context_impl(builder)
        .map_err(sspi_err("accept"))?
        .resolve_to_result()
        .map_err(sspi_err("accept"))?;
    let out = output
        .into_iter()
        .next()
        .map(|b| b.buffer)
        .unwrap_or_default();
    Ok((result.status, out))
}

impl NtlmAcceptor {
    /// A new acceptor, choosing raw NTLM or SPNEGO from the first token.
    pub(crate) fn for_first_token(
        token: &[u8],
        users: &[AcceptorUser],
        computer_name: &str,
    ) -> Result<Self, AuthError> {
        let inner = if token.starts_with(NTLM_SIGNATURE) {
            AcceptorInner::Ntlm(Box::new(Ntlm::new()))
        } else if token.first() == Some(&0x60) {
            let identities = users
                .iter()
                .map(|u| identity(&u.username, &u.password))
                .collect::<Result<Vec<_>, _>>()?;
            let config = NegotiateConfig::new(
                Box::new(NtlmConfig::new(computer_name.to_owned())),
                Some("ntlm".to_owned()),
                computer_name.to_owned(),
            );
            let neg = Negotiate::new_server(config, identities).map_err(sspi_err("negotiate"))?;
            AcceptorInner::Negotiate(Box::new(neg))
        } else {
            return Err(AuthError::UnknownToken);
        };
        Ok(NtlmAcceptor {
            inner,
            challenge: None,
        })
    }

    /// Feeds one client token.
    pub(crate) fn step(
        &mut self,
        token: &[u8],
        users: &[AcceptorUser],
    ) -> Result<AcceptStep, AuthError> {
        match &mut self.inner {
            AcceptorInner::Ntlm(ntlm) => {
                let mut creds = None;
                let (status, out) = accept_step(ntlm.as_mut(), &mut creds, token)?;
                match status {
                    SecurityStatus::ContinueNeeded => {
                        self.challenge = Some(out.clone());
                        Ok(AcceptStep::Continue(out))
                    }
                    SecurityStatus::CompleteNeeded
                    | SecurityStatus::CompleteAndContinue
                    | SecurityStatus::Ok => {
                        let wire = ntlm
                            .query_context_names()
                            .map_err(|_| AuthError::LogonDenied)?;
                        let wire_account = account_of(wire.username.inner()).to_owned();
                        let matching: Vec<&AcceptorUser> = users
                            .iter()
                            .filter(|u| account_of(&u.username).eq_ignore_ascii_case(&wire_account))
                            .collect();
                        let challenge = self.challenge.as_deref().unwrap_or_default();
                        if !matching
                            .iter()
                            .any(|u| verify_ntlmv2(challenge, token, &u.password))
                        {
                            return Err(AuthError::LogonDenied);
                        }
                        let candidates = matching
                            .iter()
                            .map(|u| identity(&u.username, &u.password))
                            .collect::<Result<Vec<_>, _>>()?;
                        if candidates.is_empty() {
                            return Err(AuthError::LogonDenied);
                        }
                        ntlm.custom_set_auth_identities(candidates)
                            .map_err(|_| AuthError::LogonDenied)?;
                        ntlm.complete_auth_token(&mut [])
                            .map_err(|_| AuthError::LogonDenied)?;
                        Ok(AcceptStep::Done {
                            user: wire_account,
                            final_token: None,
                        })
                    }
                    _ => Err(AuthError::LogonDenied),
                }
            }
            AcceptorInner::Negotiate(neg) => {
                let mut creds: Option<sspi::CredentialsBuffers> = None;
                let (status, out) =
                    accept_step(neg.as_mut(), &mut creds, token).map_err(|e| match e {
                        AuthError::Sspi {
                            stage: "accept", ..
                        } => AuthError::LogonDenied,
                        other => other,
                    })?;
                match status {
                    SecurityStatus::ContinueNeeded => Ok(AcceptStep::Continue(out)),
                    SecurityStatus::Ok | SecurityStatus::CompleteNeeded => {
                        if status == SecurityStatus::CompleteNeeded {
                            neg.complete_auth_token(&mut [])
                                .map_err(|_| AuthError::LogonDenied)?;
                        }
                        let names = neg
                            .query_context_names()
                            .map_err(|_| AuthError::LogonDenied)?;
                        let account = account_of(names.username.inner()).to_owned();
                        if !users
                            .iter()
                            .any(|u| account_of(&u.username).eq_ignore_ascii_case(&account))
                        {
                            return Err(AuthError::LogonDenied);
                        }
                        Ok(AcceptStep::Done {
                            user: account,
                            final_token: (!out.is_empty()).then_some(out),
                        })
                    }
                    _ => Err(AuthError::LogonDenied),
                }
            }
        }
    }

    /// The established context, for sealing.
    pub(crate) fn into_sealing(self) -> SealingContext {
        match self.inner {
            AcceptorInner::Ntlm(n) => match FastSeal::for_context(n.as_ref(), false) {
                Some(fast) => SealingContext::Fast(Box::new(fast)),
                None => SealingContext::Ntlm(n),
            },
            AcceptorInner::Negotiate(n) => match FastSeal::for_context(n.as_ref(), false) {
                Some(fast) => SealingContext::Fast(Box::new(fast)),
                None => SealingContext::Negotiate(n),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Vec<AcceptorUser> {
        vec![
            AcceptorUser {
                username: "vagrant".into(),
                password: "vagrant-pw".into(),
            },
            AcceptorUser {
                username: "DOMAIN\\other".into(),
                password: "other-pw".into(),
            },
        ]
    }

    fn handshake(
        user: &str,
        password: &str,
    ) -> Result<(NtlmClient, NtlmAcceptor, String), AuthError> {
        let users = users();
        let mut client = NtlmClient::new(user, password, "host")?;
        let t1 = client.step(None)?;
        let mut acceptor = NtlmAcceptor::for_first_token(&t1, &users, "SIM")?;
        let AcceptStep::Continue(t2) = acceptor.step(&t1, &users)? else {
            panic!("expected a challenge");
        };
        let t3 = client.step(Some(&t2))?;
        match acceptor.step(&t3, &users)? {
            AcceptStep::Done { user, .. } => Ok((client, acceptor, user)),
            AcceptStep::Continue(_) => panic!("expected done"),
        }
    }

    #[test]
    fn raw_ntlm_handshake_and_sealing_both_ways() {
        let (client, acceptor, user) = handshake("vagrant", "vagrant-pw").unwrap();
        assert_eq!(user, "vagrant");
        let mut c = client.into_sealing();
        let mut s = acceptor.into_sealing();
        for i in 0..3 {
            let msg = format!("<hello n=\"{i}\"/>");
            let body = c.encrypt_body(msg.as_bytes()).unwrap();
            assert!(
                !body.windows(5).any(|w| w == b"hello"),
                "body must be sealed"
            );
            assert_eq!(s.decrypt_body(&body).unwrap(), msg.as_bytes());
            let reply = s.encrypt_body(b"reply").unwrap();
            assert_eq!(c.decrypt_body(&reply).unwrap(), b"reply");
        }
    }

    /// After a real handshake both sides seal in place, and what they write and read is
    /// exactly what sspi's own sealing writes and reads.
    #[test]
    fn in_place_sealing_is_taken_and_agrees_with_sspi() {
        let (client, acceptor, _) = handshake("vagrant", "vagrant-pw").unwrap();
        let mut c_sspi = SealingContext::Ntlm(client.ntlm.clone());
        let AcceptorInner::Ntlm(server) = &acceptor.inner else {
            panic!("raw ntlm expected");
        };
        let mut s_sspi = SealingContext::Ntlm(server.clone());
        let mut s_mirror = SealingContext::Ntlm(server.clone());
        let mut c = client.into_sealing();
        let mut s = acceptor.into_sealing();
        assert!(
            matches!(c, SealingContext::Fast(_)),
            "client seals in place"
        );
        assert!(
            matches!(s, SealingContext::Fast(_)),
            "server seals in place"
        );
        for i in 0..3 {
            let msg = format!("<hello n=\"{i}\"/>").repeat(100 + i);
            let ours = c.encrypt_body(msg.as_bytes()).unwrap();
            let theirs = c_sspi.encrypt_body(msg.as_bytes()).unwrap();
            assert_eq!(ours, theirs, "client bodies are byte-identical");
            assert_eq!(s_mirror.decrypt_body(&ours).unwrap(), msg.as_bytes());
            assert_eq!(s.decrypt_body(&theirs).unwrap(), msg.as_bytes());
            let reply = s_sspi.encrypt_body(b"reply").unwrap();
            assert_eq!(s.encrypt_body(b"reply").unwrap(), reply);
            assert_eq!(c.decrypt_body(&reply).unwrap(), b"reply");
        }
        // A body sealed out of sequence is refused.
        let stale = c_sspi.encrypt_body(b"late").unwrap();
        let _skipped = c_sspi.encrypt_body(b"never sent").unwrap();
        let _ = c.encrypt_body(b"late").unwrap();
        assert!(s.decrypt_body(&stale).is_ok());
        assert!(matches!(
            s.decrypt_body(&stale),
            Err(AuthError::Unseal(UnsealError::Sequence { .. }))
        ));
    }

    #[test]
    fn domain_user_and_wrong_password() {
        assert!(handshake("DOMAIN\\other", "other-pw").is_ok());
        assert!(matches!(
            handshake("vagrant", "wrong"),
            Err(AuthError::LogonDenied)
        ));
        assert!(matches!(
            handshake("nobody", "vagrant-pw"),
            Err(AuthError::LogonDenied)
        ));
    }

    #[test]
    fn length_mismatch_is_refused() {
        let (client, acceptor, _) = handshake("vagrant", "vagrant-pw").unwrap();
        let mut c = client.into_sealing();
        let mut s = acceptor.into_sealing();
        let body = c.encrypt_body(b"abc").unwrap();
        let text = body.clone();
        let idx = text.windows(8).position(|w| w == b"Length=3").unwrap();
        let mut tampered = body;
        tampered[idx + 7] = b'4';
        assert!(matches!(
            s.decrypt_body(&tampered),
            Err(AuthError::LengthMismatch {
                declared: 4,
                actual: 3
            })
        ));
    }
}
