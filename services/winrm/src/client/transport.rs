//! HTTP transport: TCP/TLS connections, NTLM or Basic authentication per connection,
//! sealing, and a small pool of authenticated keep-alive connections.
//!
//! The NTLM context belongs to the TCP connection, so a connection is authenticated once
//! (empty-body handshake, pywinrm's way) and then reused; a request checks one out for its
//! whole exchange (a Receive long poll holds one). A connection that fails is dropped and
//! the next checkout authenticates a new one.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tracing::debug;
use url::Url;

use super::config::{AuthMethod, ClientConfig, NETWORK_DELAY};
use super::error::{Error, TimeoutKind, excerpt};
use crate::encryption;
use crate::ns;
use crate::ntlm::{NtlmClient, SealingContext};

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// One authenticated HTTP/1.1 connection.
struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
    sealing: Option<SealingContext>,
    task: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A plaintext HTTP response.
pub(crate) struct HttpResponse {
    pub status: StatusCode,
    pub body: Bytes,
}

pub(crate) struct Transport {
    url: Url,
    endpoint: String,
    host: String,
    port: u16,
    host_header: HeaderValue,
    config: ClientConfig,
    tls: Option<tokio_rustls::TlsConnector>,
    /// Idle connections, the most recently used last, each with when it was put back.
    idle: Mutex<Vec<(Conn, tokio::time::Instant)>>,
    permits: Semaphore,
}

/// The most a pooled connection's read buffer grows to. An idle connection keeps its
/// buffer, and a host has one between refreshes: left to grow with 40–200 KB agent
/// answers, that is ~100 KB per host held for nothing; bodies are read in pieces anyway.
const READ_BUFFER_LIMIT: usize = 16 * 1024;

const MAX_RESPONSE_BYTES_FLOOR: usize = 1024 * 1024;

