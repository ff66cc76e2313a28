//! TLS for the server: a throwaway CA and a server certificate for a set of names/IPs
//! (rcgen), written out as PEM for clients to trust, and the tokio-rustls acceptor.

use std::path::Path;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

use super::ServerError;

/// A CA and a server certificate it signed, all in memory.
#[derive(Clone)]
pub struct SelfSignedCert {
    /// PEM of the CA certificate: what a client trusts (`ca_file`).
    pub ca_pem: String,
    /// PEM of the server certificate.
    pub cert_pem: String,
    /// PEM (PKCS#8) of the server's private key.
    pub key_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl std::fmt::Debug for SelfSignedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfSignedCert")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

fn tls_err(what: &str) -> impl Fn(rcgen::Error) -> ServerError + '_ {
    move |e| ServerError::Tls(format!("{what}: {e}"))
}

impl SelfSignedCert {
    /// Makes a CA and a server certificate whose subject alternative names are `names`
    /// (DNS names or IP addresses, e.g. `["localhost", "127.0.10.1"]`).
    pub fn generate(names: &[String]) -> Result<SelfSignedCert, ServerError> {
        if names.is_empty() {
            return Err(ServerError::Config {
                field: "tls names",
                reason: "at least one name is needed".into(),
            });
        }
        let ca_key = KeyPair::generate().map_err(tls_err("ca key"))?;
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).map_err(tls_err("ca params"))?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Aether-V test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .map_err(tls_err("ca certificate"))?;
        let issuer = Issuer::new(ca_params, ca_key);

        let key = KeyPair::generate().map_err(tls_err("server key"))?;
        let mut params = CertificateParams::new(names.to_vec()).map_err(tls_err("server names"))?;
        params
            .distinguished_name
            .push(DnType::CommonName, names[0].clone());
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(tls_err("server certificate"))?;
        Ok(SelfSignedCert {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        })
    }

    /// Writes the CA certificate (what clients trust) as PEM.
    pub fn write_ca_pem(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, &self.ca_pem)
    }

    /// Writes the server certificate and key as PEM.
    pub fn write_server_pem(&self, cert_path: &Path, key_path: &Path) -> std::io::Result<()> {
        std::fs::write(cert_path, &self.cert_pem)?;
        std::fs::write(key_path, &self.key_pem)
    }

    /// A TLS acceptor serving this certificate.
    pub fn acceptor(&self) -> Result<TlsAcceptor, ServerError> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        acceptor_from_der(vec![self.cert_der.clone()], key)
    }
}

fn acceptor_from_der(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<TlsAcceptor, ServerError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A TLS acceptor from PEM text of a certificate chain and its private key.
pub fn acceptor_from_pem(cert_pem: &str, key_pem: &str) -> Result<TlsAcceptor, ServerError> {
    let chain = rustls_pemfile::certs(&mut cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServerError::Tls(format!("certificate pem: {e}")))?;
    if chain.is_empty() {
        return Err(ServerError::Tls(
            "certificate pem holds no certificate".into(),
        ));
    }
    let key = rustls_pemfile::private_key(&mut key_pem.as_bytes())
        .map_err(|e| ServerError::Tls(format!("key pem: {e}")))?
        .ok_or_else(|| ServerError::Tls("key pem holds no private key".into()))?;
    acceptor_from_der(chain, key)
}
