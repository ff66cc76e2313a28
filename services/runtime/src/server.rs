//! The gRPC server every service runs: its tonic services plus `grpc.health.v1`,
//! reflection v1 and v1alpha (grpcurl 1.8 speaks only v1alpha) over the aetherv descriptor
//! set, and `aetherv.common.v1.Diagnostics`; served on a caller-bound `TcpListener` until a
//! shutdown future resolves, then drained with a deadline.
//!
//! ```text
//! let server = GrpcServer::new("aetherv-inventory", &config.server).add_service(InventoryServer::new(svc));
//! let health = server.health();           // flip to SERVING once dependencies answer
//! server.serve(listener, shutdown).await?;
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use aetherv_proto::common::v1::diagnostics_server::DiagnosticsServer;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::abortable::AbortableIo;
use crate::config::{Issues, duration};
use crate::context::CallContextLayer;
use crate::diagnostics::DiagnosticsService;
use crate::health::HealthHandle;

/// The `server` table of a service's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Address the binary binds (`serve` itself takes a bound listener).
    pub listen: SocketAddr,
    /// How long in-flight calls may take to finish after shutdown begins.
    #[serde(with = "duration")]
    pub drain_timeout: Duration,
    /// HTTP/2 keepalive ping interval, so a vanished client of a long stream is noticed.
    #[serde(with = "duration")]
    pub keepalive_interval: Duration,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig::on_port(0)
    }
}

impl ServerConfig {
    /// Loopback on `port`, default drain (10 s) and keepalive (30 s). Services use their
    /// default port (ARCHITECTURE.md: remote-tasks 50051 ... notifications 50055).
    pub fn on_port(port: u16) -> ServerConfig {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
            drain_timeout: Duration::from_secs(10),
            keepalive_interval: Duration::from_secs(30),
        }
    }

    /// For tests: loopback port 0, a 2 s drain, default keepalive.
    pub fn for_testing() -> ServerConfig {
        ServerConfig {
            drain_timeout: Duration::from_secs(2),
            ..ServerConfig::on_port(0)
        }
    }

    /// Validation for a service's `validate`; `key` is where the table sits (`"server"`).
    pub fn validate(&self, key: &str, issues: &mut Issues) {
        if self.drain_timeout.is_zero() || self.drain_timeout > Duration::from_secs(600) {
            issues.push(
                &format!("{key}.drain_timeout"),
                "must be between 1ms and 10m",
            );
        }
        if self.keepalive_interval < Duration::from_secs(1)
            || self.keepalive_interval > Duration::from_secs(3600)
        {
            issues.push(
                &format!("{key}.keepalive_interval"),
                "must be between 1s and 1h",
            );
        }
    }
}

/// Why a server could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listener has no local address.
    #[error("grpc listener has no local address")]
    Listener(#[source] std::io::Error),
    /// The reflection service could not be built from the descriptor sets.
    #[error("grpc reflection cannot be built from the descriptor sets")]
    Reflection(#[source] tonic_reflection::server::Error),
    /// The transport failed.
    #[error("grpc server on {address} failed")]
    Serve {
        /// Where it listened.
        address: SocketAddr,
        /// Why.
        #[source]
        source: tonic::transport::Error,
    },
}

/// How a shutdown ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainOutcome {
    /// Every in-flight call finished before the deadline.
    Complete,
    /// The deadline passed; the remaining calls were aborted.
    DeadlinePassed,
}

/// Builder and runner of one service's gRPC server.
pub struct GrpcServer {
    name: String,
    version: String,
    config: ServerConfig,
    routes: RoutesBuilder,
    service_names: Vec<&'static str>,
    descriptor_sets: Vec<&'static [u8]>,
    health: HealthHandle,
}

impl std::fmt::Debug for GrpcServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcServer")
            .field("name", &self.name)
            .field("services", &self.service_names)
            .finish_non_exhaustive()
    }
}

const HEALTH_SERVICE: &str = "grpc.health.v1.Health";
const REFLECTION_V1: &str = "grpc.reflection.v1.ServerReflection";
const REFLECTION_V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";

impl GrpcServer {
    /// A server for the process `name` (`"aetherv-inventory"`), NOT_SERVING until
    /// [`HealthHandle::set_serving`].
    pub fn new(name: &str, config: &ServerConfig) -> GrpcServer {
        let reporter = tonic_health::server::HealthReporter::new();
        let health_service =
            tonic_health::server::HealthService::from_health_reporter(reporter.clone());
        let mut routes = RoutesBuilder::default();
        routes.add_service(tonic_health::pb::health_server::HealthServer::new(
            health_service,
        ));
        GrpcServer {
            name: name.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            config: config.clone(),
            routes,
            service_names: Vec::new(),
            descriptor_sets: vec![
                aetherv_proto::FILE_DESCRIPTOR_SET,
                tonic_health::pb::FILE_DESCRIPTOR_SET,
            ],
            health: HealthHandle::new(reporter),
        }
    }

