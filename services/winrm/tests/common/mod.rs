//! Shared helpers of the integration tests: an in-process server with a small test
//! handler, and clients for it.
#![allow(dead_code)]

pub mod recordings;
pub mod replay;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aetherv_winrm::client::{AuthMethod, Client, ClientConfig, OutputChunk, OutputStream};
use aetherv_winrm::fault::Fault;
use aetherv_winrm::server::{
    CommandHandler, CommandRequest, ProcessFuture, ProcessIo, SelfSignedCert, ServerConfig,
    ServerUser, WinrmServer,
};
use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_rustls::TlsAcceptor;

pub const USER: &str = "vagrant";
pub const PASSWORD: &str = "Correct-Horse-7";

/// The test process:
/// - `echo [CODE]`: copies stdin to stdout, writes `done\n` to stderr, exits with CODE (0);
/// - `hang`: never exits; reports its command id on `cancelled` when killed;
/// - `gate`: waits until the test's `Notify` fires, then prints `released` and exits 0;
/// - `emit N`: writes N bytes of a pattern to stdout and exits 0;
/// - `C:\missing.exe` with skip_cmd_shell: the file-not-found fault;
/// - anything else: cmd.exe's "is not recognized" message on stderr and exit code 1.
pub struct TestHandler {
    pub gate: Arc<Notify>,
    pub cancelled: mpsc::UnboundedSender<String>,
}

impl CommandHandler for TestHandler {
    fn start(&self, req: CommandRequest, mut io: ProcessIo) -> Result<ProcessFuture, Fault> {
        let name = req.command.to_ascii_lowercase();
        if req.skip_cmd_shell && name.contains("missing") {
            return Err(Fault::file_not_found(&req.machine));
        }
        let gate = self.gate.clone();
        let cancelled = self.cancelled.clone();
        let id = req.command_id.clone();
        Ok(match name.as_str() {
            "echo" => {
                let code = req
                    .arguments
                    .first()
                    .and_then(|a| a.parse().ok())
                    .unwrap_or(0);
                Box::pin(async move {
                    while let Some(chunk) = io.stdin.recv().await {
                        if io.stdout.send(chunk).await.is_err() {
                            return 2;
                        }
                    }
                    let _ = io.stderr.send(Bytes::from_static(b"done\n")).await;
                    code
                })
            }
            "hang" => Box::pin(async move {
                // Reports when the process is killed: the server drops the future.
                let _killed = KillReporter(cancelled, id);
                io.cancel.cancelled().await;
                std::future::pending::<i32>().await
            }),
            "gate" => Box::pin(async move {
                gate.notified().await;
                let _ = io.stdout.send(Bytes::from_static(b"released")).await;
                0
            }),
            "emit" => {
                let n: usize = req
                    .arguments
                    .first()
                    .and_then(|a| a.parse().ok())
                    .unwrap_or(0);
                Box::pin(async move {
                    let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
                    for piece in data.chunks(7000) {
                        if io.stdout.send(Bytes::copy_from_slice(piece)).await.is_err() {
                            return 2;
                        }
                    }
                    0
                })
            }
            _ => {
                let msg = format!(
                    "'{}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n",
                    req.command
                );
                Box::pin(async move {
                    let _ = io.stderr.send(Bytes::from(msg)).await;
                    1
                })
            }
        })
    }
}

/// Sends the command id when dropped (the process was killed).
struct KillReporter(mpsc::UnboundedSender<String>, String);

impl Drop for KillReporter {
    fn drop(&mut self) {
        let _ = self.0.send(std::mem::take(&mut self.1));
    }
}

pub struct TestServer {
    pub server: WinrmServer,
    pub addr: SocketAddr,
    pub gate: Arc<Notify>,
    pub cancelled: mpsc::UnboundedReceiver<String>,
    pub cert: Option<SelfSignedCert>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.abort();
    }
}

pub fn server_config() -> ServerConfig {
    ServerConfig::new(
        "SIMHOST",
        vec![
            ServerUser::new(USER, PASSWORD),
            ServerUser::new("DOMAIN\\second", "Second-Pw-2"),
        ],
    )
}

/// Starts a server on 127.0.0.1:0 (TLS with a fresh CA when `tls`).
pub async fn start(config: ServerConfig, tls: bool) -> TestServer {
    let gate = Arc::new(Notify::new());
    let (tx, rx) = mpsc::unbounded_channel();
    let server = WinrmServer::new(
        config,
        Arc::new(TestHandler {
            gate: gate.clone(),
            cancelled: tx,
        }),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cert =
        tls.then(|| SelfSignedCert::generate(&["localhost".into(), "127.0.0.1".into()]).unwrap());
    let acceptor: Option<TlsAcceptor> = cert.as_ref().map(|c| c.acceptor().unwrap());
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let s = server.clone();
    let task = tokio::spawn(async move {
        let _ = s
            .serve(listener, acceptor, async move {
                let _ = stop_rx.await;
            })
            .await;
    });
    TestServer {
        server,
        addr,
        gate,
        cancelled: rx,
        cert,
        stop: Some(stop_tx),
        task,
    }
}

impl TestServer {
    pub fn url(&self) -> String {
        let scheme = if self.cert.is_some() { "https" } else { "http" };
        format!("{scheme}://{}/wsman", self.addr)
    }

    pub fn client_config(&self, auth: AuthMethod) -> ClientConfig {
        let mut c = ClientConfig::new(self.url(), auth, USER, PASSWORD);
        c.operation_timeout = Duration::from_secs(5);
        c
    }

    pub fn client(&self, auth: AuthMethod) -> Client {
        Client::new(self.client_config(auth)).unwrap()
    }
}

/// Collects what a run streamed, per stream.
pub async fn collect(mut rx: mpsc::Receiver<OutputChunk>) -> (Vec<u8>, Vec<u8>, usize) {
    let (mut out, mut err, mut n) = (Vec::new(), Vec::new(), 0);
    while let Some(c) = rx.recv().await {
        n += 1;
        match c.stream {
            OutputStream::Stdout => out.extend_from_slice(&c.data),
            OutputStream::Stderr => err.extend_from_slice(&c.data),
        }
    }
    (out, err, n)
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::canonicalize(&root).unwrap_or(root)
}
