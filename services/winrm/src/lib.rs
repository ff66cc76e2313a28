//! WS-Management / WinRS for Aether-V: the only way the control plane reaches a Hyper-V
//! host. It owns the wire protocol (SOAP envelopes parsed by namespace, WS-Man faults,
//! MS-WSMV message encryption), NTLM and Basic authentication (NTLM through Devolutions
//! `sspi`), a pooled async **client** used by `services/hyperv` (the agent protocol) and the
//! operator CLI, and a **server** used by the Hyper-V simulator (`agent/sim`) and by this
//! crate's own tests. It calls nothing else of the project.
//!
//! # Client
//!
//! ```no_run
//! use aetherv_winrm::client::{AuthMethod, Client, ClientConfig, CommandSpec, OutputChunk};
//! # async fn demo() -> Result<(), aetherv_winrm::client::Error> {
//! let mut config = ClientConfig::new("http://127.0.10.1:5985/wsman", AuthMethod::Ntlm, "vagrant", "secret");
//! config.max_connections = 4;                       // pooled, authenticated keep-alive connections
//! let client = Client::new(config)?;                // validates every field, connects lazily
//! let (tx, mut rx) = tokio::sync::mpsc::channel::<OutputChunk>(64);
//! let mut spec = CommandSpec::new("powershell.exe", vec!["-NoProfile".into(), "-".into()]);
//! spec.stdin = Some(bytes::Bytes::from_static(b"Write-Output hi\r\n"));
//! spec.deadline = Some(std::time::Duration::from_secs(60));
//! let printer = tokio::spawn(async move { while let Some(chunk) = rx.recv().await { let _ = chunk; } });
//! let exit_code: i32 = client.run(spec, tx).await?; // output streamed to rx as it arrives
//! # let _ = (exit_code, printer); Ok(()) }
//! ```
//!
//! - [`client::Client::run`] runs one command in its own shell, sends stdin (chunked to the
//!   envelope size, `End` on the last chunk) while receiving, streams stdout/stderr chunks
//!   to the `mpsc::Sender` as they arrive and returns the exit code. The command is never
//!   left running: when done it is signalled and its shell deleted; on the deadline, on an
//!   error, when the receiver is dropped, or when the future itself is dropped, it gets
//!   Signal terminate and the shell is deleted (from a spawned task when dropped).
//! - [`client::Client::open_shell`] returns a [`client::Shell`] with one method per WinRS
//!   operation (`command`, `send_stdin`, `receive`, `signal`, `delete`);
//!   [`client::Client::max_envelope_size_kb`] reads the listener's configuration.
//! - Errors are [`client::Error`]: `Config`, `Connect`, `Tls`, `Authentication`, `Fault`
//!   (a typed [`fault::Fault`]; [`fault::Fault::kind`] says what to do), `Timeout` (which
//!   one), `Protocol` (with the first 200 bytes), `CommandLineTooLong`, `Http`, `Cancelled`.
//!
//! Auth: NTLM (raw NTLM tokens under the `Negotiate` scheme) seals every body over HTTP,
//! authenticating with empty bodies first; over HTTPS bodies go unsealed inside TLS.
//! Basic needs HTTPS (system roots or `ca_file`) unless `insecure_http` is set.
//!
//! # Server
//!
//! ```no_run
//! use std::sync::Arc;
//! use aetherv_winrm::server::{CommandHandler, CommandRequest, ProcessFuture, ProcessIo, ServerConfig, ServerUser, WinrmServer};
//! use aetherv_winrm::fault::Fault;
//!
//! struct Echo;
//! impl CommandHandler for Echo {
//!     fn start(&self, _req: CommandRequest, mut io: ProcessIo) -> Result<ProcessFuture, Fault> {
//!         Ok(Box::pin(async move {
//!             while let Some(chunk) = io.stdin.recv().await {
//!                 if io.stdout.send(chunk).await.is_err() { return 1; }
//!             }
//!             0
//!         }))
//!     }
//! }
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ServerConfig::new("HOST1", vec![ServerUser::new("vagrant", "secret")]);
//! let server = WinrmServer::new(config, Arc::new(Echo))?;
//! let listener = tokio::net::TcpListener::bind("127.0.10.1:5985").await?;
//! loop {
//!     let (tcp, peer) = listener.accept().await?;   // the embedder owns the accept loop
//!     let server = server.clone();
//!     tokio::spawn(async move { let _ = server.serve_connection(tcp, peer).await; });
//! }
//! # }
//! ```
//!
//! The server implements WinRS as Windows does where a client can tell: NTLM (raw or
//! SPNEGO) with message encryption and the final SPNEGO token on the 200, Basic on TLS,
//! HTTP 401 for bad credentials, HTTP 500 with an empty body for an unsealed body on an
//! HTTP NTLM session, shells owned by their user, ordered stdin with End, the Receive long
//! poll answering `w:TimedOut` after OperationTimeout, `w:InvalidSelectors` for unknown
//! shells and commands, fault 87 for a Receive without a command, the cmd.exe 8191 and
//! CreateProcess 32767 command-line rules, and the config `Get`. TLS certificates for tests
//! and the simulator come from [`server::SelfSignedCert`].

#![forbid(unsafe_code)]
// `Fault` (about 220 bytes) is the error of the server-side paths and of `CommandHandler`;
// faults are the cold path and a plain struct is simpler for embedders than a box.
#![allow(clippy::result_large_err)]

pub mod client;
pub mod encryption;
pub mod envelope;
pub mod fault;
pub mod messages;
pub mod ns;
pub(crate) mod ntlm;
pub(crate) mod ntlm_seal;
pub(crate) mod ntlm_verify;
pub mod server;
pub mod xml;

pub use client::{
    AuthMethod, Client, ClientConfig, CommandSpec, Error, OutputChunk, OutputStream, Password,
    Shell,
};
pub use fault::{Fault, FaultKind};
pub use messages::{CommandOptions, ShellOptions, Signal};
pub use server::{
    CommandHandler, CommandRequest, ProcessFuture, ProcessIo, ServerConfig, ServerUser, WinrmServer,
};