    /// Adds a tonic service (a generated `XServer::new(impl)`); its name gets a health
    /// status and is listed by reflection.
    pub fn add_service<S>(mut self, service: S) -> GrpcServer
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = std::convert::Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.service_names.push(S::NAME);
        self.routes.add_service(service);
        self
    }

    /// Adds another encoded descriptor set to reflection (for services outside
    /// `aetherv-proto`).
    pub fn register_file_descriptor_set(mut self, encoded: &'static [u8]) -> GrpcServer {
        self.descriptor_sets.push(encoded);
        self
    }

    /// The handle to report readiness through.
    pub fn health(&self) -> HealthHandle {
        self.health.clone()
    }

    fn reflection(&self) -> tonic_reflection::server::Builder<'static> {
        let mut builder = tonic_reflection::server::Builder::configure();
        for set in &self.descriptor_sets {
            builder = builder.register_encoded_file_descriptor_set(set);
        }
        let listed = self.service_names.iter().copied().chain([
            aetherv_proto::DIAGNOSTICS_SERVICE_NAME,
            HEALTH_SERVICE,
            REFLECTION_V1,
            REFLECTION_V1ALPHA,
        ]);
        for name in listed {
            builder = builder.with_service_name(name);
        }
        builder
    }

    /// Serves on `listener` until `shutdown` resolves; then reports NOT_SERVING, fires the
    /// drain signal, stops accepting, and waits up to `drain_timeout` for in-flight calls.
    pub async fn serve<F>(self, listener: TcpListener, shutdown: F) -> Result<DrainOutcome, Error>
    where
        F: Future<Output = ()>,
    {
        let address = listener.local_addr().map_err(Error::Listener)?;
        let reflection_v1 = self.reflection().build_v1().map_err(Error::Reflection)?;
        let reflection_v1alpha = self
            .reflection()
            .build_v1alpha()
            .map_err(Error::Reflection)?;
        let GrpcServer {
            name,
            version,
            config,
            mut routes,
            service_names,
            health,
            ..
        } = self;
        for service in service_names
            .iter()
            .chain([&aetherv_proto::DIAGNOSTICS_SERVICE_NAME])
        {
            health.register(service).await;
        }
        health.publish().await;
        let diagnostics = DiagnosticsService {
            name: name.clone(),
            version,
            started_at: SystemTime::now(),
            health: health.clone(),
        };
        routes
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(DiagnosticsServer::new(diagnostics));

        let abort = CancellationToken::new();
        let incoming = {
            let abort = abort.clone();
            TcpIncoming::from(listener)
                .with_nodelay(Some(true))
                .map(move |accepted| accepted.map(|socket| AbortableIo::new(socket, &abort)))
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = Server::builder()
            .http2_keepalive_interval(Some(config.keepalive_interval))
            // Outermost, before routing: every call (health and reflection included) gets
            // its caller and trace context parsed, an invalid caller refused, and a span.
            .layer(CallContextLayer)
            .add_routes(routes.routes())
            .serve_with_incoming_shutdown(incoming, async {
                // A dropped sender also means "stop".
                let _ = stopped.await;
            });
        tokio::pin!(server);
        tracing::info!(service = %name, %address, services = ?service_names, "grpc server listening");

        tokio::select! {
            result = &mut server => {
                result.map_err(|source| Error::Serve { address, source })?;
                return Ok(DrainOutcome::Complete);
            }
            () = shutdown => {}
        }
        health
            .set_not_serving(vec!["shutting down".to_string()])
            .await;
        health.start_draining();
        let _ = stop.send(());
        tracing::info!(service = %name, deadline = ?config.drain_timeout, "grpc server draining");
        match tokio::time::timeout(config.drain_timeout, &mut server).await {
            Ok(result) => {
                result.map_err(|source| Error::Serve { address, source })?;
                tracing::info!(service = %name, "grpc server drained");
                Ok(DrainOutcome::Complete)
            }
            Err(_) => {
                abort.cancel();
                tracing::warn!(service = %name, deadline = ?config.drain_timeout, "drain deadline passed, aborting the remaining calls");
                Ok(DrainOutcome::DeadlinePassed)
            }
        }
    }
}
