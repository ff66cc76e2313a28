//! [`SimFleet`]: a started simulated fleet — every host's model, its WinRM listeners on
//! its loopback address, the shared clock, the users, the TLS certificate — and
//! [`SimFleetBuilder`] to make one:
//!
//! ```no_run
//! # async fn demo() -> Result<(), aetherv_hvsim::Error> {
//! use aetherv_hvsim::SimFleet;
//! let fleet = SimFleet::builder().hosts(3).vms_per_host(10).clusters(1).seed(7)
//!     .time_scale(0.01)             // every simulated duration a hundredth as long
//!     .start().await?;              // binds 127.0.10.1.. on port 0 by default
//! let host = fleet.host("hv-ams-c1-n01.corp.example")?;
//! host.set_latency(std::time::Duration::from_millis(200));
//! let endpoint = host.http_endpoint();  // http://127.0.10.1:<port>/wsman, NTLM + encryption
//! # let _ = endpoint; fleet.shutdown().await; Ok(()) }
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aetherv_winrm::Password;
use aetherv_winrm::server::{SelfSignedCert, ServerConfig, ServerUser, WinrmServer};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::agent::AgentHandler;
use crate::clock::{SimClock, SimInstant};
use crate::credentials::{check_username, generate_password};
use crate::error::Error;
use crate::fleet_config::{FleetConfig, HostEntry, WinrmSettings};
use crate::generate::{FleetSpec, generate};
use crate::host::{Endpoints, SimHost};
use crate::net::{bind, host_address, supervise};
use crate::scenario::Scenario;

/// The username used when none is configured.
pub const DEFAULT_USERNAME: &str = "aetherv";

#[derive(Debug, Clone, Copy)]
enum ClockChoice {
    Scaled(f64),
    Manual,
}

/// Builds a [`SimFleet`]. Defaults: 3 hosts, 10 VMs each, 1 cluster, seed 1, time scale
/// 1.0, base address 127.0.10.1, HTTP on port 0 (a free port per host, so fleets never
/// clash), no HTTPS, one user `aetherv` with a generated password.
#[derive(Debug, Clone)]
pub struct SimFleetBuilder {
    spec: FleetSpec,
    clock: ClockChoice,
    base_address: Ipv4Addr,
    http_port: u16,
    https: bool,
    https_port: u16,
    users: Vec<ServerUser>,
    scenario: Scenario,
}

impl SimFleetBuilder {
    /// Number of hosts.
    pub fn hosts(mut self, n: u32) -> Self {
        self.spec.hosts = n;
        self
    }

    /// VMs per host.
    pub fn vms_per_host(mut self, n: u32) -> Self {
        self.spec.vms_per_host = n;
        self
    }

    /// Failover clusters.
    pub fn clusters(mut self, n: u32) -> Self {
        self.spec.clusters = n;
        self
    }

