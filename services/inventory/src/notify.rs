//! Inventory's notifications: the [`RefreshHooks`] that turn refresh transitions into
//! keyed notifications in the notifications service (`aetherv.notifications.v1`), when
//! `inventory.notifications.endpoint` is set. Inventory works the same without it.
//!
//! | condition | dedup key | raised | resolved (same notification, updated) |
//! |---|---|---|---|
//! | host unreachable | `host-unreachable:<host>` | error "Host … unreachable" with the reason | success "Host … reachable again" |
//! | slow host refresh | `inventory-slow-host:<host>` | warning, took vs threshold | success "… back to normal" |
//! | cycle cannot keep up | `inventory-refresh-capacity` | warning, cycle vs interval | success "… keeps up again" |
//!
//! Only transitions publish: a condition already raised is not published again on every
//! refresh, and a resolution is published only for a condition this process raised. The
//! hooks are synchronous and never block the refresh: they record the latest wanted state
//! of each key (one entry per key, so the memory is bounded by the fleet) and wake a
//! sender task, which publishes what changed and retries with a backoff while the
//! notifications service does not answer. Two transitions of one key between sends
//! collapse into the latest. On shutdown the sender makes one last bounded attempt.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use aetherv_hyperv::HostId;
use aetherv_proto::common::v1 as common;
use aetherv_proto::notifications::v1 as pb;
use aetherv_proto::notifications::v1::notifications_client::NotificationsClient;
use aetherv_runtime::{CallContext, ClientConfig};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::transport::Channel;

use crate::refresh::collector::{LogHooks, RefreshHooks};

/// The key of an unreachable host's notification.
pub fn unreachable_key(host: &HostId) -> String {
    clip(&format!("host-unreachable:{host}"), 256)
}

/// The key of a slow host's notification.
pub fn slow_key(host: &HostId) -> String {
    clip(&format!("inventory-slow-host:{host}"), 256)
}

/// The key of the refresh-capacity notification.
pub const CAPACITY_KEY: &str = "inventory-refresh-capacity";

/// Longest wait between attempts while the notifications service does not answer.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The last attempt on shutdown may take this long.
const FINAL_FLUSH: Duration = Duration::from_secs(2);

fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

fn seconds(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64())
}

fn host_ref(host: &HostId) -> Option<common::EntityRef> {
    Some(common::EntityRef {
        kind: common::EntityKind::Host as i32,
        id: host.to_string(),
        ..common::EntityRef::default()
    })
}

fn request(
    level: pb::Level,
    category: pb::Category,
    title: String,
    message: String,
    related: Option<common::EntityRef>,
    metadata: &[(&str, String)],
    key: String,
) -> pb::PublishRequest {
    pb::PublishRequest {
        level: level as i32,
        category: category as i32,
        title: clip(&title, 200),
        message: clip(&message, 4000),
        related,
        metadata: metadata
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect(),
        dedup_key: key,
    }
}

/// One key's wanted state.
#[derive(Debug, Clone)]
struct Entry {
    /// The condition is raised (not resolved).
    active: bool,
    /// What to publish.
    request: pb::PublishRequest,
    /// Bumped on every change.
    version: u64,
    /// The version last published (or given up on).
    sent: u64,
}

#[derive(Debug, Default)]
struct Wanted {
    entries: BTreeMap<String, Entry>,
    versions: u64,
}

/// The notifying hooks; share them in an `Arc`.
pub struct Notifier {
    wanted: Mutex<Wanted>,
    wake: Notify,
    slow_threshold: Duration,
    log: LogHooks,
}

/// The sender task of a [`Notifier`].
pub struct Sender {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Sender {
    /// Stops the task after one last bounded attempt to publish what is pending.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

impl Notifier {
    /// Hooks that publish to `config.endpoint` and log like [`LogHooks`]; `None` when the
    /// endpoint is empty (notifications not configured). Must be called inside a tokio
    /// runtime (the sender task is spawned).
    pub fn start(
        config: &ClientConfig,
        slow_threshold: Duration,
    ) -> Result<Option<(Arc<Notifier>, Sender)>, aetherv_runtime::client::Error> {
        if config.endpoint.trim().is_empty() {
            return Ok(None);
        }
        let client = NotificationsClient::new(aetherv_runtime::connect_lazy(config)?);
        let notifier = Arc::new(Notifier::new(slow_threshold));
        let stop = CancellationToken::new();
        let task = tokio::spawn(notifier.clone().send_loop(client, stop.clone()));
        Ok(Some((notifier, Sender { stop, task })))
    }

