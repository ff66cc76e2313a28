//! Refreshing a host in inventory after a job step changed it, coalesced per host: a call
//! returns once a refresh that *started after the call* has finished, and all the calls
//! that arrive while one refresh runs are answered by the single next one. So a burst of
//! a thousand power jobs over a host causes two or three refreshes of it, not a thousand.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use aetherv_hyperv::HostId;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use super::ports::Fleet;

#[derive(Debug)]
struct HostRefresh {
    /// Calls so far (a call's ticket is the count after it).
    requested: u64,
    /// The highest ticket a finished refresh answered.
    done: watch::Sender<u64>,
    /// A refresh task runs.
    running: bool,
}

/// The coalescing refresher.
pub struct Refresher {
    fleet: Arc<dyn Fleet>,
    hosts: Mutex<HashMap<HostId, HostRefresh>>,
    timeout: Duration,
    tasks: TaskTracker,
}

impl Refresher {
    /// Refreshes through `fleet`; a caller waits at most `timeout`.
    pub fn new(fleet: Arc<dyn Fleet>, timeout: Duration, tasks: TaskTracker) -> Refresher {
        Refresher {
            fleet,
            hosts: Mutex::new(HashMap::new()),
            timeout,
            tasks,
        }
    }

    fn hosts(&self) -> MutexGuard<'_, HashMap<HostId, HostRefresh>> {
        self.hosts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks for a refresh of `host` and waits for it (at most the timeout; a refresh that
    /// fails or takes longer is logged, never an error of the job).
    pub async fn refresh(self: &Arc<Self>, host: &HostId) {
        let (ticket, mut done, start) = {
            let mut hosts = self.hosts();
            let entry = hosts.entry(host.clone()).or_insert_with(|| HostRefresh {
                requested: 0,
                done: watch::channel(0).0,
                running: false,
            });
            entry.requested += 1;
            let start = !entry.running;
            entry.running = true;
            (entry.requested, entry.done.subscribe(), start)
        };
        if start {
            let this = self.clone();
            let host = host.clone();
            self.tasks.spawn(async move { this.run(host).await });
        }
        let waited = tokio::time::timeout(self.timeout, done.wait_for(|d| *d >= ticket)).await;
        if waited.is_err() {
            tracing::warn!(%host, timeout = ?self.timeout, "inventory refresh after a job step did not finish in time");
        }
    }

    async fn run(self: Arc<Self>, host: HostId) {
        loop {
            let goal = self.hosts().get(&host).map_or(0, |entry| entry.requested);
            if let Err(error) = self.fleet.refresh(&host).await {
                tracing::warn!(%host, error = %error.message, "inventory refresh after a job step failed");
            }
            let mut hosts = self.hosts();
            let Some(entry) = hosts.get_mut(&host) else {
                return;
            };
            entry.done.send_replace(goal);
            if entry.requested == goal {
                entry.running = false;
                if entry.done.receiver_count() == 0 {
                    hosts.remove(&host);
                }
                return;
            }
        }
    }
}