    /// The generation seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.spec.seed = seed;
        self
    }

    /// The whole spec at once.
    pub fn spec(mut self, spec: FleetSpec) -> Self {
        self.spec = spec;
        self
    }

    /// Scales every simulated duration (0.1: ten times faster). Above 0, at most 100.
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.clock = ClockChoice::Scaled(scale);
        self
    }

    /// A clock that moves only by [`SimFleet::advance`] (explicit steps in tests).
    pub fn manual_clock(mut self) -> Self {
        self.clock = ClockChoice::Manual;
        self
    }

    /// The first host's address (127.x.y.z with z in 1–254).
    pub fn base_address(mut self, address: Ipv4Addr) -> Self {
        self.base_address = address;
        self
    }

    /// The HTTP port of every host (0: a free port each).
    pub fn http_port(mut self, port: u16) -> Self {
        self.http_port = port;
        self
    }

    /// Serve HTTPS (Basic or NTLM) too, on `port` (0: a free port each).
    pub fn https(mut self, port: u16) -> Self {
        self.https = true;
        self.https_port = port;
        self
    }

    /// Adds a user (the first one is the fleet's [`SimFleet::username`]).
    pub fn user(mut self, username: impl Into<String>, password: impl Into<Password>) -> Self {
        self.users.push(ServerUser::new(username, password));
        self
    }

    /// Knobs to set at start.
    pub fn scenario(mut self, scenario: Scenario) -> Self {
        self.scenario = scenario;
        self
    }

    /// Generates the fleet, binds every listener and starts serving.
    pub async fn start(self) -> Result<SimFleet, Error> {
        self.spec.validate()?;
        let mut users = self.users;
        if users.is_empty() {
            users.push(ServerUser::new(DEFAULT_USERNAME, generate_password()));
        }
        for (i, u) in users.iter().enumerate() {
            check_username(&format!("users[{i}].username"), &u.username)?;
            if u.password.expose().is_empty() {
                return Err(Error::invalid(format!("users[{i}].password"), "is empty"));
            }
        }
        let clock = Arc::new(match self.clock {
            ClockChoice::Scaled(s) => SimClock::scaled(s)?,
            ClockChoice::Manual => SimClock::manual(),
        });
        let models = generate(&self.spec)?;
        let addresses = (0..self.spec.hosts)
            .map(|i| host_address(self.base_address, i))
            .collect::<Result<Vec<_>, _>>()?;
        let tls = if self.https {
            let mut names: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
            names.extend(models.iter().map(|m| m.facts().fqdn.clone()));
            names.push("localhost".to_owned());
            Some(SelfSignedCert::generate(&names).map_err(Error::Winrm)?)
        } else {
            None
        };
        let acceptor = tls
            .as_ref()
            .map(SelfSignedCert::acceptor)
            .transpose()
            .map_err(Error::Winrm)?;
        let inner = Arc::new(FleetInner {
            hosts: Vec::new(),
            clock: clock.clone(),
            users: users.clone(),
            tls,
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            spec: self.spec,
            control: Mutex::new(None),
        });
        let mut hosts = Vec::with_capacity(models.len());
        let started = async {
            for (model, address) in models.into_iter().zip(addresses) {
                let host = SimHost::new(model, address, clock.clone());
                let config = ServerConfig::new(host.computer_name(), users.clone());
                let handler = Arc::new(AgentHandler::new(host.clone()));
                let server = WinrmServer::new(config, handler).map_err(Error::Winrm)?;
                let ip = IpAddr::V4(address);
                let http = bind(
                    SocketAddr::new(ip, self.http_port),
                    &format!("{} http", host.name()),
                )
                .await?;
                let https = match &acceptor {
                    Some(_) => Some(
                        bind(
                            SocketAddr::new(ip, self.https_port),
                            &format!("{} https", host.name()),
                        )
                        .await?,
                    ),
                    None => None,
                };
                host.set_endpoints(Endpoints {
                    http: http.local_addr().ok(),
                    https: https.as_ref().and_then(|l| l.local_addr().ok()),
                });
                inner.tasks.spawn(supervise(
                    host.clone(),
                    server.clone(),
                    http,
                    None,
                    inner.shutdown.clone(),
                ));
                if let Some(listener) = https {
                    inner.tasks.spawn(supervise(
                        host.clone(),
                        server,
                        listener,
                        acceptor.clone(),
                        inner.shutdown.clone(),
                    ));
                }
                hosts.push(host);
            }
            for (i, entry) in self.scenario.hosts.iter().enumerate() {
                let matching: Vec<&SimHost> = hosts
                    .iter()
                    .filter(|h| entry.host == "*" || h.is_named(&entry.host))
                    .collect();
                if matching.is_empty() {
                    return Err(Error::invalid(
                        format!("hosts[{i}].host"),
                        format!("{:?} names no host of the fleet", entry.host),
                    ));
                }
                for h in matching {
                    h.apply(&entry.knobs)?;
                }
            }
            Ok::<(), Error>(())
        };
        if let Err(e) = started.await {
            inner.shutdown.cancel();
            inner.tasks.close();
            inner.tasks.wait().await;
            return Err(e);
        }
        let mut inner = inner;
        match Arc::get_mut(&mut inner) {
            Some(i) => i.hosts = hosts,
            None => {
                return Err(Error::invalid(
                    "fleet",
                    "internal: the fleet is shared before it started",
                ));
            }
        }
        Ok(SimFleet { inner })
    }
}

#[derive(Debug)]
pub(crate) struct FleetInner {
    pub(crate) hosts: Vec<SimHost>,
    pub(crate) clock: Arc<SimClock>,
    pub(crate) users: Vec<ServerUser>,
    pub(crate) tls: Option<SelfSignedCert>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tasks: TaskTracker,
    pub(crate) spec: FleetSpec,
    pub(crate) control: Mutex<Option<SocketAddr>>,
}

impl FleetInner {
    pub(crate) fn host(&self, name: &str) -> Result<SimHost, Error> {
        self.hosts
            .iter()
            .find(|h| h.is_named(name))
            .cloned()
            .ok_or_else(|| Error::UnknownHost(name.to_owned()))
    }
}

/// A running simulated fleet. Dropping it stops every listener; [`SimFleet::shutdown`]
/// also waits for them.
#[derive(Debug)]
pub struct SimFleet {
    inner: Arc<FleetInner>,
}

impl Drop for SimFleet {
    fn drop(&mut self) {
        self.inner.shutdown.cancel();
    }
}