    /// Hooks that only record (the sender is started separately; for tests).
    pub fn new(slow_threshold: Duration) -> Notifier {
        Notifier {
            wanted: Mutex::new(Wanted::default()),
            wake: Notify::new(),
            slow_threshold,
            log: LogHooks,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Wanted> {
        self.wanted.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the condition of `key` is raised.
    pub fn is_active(&self, key: &str) -> bool {
        self.lock()
            .entries
            .get(key)
            .is_some_and(|entry| entry.active)
    }

    /// The publications waiting to be sent: (key, version, request), by key.
    pub fn pending(&self) -> Vec<(String, u64, pb::PublishRequest)> {
        self.lock()
            .entries
            .iter()
            .filter(|(_, entry)| entry.version > entry.sent)
            .map(|(key, entry)| (key.clone(), entry.version, entry.request.clone()))
            .collect()
    }

    /// Records that `version` of `key` was published (or will never be).
    pub fn sent(&self, key: &str, version: u64) {
        if let Some(entry) = self.lock().entries.get_mut(key) {
            entry.sent = entry.sent.max(version);
        }
    }

    /// Raises (`active`) or resolves the condition of `key`. A raise of a raised
    /// condition and a resolution of one that is not raised change nothing.
    fn set(&self, key: String, active: bool, request: pb::PublishRequest) {
        {
            let mut wanted = self.lock();
            let raised = wanted.entries.get(&key).is_some_and(|entry| entry.active);
            if raised == active {
                return;
            }
            wanted.versions += 1;
            let version = wanted.versions;
            let sent = wanted.entries.get(&key).map_or(0, |entry| entry.sent);
            wanted.entries.insert(
                key,
                Entry {
                    active,
                    request,
                    version,
                    sent,
                },
            );
        }
        self.wake.notify_one();
    }

    async fn publish(
        client: &mut NotificationsClient<Channel>,
        request: pb::PublishRequest,
    ) -> Result<(), tonic::Status> {
        let mut request = tonic::Request::new(request);
        if let Ok(context) = CallContext::background("inventory") {
            context.attach(&mut request);
        }
        client.publish(request).await.map(|_| ())
    }

    /// Publishes everything pending once; `false` when the service did not answer.
    async fn flush(&self, client: &mut NotificationsClient<Channel>) -> bool {
        for (key, version, request) in self.pending() {
            match Notifier::publish(client, request).await {
                Ok(()) => self.sent(&key, version),
                Err(status)
                    if matches!(
                        status.code(),
                        Code::InvalidArgument | Code::FailedPrecondition
                    ) =>
                {
                    // Retrying cannot help; drop it and say why.
                    tracing::error!(key, code = ?status.code(), message = status.message(), "notification refused");
                    self.sent(&key, version);
                }
                Err(status) => {
                    tracing::warn!(key, code = ?status.code(), message = status.message(), "notifications service did not take a notification; will retry");
                    return false;
                }
            }
        }
        true
    }

    async fn send_loop(
        self: Arc<Self>,
        mut client: NotificationsClient<Channel>,
        stop: CancellationToken,
    ) {
        let mut backoff = Duration::from_secs(1);
        loop {
            tokio::select! {
                () = self.wake.notified() => {}
                () = stop.cancelled() => break,
            }
            while !self.pending().is_empty() {
                if self.flush(&mut client).await {
                    backoff = Duration::from_secs(1);
                    continue;
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stop.cancelled() => break,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            if stop.is_cancelled() {
                break;
            }
        }
        let _ = tokio::time::timeout(FINAL_FLUSH, self.flush(&mut client)).await;
    }
}

impl RefreshHooks for Notifier {
    fn host_unreachable(&self, host: &HostId, reason: &str) {
        self.log.host_unreachable(host, reason);
        let request = request(
            pb::Level::Error,
            pb::Category::Host,
            format!("Host {} unreachable", clip(host.as_str(), 170)),
            format!(
                "Inventory cannot refresh {host}: {reason}. Its VMs are kept and shown as stale until it answers again."
            ),
            host_ref(host),
            &[("host", host.to_string()), ("status", "unreachable".into())],
            unreachable_key(host),
        );
        self.set(unreachable_key(host), true, request);
    }

    fn host_recovered(&self, host: &HostId) {
        self.log.host_recovered(host);
        let request = request(
            pb::Level::Success,
            pb::Category::Host,
            format!("Host {} reachable again", clip(host.as_str(), 170)),
            format!("Inventory refreshed {host} again; its VMs are current."),
            host_ref(host),
            &[("host", host.to_string()), ("status", "reachable".into())],
            unreachable_key(host),
        );
        self.set(unreachable_key(host), false, request);
    }

    fn host_slow(&self, host: &HostId, took: Duration) {
        self.log.host_slow(host, took);
        let request = request(
            pb::Level::Warning,
            pb::Category::Host,
            format!("Slow inventory refresh on {}", clip(host.as_str(), 170)),
            format!(
                "Refreshing {host} took {} s, more than the {} s slow-host threshold.",
                seconds(took),
                seconds(self.slow_threshold)
            ),
            host_ref(host),
            &[
                ("host", host.to_string()),
                ("took_seconds", seconds(took)),
                ("threshold_seconds", seconds(self.slow_threshold)),
            ],
            slow_key(host),
        );
        self.set(slow_key(host), true, request);
    }

    fn host_slow_cleared(&self, host: &HostId) {
        let request = request(
            pb::Level::Success,
            pb::Category::Host,
            format!(
                "Inventory refresh on {} back to normal",
                clip(host.as_str(), 170)
            ),
            format!(
                "Refreshing {host} takes less than the {} s slow-host threshold again.",
                seconds(self.slow_threshold)
            ),
            host_ref(host),
            &[("host", host.to_string())],
            slow_key(host),
        );
        self.set(slow_key(host), false, request);
    }

    fn cycle_overrun(&self, took: Duration, interval: Duration) {
        self.log.cycle_overrun(took, interval);
        let request = request(
            pb::Level::Warning,
            pb::Category::System,
            "Inventory refresh cannot keep up".to_string(),
            format!(
                "A refresh cycle took {} s and some hosts were due again before their refresh ended (interval {} s): hosts are refreshed less often than configured. Raise inventory.refresh_concurrency or inventory.refresh_interval.",
                seconds(took),
                seconds(interval)
            ),
            Some(common::EntityRef {
                kind: common::EntityKind::System as i32,
                id: "inventory-refresh".to_string(),
                ..common::EntityRef::default()
            }),
            &[
                ("cycle_seconds", seconds(took)),
                ("interval_seconds", seconds(interval)),
            ],
            CAPACITY_KEY.to_string(),
        );
        self.set(CAPACITY_KEY.to_string(), true, request);
    }

    fn cycle_caught_up(&self, took: Duration, interval: Duration) {
        let request = request(
            pb::Level::Success,
            pb::Category::System,
            "Inventory refresh keeps up again".to_string(),
            format!(
                "A refresh cycle took {} s and every host was refreshed within the {} s interval.",
                seconds(took),
                seconds(interval)
            ),
            Some(common::EntityRef {
                kind: common::EntityKind::System as i32,
                id: "inventory-refresh".to_string(),
                ..common::EntityRef::default()
            }),
            &[
                ("cycle_seconds", seconds(took)),
                ("interval_seconds", seconds(interval)),
            ],
            CAPACITY_KEY.to_string(),
        );
        self.set(CAPACITY_KEY.to_string(), false, request);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str) -> HostId {
        match HostId::parse(name) {
            Ok(host) => host,
            Err(error) => panic!("{error}"),
        }
    }

    #[test]
    fn only_transitions_are_published_and_resolutions_update_the_same_key() {
        let notifier = Notifier::new(Duration::from_secs(10));
        let hv01 = host("hv01");
        // A recovery or a cleared slow state never raised here publishes nothing.
        notifier.host_recovered(&hv01);
        notifier.host_slow_cleared(&hv01);
        notifier.cycle_caught_up(Duration::from_secs(5), Duration::from_secs(30));
        assert!(notifier.pending().is_empty());

        notifier.host_unreachable(&hv01, "connection refused");
        notifier.host_slow(&hv01, Duration::from_millis(12_340));
        notifier.host_slow(&hv01, Duration::from_secs(15));
        let pending = notifier.pending();
        let keys: Vec<&str> = pending.iter().map(|(key, _, _)| key.as_str()).collect();
        assert_eq!(keys, ["host-unreachable:hv01", "inventory-slow-host:hv01"]);
        let (_, _, unreachable) = &pending[0];
        assert_eq!(unreachable.level, pb::Level::Error as i32);
        assert_eq!(unreachable.title, "Host hv01 unreachable");
        assert!(unreachable.message.contains("connection refused"));
        let (_, version, slow) = &pending[1];
        assert!(slow.message.contains("12.3 s"), "{}", slow.message);
        notifier.sent("inventory-slow-host:hv01", *version);
        notifier.sent("host-unreachable:hv01", pending[0].1);
        assert!(notifier.pending().is_empty());

        // Still slow: nothing new. Recovered: the same key, now a success.
        notifier.host_slow(&hv01, Duration::from_secs(20));
        assert!(notifier.pending().is_empty());
        notifier.host_recovered(&hv01);
        notifier.host_slow_cleared(&hv01);
        let pending = notifier.pending();
        assert_eq!(pending.len(), 2);
        assert!(
            pending
                .iter()
                .all(|(_, _, r)| r.level == pb::Level::Success as i32)
        );
        assert!(!notifier.is_active("host-unreachable:hv01"));

        // Unreachable and recovered again before a send: the latest state wins.
        notifier.host_unreachable(&hv01, "timeout");
        notifier.host_recovered(&hv01);
        let latest: Vec<_> = notifier
            .pending()
            .into_iter()
            .filter(|(key, _, _)| key == "host-unreachable:hv01")
            .collect();
        assert_eq!(latest.len(), 1);
        assert_eq!(latest[0].2.title, "Host hv01 reachable again");
    }
}
