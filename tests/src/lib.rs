//! `aetherv-tests`: the end-to-end harness of the whole suite. [`TestStack`] starts a
//! simulated fleet (`aetherv-hvsim`: real WinRM endpoints on loopback addresses) and every
//! service in this process, each through its own `serve(config, listener, shutdown)` on
//! port 0 — remote-tasks (the only holder of the fleet's password), notifications,
//! inventory (refreshing through remote-tasks over gRPC, publishing to notifications),
//! jobs and the gateway — and gives typed gRPC clients, the gateway's URL, an HTTP and a WebSocket
//! client, `wait_for_*` helpers and a clean shutdown. Services log through `tracing` to
//! the test's captured output, which the test runner shows when a test fails.
//!
//! Called by the tests in `tests/tests/`, by the `with-stack` binary (a stack for an
//! external script such as the browser test) and, for its process sampling, by the
//! `fleet-bench` binary, which starts the suite as separate processes with `aetherv up`.
//! It calls the service libraries, the simulator and the third-party peers: grpcurl from
//! the test virtualenv ([`peers`]), tokio-tungstenite for `/ws`, hyper for HTTP.

#![forbid(unsafe_code)]

pub mod error;
pub mod expect;
pub mod http;
pub mod logs;
pub mod peers;
pub mod procfs;
pub mod service;
pub mod stack;
pub mod wait;
pub mod ws;

pub use error::Error;
pub use stack::{TestStack, TestStackBuilder};

pub use wait::wait_for;
