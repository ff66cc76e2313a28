//! [`HealthHandle`]: the readiness a service reports through `grpc.health.v1` (for every
//! registered service and for the server as a whole, `""`) and through
//! `aetherv.common.v1.Diagnostics` (with the reasons). A server starts NOT_SERVING; the
//! service calls [`HealthHandle::set_serving`] once its dependencies answer, and
//! [`HealthHandle::set_not_serving`] with reasons when they stop answering or its
//! configuration is invalid. The server builder sets NOT_SERVING ("shutting down") when
//! shutdown begins and then fires [`DrainSignal`] so long-lived streams can end.

use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::time::SystemTime;

use tokio::sync::{Mutex, watch};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// What the health service currently reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// True when SERVING.
    pub serving: bool,
    /// Why not serving; empty when serving.
    pub reasons: Vec<String>,
    /// When `serving` last changed.
    pub since: SystemTime,
}

struct State {
    readiness: Readiness,
    services: Vec<String>,
}

/// Cheap to clone; every clone controls the same server's health.
#[derive(Clone)]
pub struct HealthHandle {
    reporter: HealthReporter,
    state: Arc<Mutex<State>>,
    /// A copy of the readiness readable without awaiting (for diagnostics and logs).
    snapshot: Arc<StdMutex<Readiness>>,
    draining: watch::Sender<bool>,
}

impl std::fmt::Debug for HealthHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthHandle")
            .field("readiness", &self.readiness())
            .finish()
    }
}

impl HealthHandle {
    pub(crate) fn new(reporter: HealthReporter) -> HealthHandle {
        let readiness = Readiness {
            serving: false,
            reasons: vec!["starting".to_string()],
            since: SystemTime::now(),
        };
        HealthHandle {
            reporter,
            state: Arc::new(Mutex::new(State {
                readiness: readiness.clone(),
                services: Vec::new(),
            })),
            snapshot: Arc::new(StdMutex::new(readiness)),
            draining: watch::channel(false).0,
        }
    }

    /// Adds a service name whose status follows the server's.
    pub(crate) async fn register(&self, service: &str) {
        let mut state = self.state.lock().await;
        state.services.push(service.to_string());
        let status = status_of(state.readiness.serving);
        self.reporter.set_service_status(service, status).await;
    }

    /// Pushes the current readiness to every name (the server's `""` included).
    pub(crate) async fn publish(&self) {
        let state = self.state.lock().await;
        self.push(&state).await;
    }

    /// Reports SERVING.
    pub async fn set_serving(&self) {
        self.set(true, Vec::new()).await;
    }

    /// Reports NOT_SERVING with the reasons (one line each, operator-readable, no secrets).
    pub async fn set_not_serving(&self, reasons: Vec<String>) {
        self.set(false, reasons).await;
    }

    async fn set(&self, serving: bool, reasons: Vec<String>) {
        let mut state = self.state.lock().await;
        if state.readiness.serving == serving && state.readiness.reasons == reasons {
            return;
        }
        let since = if state.readiness.serving == serving {
            state.readiness.since
        } else {
            SystemTime::now()
        };
        state.readiness = Readiness {
            serving,
            reasons,
            since,
        };
        if serving {
            tracing::info!("health: serving");
        } else {
            tracing::warn!(reasons = ?state.readiness.reasons, "health: not serving");
        }
        self.push(&state).await;
    }

    async fn push(&self, state: &State) {
        // Diagnostics first: whoever sees the new health status can then read why.
        *self.snapshot.lock().unwrap_or_else(PoisonError::into_inner) = state.readiness.clone();
        let status = status_of(state.readiness.serving);
        self.reporter.set_service_status("", status).await;
        for service in &state.services {
            self.reporter.set_service_status(service, status).await;
        }
    }

    /// What is reported now.
    pub fn readiness(&self) -> Readiness {
        self.snapshot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A signal that fires when the server starts draining.
    pub fn drain_signal(&self) -> DrainSignal {
        DrainSignal(self.draining.subscribe())
    }

    pub(crate) fn start_draining(&self) {
        self.draining.send_replace(true);
    }
}

fn status_of(serving: bool) -> ServingStatus {
    if serving {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    }
}

/// Fires when the server begins its graceful shutdown. Server-streaming handlers that would
/// otherwise run forever (Watch, Subscribe) select on [`DrainSignal::wait`] and end their
/// stream, so the drain finishes before its deadline.
#[derive(Debug, Clone)]
pub struct DrainSignal(watch::Receiver<bool>);

impl DrainSignal {
    /// Resolves once draining has begun (at once if it already has).
    pub async fn wait(&mut self) {
        // An error means the server (the sender) is gone: that is a drain too.
        let _ = self.0.wait_for(|draining| *draining).await;
    }

    /// True once draining has begun.
    pub fn is_draining(&self) -> bool {
        *self.0.borrow()
    }
}
