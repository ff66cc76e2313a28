//! The WinRM server: a listener the simulator (and this crate's tests) feed connections to.
//!
//! [`WinrmServer::serve_connection`] serves one accepted connection (plain HTTP), and
//! [`WinrmServer::serve_tls_connection`] one that needs a TLS handshake first; the embedder
//! owns the accept loop so it can refuse or black-hole connections. [`WinrmServer::serve`]
//! is the convenience accept loop. The process behind each Command comes from a
//! [`CommandHandler`].

mod dispatch;
mod handler;
mod http;
mod shells;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, broadcast};
use tokio_rustls::TlsAcceptor;
use tracing::debug;

pub use handler::{CommandHandler, CommandRequest, ProcessFuture, ProcessIo, ShellInfo};
pub use tls::{SelfSignedCert, acceptor_from_pem};

use crate::client::Password;
use crate::messages::Signal;
use crate::ntlm::AcceptorUser;

/// A server-side failure (setup or a connection).
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid winrm server setting `{field}`: {reason}")]
    Config { field: &'static str, reason: String },
    #[error("tls setup failed: {0}")]
    Tls(String),
    #[error("connection from {peer} failed")]
    Connection {
        peer: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A user the server accepts.
#[derive(Debug, Clone)]
pub struct ServerUser {
    /// Account name (`vagrant`) or `DOMAIN\account`; NTLM matches on the account name.
    pub username: String,
    pub password: Password,
}

impl ServerUser {
    pub fn new(username: impl Into<String>, password: impl Into<Password>) -> ServerUser {
        ServerUser {
            username: username.into(),
            password: password.into(),
        }
    }
}

/// Settings of a [`WinrmServer`].
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Users accepted by NTLM and Basic.
    pub users: Vec<ServerUser>,
    /// The host's name: `Machine` in faults, the NTLM target name.
    pub computer_name: String,
    /// Accept NTLM (raw or SPNEGO-wrapped) under `Negotiate`.
    pub allow_ntlm: bool,
    /// Accept Basic (on TLS connections only unless `allow_basic_over_http`).
    pub allow_basic: bool,
    /// Accept Basic on plain HTTP connections too.
    pub allow_basic_over_http: bool,
    /// Accept unsealed bodies on plain HTTP NTLM sessions (Windows' AllowUnencrypted).
    pub allow_unencrypted: bool,
    /// `MaxEnvelopeSizekb` (Windows ships 500).
    pub max_envelope_size_kb: u32,
    /// `MaxTimeoutms`: the cap on a request's OperationTimeout.
    pub max_timeout_ms: u64,
    /// Reported shell idle timeout when the client gives none.
    pub idle_timeout: Duration,
    /// URL path of the listener.
    pub path: String,
    /// Capacity (chunks) of each command's stdin/stdout/stderr pipe.
    pub stream_buffer: usize,
    /// Capacity of the [`ServerEvent`] broadcast (a subscriber that falls further behind
    /// misses the oldest). Kept small: a simulator runs one server per host, and the
    /// buffer is allocated up front.
    pub event_buffer: usize,
}

impl ServerConfig {
    /// Windows' defaults: NTLM and Basic (TLS only), AllowUnencrypted=false,
    /// MaxEnvelopeSizekb 500, MaxTimeoutms 60000, path `/wsman`.
    pub fn new(computer_name: impl Into<String>, users: Vec<ServerUser>) -> ServerConfig {
        ServerConfig {
            users,
            computer_name: computer_name.into(),
            allow_ntlm: true,
            allow_basic: true,
            allow_basic_over_http: false,
            allow_unencrypted: false,
            max_envelope_size_kb: 500,
            max_timeout_ms: 60_000,
            idle_timeout: Duration::from_secs(7200),
            path: "/wsman".into(),
            stream_buffer: 64,
            event_buffer: 256,
        }
    }

    fn validate(&self) -> Result<(), ServerError> {
        let bad = |field, reason: &str| ServerError::Config {
            field,
            reason: reason.to_owned(),
        };
        if self.users.is_empty() {
            return Err(bad("users", "at least one user is needed"));
        }
        for u in &self.users {
            if u.username.trim().is_empty() || u.username.contains(':') {
                return Err(bad("users", "a username is empty or contains ':'"));
            }
            if u.password.expose().is_empty() {
                return Err(bad("users", "a password is empty"));
            }
        }
        if self.computer_name.trim().is_empty() {
            return Err(bad("computer_name", "is empty"));
        }
        if !self.allow_ntlm && !self.allow_basic {
            return Err(bad("allow_ntlm", "no authentication scheme is enabled"));
        }
        if !(8..=65536).contains(&self.max_envelope_size_kb) {
            return Err(bad("max_envelope_size_kb", "must be between 8 and 65536"));
        }
        if self.max_timeout_ms < 100 {
            return Err(bad("max_timeout_ms", "must be at least 100"));
        }
        if !self.path.starts_with('/') {
            return Err(bad("path", "must start with '/'"));
        }
        if self.stream_buffer == 0 {
            return Err(bad("stream_buffer", "must be positive"));
        }
        if self.event_buffer == 0 {
            return Err(bad("event_buffer", "must be positive"));
        }
        Ok(())
    }
}

/// The authentication scheme a client used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    Negotiate,
    Basic,
}