fn load_roots(config: &ClientConfig) -> Result<rustls::RootCertStore, Error> {
    let mut roots = rustls::RootCertStore::empty();
    let bad = |reason: String| Error::Config {
        field: "ca_file",
        reason,
    };
    match &config.ca_file {
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
            let mut reader = io::BufReader::new(pem.as_slice());
            let mut n = 0;
            for cert in rustls_pemfile::certs(&mut reader) {
                let cert = cert.map_err(|e| bad(format!("{} is not pem: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| bad(format!("certificate in {} rejected: {e}", path.display())))?;
                n += 1;
            }
            if n == 0 {
                return Err(bad(format!("{} holds no certificate", path.display())));
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for cert in native.certs {
                let _ = roots.add(cert);
            }
        }
    }
    Ok(roots)
}

fn tls_connector(config: &ClientConfig) -> Result<tokio_rustls::TlsConnector, Error> {
    let roots = load_roots(config)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config {
            field: "endpoint",
            reason: format!("tls setup: {e}"),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(tls)))
}

impl Transport {
    pub(crate) fn new(config: ClientConfig) -> Result<Transport, Error> {
        let url = config.validate()?;
        let host = url
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_owned();
        let port = url.port_or_known_default().unwrap_or(5985);
        let host_header = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let host_header = HeaderValue::from_str(&host_header).map_err(|_| Error::Config {
            field: "endpoint",
            reason: "host is not a valid header".into(),
        })?;
        let tls = (url.scheme() == "https")
            .then(|| tls_connector(&config))
            .transpose()?;
        Ok(Transport {
            endpoint: url.to_string(),
            url,
            host,
            port,
            host_header,
            permits: Semaphore::new(config.max_connections),
            config,
            tls,
            idle: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub(crate) fn config(&self) -> &ClientConfig {
        &self.config
    }

    fn max_response_bytes(&self) -> usize {
        (self.config.max_envelope_size as usize * 4).max(MAX_RESPONSE_BYTES_FLOOR)
    }

    fn request_timeout(&self) -> Duration {
        self.config.operation_timeout + NETWORK_DELAY
    }

    fn timeout_error(&self, kind: TimeoutKind, d: Duration) -> Error {
        Error::Timeout {
            kind,
            endpoint: self.endpoint.clone(),
            seconds: d.as_secs_f64(),
        }
    }

    async fn connect_io(&self) -> Result<Box<dyn Io>, Error> {
        let connect =
            async {
                let tcp = TcpStream::connect((self.host.as_str(), self.port))
                    .await
                    .map_err(|source| Error::Connect {
                        endpoint: self.endpoint.clone(),
                        source,
                    })?;
                let _ = tcp.set_nodelay(true);
                let io: Box<dyn Io> =
                    match &self.tls {
                        None => Box::new(tcp),
                        Some(connector) => {
                            let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                                .map_err(|e| Error::Config {
                                field: "endpoint",
                                reason: format!("host is not a tls server name: {e}"),
                            })?;
                            let stream = connector.connect(name, tcp).await.map_err(|source| {
                                Error::Tls {
                                    endpoint: self.endpoint.clone(),
                                    source,
                                }
                            })?;
                            Box::new(stream)
                        }
                    };
                Ok(io)
            };
        tokio::time::timeout(self.config.connect_timeout, connect)
            .await
            .map_err(|_| self.timeout_error(TimeoutKind::Connect, self.config.connect_timeout))?
    }

    async fn open(&self) -> Result<Conn, Error> {
        let io = self.connect_io().await?;
        let (sender, conn) = http1::Builder::new()
            .max_buf_size(READ_BUFFER_LIMIT)
            .handshake(TokioIo::new(io))
            .await
            .map_err(|e| Error::Connect {
                endpoint: self.endpoint.clone(),
                source: io::Error::other(e),
            })?;
        let task = tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut conn = Conn {
            sender,
            sealing: None,
            task,
        };
        if self.config.auth == AuthMethod::Ntlm {
            self.ntlm_handshake(&mut conn).await?;
        }
        debug!(endpoint = %self.endpoint, "winrm connection established");
        Ok(conn)
    }

    fn request(
        &self,
        body: Bytes,
        content_type: Option<&'static str>,
    ) -> Result<Request<Full<Bytes>>, Error> {
        let mut b = Request::post(self.url.as_str())
            .header(header::HOST, self.host_header.clone())
            .header(header::USER_AGENT, "aetherv-winrm")
            .header(header::CONTENT_LENGTH, body.len());
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(Full::new(body)).map_err(|e| Error::Config {
            field: "endpoint",
            reason: format!("cannot build a request: {e}"),
        })
    }

    async fn roundtrip(
        &self,
        conn: &mut Conn,
        req: Request<Full<Bytes>>,
    ) -> Result<(http::response::Parts, Bytes), Error> {
        // NotConnected marks a request that never left (safe to retry on a new connection).
        let io_err = |e: hyper::Error, unsent: bool| Error::Connect {
            endpoint: self.endpoint.clone(),
            source: if unsent {
                io::Error::new(io::ErrorKind::NotConnected, e)
            } else {
                io::Error::other(e)
            },
        };
        conn.sender.ready().await.map_err(|e| io_err(e, true))?;
        let resp = conn.sender.send_request(req).await.map_err(|e| {
            let unsent = e.is_canceled();
            io_err(e, unsent)
        })?;
        let (parts, body) = resp.into_parts();
        let limit = self.max_response_bytes();
        let body = Limited::new(body, limit)
            .collect()
            .await
            .map_err(|e| Error::Connect {
                endpoint: self.endpoint.clone(),
                source: io::Error::other(e.to_string()),
            })?
            .to_bytes();
        Ok((parts, body))
    }

    fn auth_failed(&self, reason: &str) -> Error {
        Error::Authentication {
            endpoint: self.endpoint.clone(),
            reason: reason.to_owned(),
        }
    }

    async fn ntlm_handshake(&self, conn: &mut Conn) -> Result<(), Error> {
        let auth_err = |e: crate::ntlm::AuthError| self.auth_failed(&e.to_string());
        let mut ctx = NtlmClient::new(
            &self.config.username,
            self.config.password.expose(),
            &self.host,
        )
        .map_err(auth_err)?;
        let t1 = ctx.step(None).map_err(auth_err)?;
        let mut req = self.request(Bytes::new(), Some(ns::SOAP_CONTENT_TYPE))?;
        set_auth(&mut req, &format!("Negotiate {}", B64.encode(&t1)))?;
        let (parts, body) = self.roundtrip(conn, req).await?;
        if parts.status != StatusCode::UNAUTHORIZED {
            return Err(self.unexpected(parts.status, &body));
        }
        let t2 = challenge_token(&parts.headers)
            .ok_or_else(|| self.auth_failed("server sent no ntlm challenge"))?;
        let t3 = ctx.step(Some(&t2)).map_err(auth_err)?;
        let mut req = self.request(Bytes::new(), Some(ns::SOAP_CONTENT_TYPE))?;
        set_auth(&mut req, &format!("Negotiate {}", B64.encode(&t3)))?;
        let (parts, body) = self.roundtrip(conn, req).await?;
        if parts.status == StatusCode::UNAUTHORIZED {
            return Err(self.auth_failed("credentials rejected (http 401)"));
        }
        if !parts.status.is_success() {
            return Err(self.unexpected(parts.status, &body));
        }
        if self.tls.is_none() {
            conn.sealing = Some(ctx.into_sealing());
        }
        Ok(())
    }

    fn unexpected(&self, status: StatusCode, body: &[u8]) -> Error {
        Error::Http {
            endpoint: self.endpoint.clone(),
            status: status.as_u16(),
            snippet: excerpt(body),
        }
    }

    /// An idle connection (`true`: reused) or a newly authenticated one.
    async fn checkout(&self) -> Result<(Conn, bool), Error> {
        loop {
            let idle = self.idle.lock().map(|mut v| v.pop()).unwrap_or(None);
            match idle.map(|(conn, _)| conn) {
                Some(conn) if !conn.sender.is_closed() => return Ok((conn, true)),
                Some(_) => continue,
                None => return Ok((self.open().await?, false)),
            }
        }
    }

    fn release(&self, conn: Conn) {
        if conn.sender.is_closed() {
            return;
        }
        let now = tokio::time::Instant::now();
        let surplus: Vec<(Conn, tokio::time::Instant)> = match self.idle.lock() {
            Ok(mut idle) => {
                if idle.len() < self.config.max_connections {
                    idle.push((conn, now));
                }
                // The least recently used sit first; reuse takes from the end. A burst (cold
                // start, several jobs on one host) opens up to max_connections; afterwards a
                // host needs one for its refreshes (and one more while a watch's Receive
                // holds another), so the rest are closed rather than kept for good (~23 KB
                // each, and the host's side of them).
                let stale = idle
                    .iter()
                    .take(idle.len().saturating_sub(1))
                    .take_while(|(_, at)| now.duration_since(*at) > self.config.surplus_idle)
                    .count();
                idle.drain(..stale).collect()
            }
            Err(_) => Vec::new(),
        };
        if !surplus.is_empty() {
            debug!(endpoint = %self.endpoint, closed = surplus.len(), "closing surplus idle connections");
        }
        // Dropped outside the lock: each drop ends its connection's task.
        drop(surplus);
    }

    /// Sends one SOAP envelope and returns the plaintext response.
    pub(crate) async fn exchange(&self, soap: String) -> Result<HttpResponse, Error> {
        let _permit = self.permits.acquire().await.map_err(|_| Error::Cancelled)?;
        let timeout = self.request_timeout();
        // Shared, not copied, with the one retry below (a Send carries ~50 KB).
        let plain = Bytes::from(soap.into_bytes());
        let fut = async {
            let (mut conn, reused) = self.checkout().await?;
            let mut result = self.exchange_on(&mut conn, plain.clone()).await;
            if reused
                && matches!(&result, Err(Error::Connect { source, .. }) if source.kind() == io::ErrorKind::NotConnected)
            {
                // The host closed the idle connection before our request went out: a new
                // connection (and NTLM handshake) cannot run the request twice.
                debug!(endpoint = %self.endpoint, "pooled connection was closed; using a new one");
                conn = self.open().await?;
                result = self.exchange_on(&mut conn, plain).await;
            }
            if result.is_ok() {
                self.release(conn);
            }
            result
        };
        tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| self.timeout_error(TimeoutKind::Request, timeout))?
    }

    async fn exchange_on(&self, conn: &mut Conn, plain: Bytes) -> Result<HttpResponse, Error> {
        let mut req = match conn.sealing.as_mut() {
            Some(ctx) => {
                let sealed = ctx
                    .encrypt_body(&plain)
                    .map_err(|e| self.auth_failed(&e.to_string()))?;
                self.request(Bytes::from(sealed), Some(encryption::CONTENT_TYPE))?
            }
            None => self.request(plain, Some(ns::SOAP_CONTENT_TYPE))?,
        };
        if self.config.auth == AuthMethod::Basic {
            let creds = format!("{}:{}", self.config.username, self.config.password.expose());
            set_auth(&mut req, &format!("Basic {}", B64.encode(creds)))?;
        }
        let (parts, body) = self.roundtrip(conn, req).await?;
        debug!(endpoint = %self.endpoint, status = parts.status.as_u16(), bytes = body.len(), "winrm response");
        if parts.status == StatusCode::UNAUTHORIZED {
            return Err(self.auth_failed("credentials rejected (http 401)"));
        }
        let ct = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let body = if encryption::is_encrypted_content_type(ct) {
            let ctx = conn.sealing.as_mut().ok_or_else(|| {
                Error::protocol(
                    &self.endpoint,
                    "encrypted response on an unsealed session",
                    &body,
                )
            })?;
            ctx.decrypt_body(&body).map(Bytes::from).map_err(|e| {
                Error::protocol(
                    &self.endpoint,
                    format!("cannot decrypt the response: {e}"),
                    &body,
                )
            })?
        } else {
            if conn.sealing.is_some() && !body.is_empty() {
                return Err(Error::protocol(
                    &self.endpoint,
                    "plaintext response on a sealed session",
                    &body,
                ));
            }
            body
        };
        Ok(HttpResponse {
            status: parts.status,
            body,
        })
    }
}

fn set_auth(req: &mut Request<Full<Bytes>>, value: &str) -> Result<(), Error> {
    let mut v = HeaderValue::from_str(value).map_err(|_| Error::Config {
        field: "username",
        reason: "cannot be sent in an http header".into(),
    })?;
    v.set_sensitive(true);
    req.headers_mut().insert(header::AUTHORIZATION, v);
    Ok(())
}

/// The token of a `WWW-Authenticate: Negotiate <b64>` (or `NTLM <b64>`) challenge.
pub(crate) fn challenge_token(headers: &http::HeaderMap) -> Option<Vec<u8>> {
    headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .find_map(|v| {
            let v = v.to_str().ok()?.trim();
            let (scheme, token) = v.split_once(' ')?;
            if scheme.eq_ignore_ascii_case("Negotiate") || scheme.eq_ignore_ascii_case("NTLM") {
                B64.decode(token.trim()).ok()
            } else {
                None
            }
        })
}