/// Which endpoints a fleet config lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `http://…:5985/wsman` with NTLM and message encryption.
    Http,
    /// `https://…:5986/wsman` with Basic and the fleet's CA.
    Https,
}

impl SimFleet {
    /// A builder with the defaults.
    pub fn builder() -> SimFleetBuilder {
        SimFleetBuilder {
            spec: FleetSpec::default(),
            clock: ClockChoice::Scaled(1.0),
            base_address: Ipv4Addr::new(127, 0, 10, 1),
            http_port: 0,
            https: false,
            https_port: 0,
            users: Vec::new(),
            scenario: Scenario::default(),
        }
    }

    /// The hosts, in fleet order (clustered first).
    pub fn hosts(&self) -> &[SimHost] {
        &self.inner.hosts
    }

    /// The host of that FQDN or computer name (any case).
    pub fn host(&self, name: &str) -> Result<SimHost, Error> {
        self.inner.host(name)
    }

    /// The spec the fleet was generated from.
    pub fn spec(&self) -> FleetSpec {
        self.inner.spec
    }

    /// The simulated clock.
    pub fn clock(&self) -> &SimClock {
        &self.inner.clock
    }

    /// Simulated time now.
    pub fn now(&self) -> SimInstant {
        self.inner.clock.now()
    }

    /// Moves a manual clock forward (false on a scaled clock).
    pub fn advance(&self, d: Duration) -> bool {
        self.inner.clock.advance(d)
    }

    /// The users every host accepts.
    pub fn users(&self) -> &[ServerUser] {
        &self.inner.users
    }

    /// The first user's name.
    pub fn username(&self) -> &str {
        self.inner
            .users
            .first()
            .map_or(DEFAULT_USERNAME, |u| u.username.as_str())
    }

    /// The first user's password.
    pub fn password(&self) -> Password {
        self.inner
            .users
            .first()
            .map_or_else(|| Password::new(""), |u| u.password.clone())
    }

    /// PEM of the CA that signed the hosts' certificate (HTTPS only).
    pub fn ca_pem(&self) -> Option<&str> {
        self.inner.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    /// Writes the CA PEM (HTTPS only).
    pub fn write_ca_file(&self, path: &Path) -> Result<(), Error> {
        let Some(tls) = &self.inner.tls else {
            return Err(Error::invalid("ca_file", "the fleet serves no https"));
        };
        tls.write_ca_pem(path).map_err(|source| Error::File {
            action: "write",
            path: path.to_owned(),
            source,
        })
    }

    /// The fleet config listing every host's endpoint of `scheme`. The password is
    /// referred to by file or environment variable, never included.
    pub fn fleet_config(
        &self,
        scheme: Scheme,
        password_file: Option<PathBuf>,
        password_env: Option<String>,
        ca_file: Option<PathBuf>,
    ) -> Result<FleetConfig, Error> {
        if scheme == Scheme::Https && self.inner.tls.is_none() {
            return Err(Error::invalid(
                "fleet_config_scheme",
                "https needs the fleet to serve https",
            ));
        }
        let hosts = self
            .hosts()
            .iter()
            .filter_map(|h| {
                let endpoint = match scheme {
                    Scheme::Http => h.http_endpoint(),
                    Scheme::Https => h.https_endpoint(),
                }?;
                Some(HostEntry {
                    name: h.name().to_owned(),
                    endpoint,
                })
            })
            .collect();
        Ok(FleetConfig {
            winrm: WinrmSettings {
                auth: match scheme {
                    Scheme::Http => "ntlm",
                    Scheme::Https => "basic",
                }
                .to_owned(),
                username: self.username().to_owned(),
                password_file,
                password_env,
                ca_file: if scheme == Scheme::Https {
                    ca_file
                } else {
                    None
                },
            },
            hosts,
        })
    }

    /// Starts the control API on `addr` (port 0 for a free one); returns where it listens.
    pub async fn start_control_api(&self, addr: SocketAddr) -> Result<SocketAddr, Error> {
        let listener = bind(addr, "the control api").await?;
        let local = listener.local_addr().map_err(|source| Error::Bind {
            what: "the control api".to_owned(),
            addr,
            source,
        })?;
        let router = crate::control::router(self.inner.clone());
        let shutdown = self.inner.shutdown.clone();
        self.inner.tasks.spawn(async move {
            let serve = axum::serve(listener, router)
                .with_graceful_shutdown(async move { shutdown.cancelled().await });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "control api stopped");
            }
        });
        if let Ok(mut c) = self.inner.control.lock() {
            *c = Some(local);
        }
        Ok(local)
    }

    /// Where the control API listens, once started.
    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.inner.control.lock().ok().and_then(|c| *c)
    }

    /// Stops every listener and connection and waits for them.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }
}
