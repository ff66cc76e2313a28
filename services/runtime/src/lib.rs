//! The shared runtime of every Aether-V service: layered configuration ([`config`]),
//! `tracing` setup ([`telemetry`]), the gRPC server builder with health, reflection v1 and
//! v1alpha, diagnostics and graceful drain ([`GrpcServer`]), caller identity and trace
//! context propagation ([`CallContext`]), client channels ([`client`]), the error-code
//! table shared by gRPC and HTTP ([`ErrorCode`], [`ApiError`]) and the shutdown signal.
//! Called by every service crate, the gateway and the launcher; calls nothing of ours but
//! `aetherv-proto`.

#![forbid(unsafe_code)]

mod abortable;
mod api_error;
mod chain;
pub mod client;
pub mod config;
mod context;
mod diagnostics;
mod error_code;
mod health;
mod secret;
pub mod server;
mod shutdown;
pub mod telemetry;

pub use api_error::{ApiError, ERROR_DETAIL_TYPE_URL, detail_of};
pub use chain::{DisplayChain, display_chain};
pub use client::{ClientConfig, connect_lazy};
pub use context::{
    CALLER_HEADER, CallContext, CallContextLayer, Caller, ContextInterceptor, TRACEPARENT_HEADER,
    TraceContext,
};
pub use error_code::{ErrorCode, HasErrorCode};
pub use health::{DrainSignal, HealthHandle, Readiness};
pub use secret::{MASK, Secret, SecretString};
pub use server::{DrainOutcome, GrpcServer, ServerConfig};
pub use shutdown::signal_shutdown;