/// What happened on the server, for tests and the simulator's diagnostics. Never carries
/// stdin contents or credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    Authenticated {
        peer: SocketAddr,
        user: String,
        scheme: AuthScheme,
    },
    AuthenticationFailed {
        peer: SocketAddr,
    },
    ShellCreated {
        shell_id: String,
        user: String,
    },
    CommandStarted {
        shell_id: String,
        command_id: String,
        command_line: String,
    },
    StdinReceived {
        shell_id: String,
        command_id: String,
        bytes: usize,
        end: bool,
    },
    ReceiveTimedOut {
        shell_id: String,
        command_id: String,
    },
    Signalled {
        shell_id: String,
        command_id: String,
        signal: Signal,
    },
    CommandFinished {
        shell_id: String,
        command_id: String,
        exit_code: i32,
    },
    ShellDeleted {
        shell_id: String,
    },
}

pub(crate) struct ServerInner {
    pub(crate) config: ServerConfig,
    pub(crate) handler: Arc<dyn CommandHandler>,
    pub(crate) shells: shells::Shells,
    pub(crate) events: broadcast::Sender<ServerEvent>,
    pub(crate) acceptor_users: Vec<AcceptorUser>,
}

impl ServerInner {
    pub(crate) fn basic_allowed(&self, secure: bool) -> bool {
        self.config.allow_basic && (secure || self.config.allow_basic_over_http)
    }
}

/// A WinRM listener. Cheap to clone; clones share shells and handler.
#[derive(Clone)]
pub struct WinrmServer {
    inner: Arc<ServerInner>,
}

impl std::fmt::Debug for WinrmServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WinrmServer")
            .field("computer_name", &self.inner.config.computer_name)
            .finish()
    }
}

impl WinrmServer {
    /// Validates the configuration and builds the server.
    pub fn new(
        config: ServerConfig,
        handler: Arc<dyn CommandHandler>,
    ) -> Result<WinrmServer, ServerError> {
        config.validate()?;
        let acceptor_users = config
            .users
            .iter()
            .map(|u| AcceptorUser {
                username: u.username.clone(),
                password: u.password.expose().to_owned(),
            })
            .collect();
        let (events, _) = broadcast::channel(config.event_buffer);
        Ok(WinrmServer {
            inner: Arc::new(ServerInner {
                config,
                handler,
                shells: shells::Shells::default(),
                events,
                acceptor_users,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// Events from now on (bounded; a slow subscriber misses old events).
    pub fn subscribe(&self) -> broadcast::Receiver<ServerEvent> {
        self.inner.events.subscribe()
    }

    /// Number of open shells.
    pub fn shell_count(&self) -> usize {
        self.inner.shells.count()
    }

    /// Kills every command and forgets every shell.
    pub fn close_all_shells(&self) {
        self.inner.shells.clear();
    }

    /// Serves one plain-HTTP connection until the client closes it.
    pub async fn serve_connection<IO>(&self, io: IO, peer: SocketAddr) -> Result<(), ServerError>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        self.serve_io(io, peer, false).await
    }

    /// Performs the TLS handshake on `io`, then serves the connection.
    pub async fn serve_tls_connection<IO>(
        &self,
        io: IO,
        peer: SocketAddr,
        tls: &TlsAcceptor,
    ) -> Result<(), ServerError>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let stream = tls
            .accept(io)
            .await
            .map_err(|source| ServerError::Connection { peer, source })?;
        self.serve_io(stream, peer, true).await
    }

    async fn serve_io<IO>(&self, io: IO, peer: SocketAddr, secure: bool) -> Result<(), ServerError>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let state = Arc::new(Mutex::new(http::ConnState::default()));
        let inner = self.inner.clone();
        let service = service_fn(move |req| {
            let (inner, state) = (inner.clone(), state.clone());
            async move {
                Ok::<_, std::convert::Infallible>(
                    http::handle(inner, state, peer, secure, req).await,
                )
            }
        });
        hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(TokioIo::new(io), service)
            .await
            .map_err(|e| ServerError::Connection {
                peer,
                source: std::io::Error::other(e),
            })
    }

    /// Accepts connections until `shutdown` resolves (TLS when `tls` is given). Each
    /// connection is served on its own task; on shutdown the accept loop stops, open
    /// connections are dropped and every shell is closed.
    pub async fn serve(
        &self,
        listener: TcpListener,
        tls: Option<TlsAcceptor>,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let mut tasks = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => {
                    let (tcp, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => { debug!(error = %e, "accept failed"); continue; }
                    };
                    let _ = tcp.set_nodelay(true);
                    let server = self.clone();
                    let tls = tls.clone();
                    tasks.spawn(async move {
                        let r = match tls {
                            Some(t) => server.serve_tls_connection(tcp, peer, &t).await,
                            None => server.serve_connection(tcp, peer).await,
                        };
                        if let Err(e) = r {
                            debug!(%peer, error = %e, "winrm connection ended with an error");
                        }
                    });
                }
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        tasks.shutdown().await;
        self.inner.shells.clear();
        Ok(())
    }
}
