//! The per-host cache of WinRM clients, so that an authenticated connection (and its NTLM
//! context) serves every operation on that host, and the mapping of WinRM errors to the
//! crate's transport errors.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aetherv_winrm::client::{NETWORK_DELAY, TimeoutKind};
use aetherv_winrm::{AuthMethod, Client, ClientConfig, Error as WinrmError, Password};

use crate::agent::{TransportError, TransportErrorKind};
use crate::ids::HostId;
use crate::target::{AuthKind, HostTarget};

/// Longest WS-Management OperationTimeout (Receive long poll) the agent asks for.
const MAX_OPERATION_TIMEOUT: Duration = Duration::from_secs(20);
/// Shortest one.
const MIN_OPERATION_TIMEOUT: Duration = Duration::from_millis(500);

/// The WinRM client settings of a host target: the target's endpoint, credentials and
/// timeouts; the Receive long poll is kept within the target's request timeout.
pub fn client_config(target: &HostTarget, max_connections: usize) -> ClientConfig {
    let auth = match target.auth() {
        AuthKind::Ntlm => AuthMethod::Ntlm,
        AuthKind::Basic => AuthMethod::Basic,
    };
    let mut config = ClientConfig::new(
        target.url().as_str(),
        auth,
        target.username(),
        Password::new(target.password().expose()),
    );
    config.ca_file = target.ca_file().cloned();
    config.insecure_http = target.insecure_http();
    config.connect_timeout = target.timeouts().connect;
    config.operation_timeout = target
        .timeouts()
        .request
        .saturating_sub(NETWORK_DELAY)
        .clamp(MIN_OPERATION_TIMEOUT, MAX_OPERATION_TIMEOUT);
    config.max_connections = max_connections;
    config
}

/// One client per host, rebuilt when the host's settings change.
#[derive(Default)]
pub struct ClientCache {
    clients: Mutex<HashMap<HostId, (HostTarget, Client)>>,
}

impl ClientCache {
    /// The cached client of `target`, or a new one (cached) when there is none or the
    /// target's settings differ from those it was built with.
    pub fn get(&self, target: &HostTarget, max_connections: usize) -> Result<Client, WinrmError> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((cached, client)) = clients.get(target.id())
            && cached == target
        {
            return Ok(client.clone());
        }
        let client = Client::new(client_config(target, max_connections))?;
        clients.insert(target.id().clone(), (target.clone(), client.clone()));
        Ok(client)
    }

    /// Drops the client of a host (its idle connections close).
    pub fn forget(&self, host: &HostId) {
        self.clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(host);
    }

    /// How many hosts have a client.
    pub fn len(&self) -> usize {
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// What kind of transport failure a WinRM error is, for the caller to act on.
pub fn transport_kind(error: &WinrmError) -> TransportErrorKind {
    match error {
        WinrmError::Config { field, .. } if *field == "ca_file" => TransportErrorKind::Tls,
        WinrmError::Config { .. } | WinrmError::Connect { .. } => TransportErrorKind::Connect,
        WinrmError::Tls { .. } => TransportErrorKind::Tls,
        WinrmError::Authentication { .. } => TransportErrorKind::Authentication,
        WinrmError::Fault(fault) => TransportErrorKind::Fault {
            code: fault.wsman_code.map_or_else(
                || fault.subcode_local().unwrap_or(&fault.code).to_owned(),
                |code| code.to_string(),
            ),
        },
        WinrmError::Timeout {
            kind: TimeoutKind::Connect,
            ..
        } => TransportErrorKind::Connect,
        WinrmError::Timeout { .. } => TransportErrorKind::Timeout,
        WinrmError::Http { status, .. } => TransportErrorKind::Http { status: *status },
        WinrmError::Protocol { .. }
        | WinrmError::CommandLineTooLong { .. }
        | WinrmError::Cancelled => TransportErrorKind::Protocol,
    }
}

/// The crate's transport error for a WinRM error (kept as the source).
pub fn transport_error(error: WinrmError) -> TransportError {
    TransportError {
        kind: transport_kind(&error),
        source: Some(Box::new(error)),
    }
}
