//! What a notification is: its level, category, related entity, typed id and
//! de-duplication key, and the stored record. No transport types.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

/// Severity of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// Something happened.
    Info,
    /// Something finished well (a job succeeded, a host recovered).
    Success,
    /// Something needs attention soon.
    Warning,
    /// Something failed.
    Error,
}

impl Level {
    /// Warning or error: a condition an operator has to look at.
    pub fn is_problem(self) -> bool {
        matches!(self, Level::Warning | Level::Error)
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Success => "success",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Area a notification belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// The control plane itself (configuration, inventory capacity, agent deployment).
    System,
    /// A Hyper-V host.
    Host,
    /// A virtual machine.
    Vm,
    /// A job.
    Job,
    /// A managed deployment.
    Deployment,
}

impl Category {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::System => "system",
            Category::Host => "host",
            Category::Vm => "vm",
            Category::Job => "job",
            Category::Deployment => "deployment",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of entity a notification is about (`aetherv.common.v1.EntityKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    /// Free text for the control plane ("agent-deployment").
    System,
    /// A failover cluster (its name).
    Cluster,
    /// A host (HostId).
    Host,
    /// A VM (VmId).
    Vm,
    /// A virtual disk.
    Disk,
    /// A network adapter.
    Nic,
    /// A job (JobId).
    Job,
    /// A managed deployment.
    Deployment,
}

/// The entity a notification is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    /// Its kind.
    pub kind: EntityKind,
    /// Its id in its kind's format.
    pub id: String,
    /// A display name; empty when none.
    pub name: String,
    /// The host it lives on; empty when none.
    pub host: String,
}

/// `ntf-<uuid>`, lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NotificationId(String);

impl NotificationId {
    /// A fresh id.
    pub fn generate() -> NotificationId {
        NotificationId(format!("ntf-{}", uuid::Uuid::new_v4()))
    }

    /// Parses `ntf-<uuid>` (any case; stored lower-case). The error says what was expected.
    pub fn parse(text: &str) -> Result<NotificationId, String> {
        let uuid = text
            .strip_prefix("ntf-")
            .and_then(|rest| uuid::Uuid::parse_str(rest).ok())
            .filter(|_| text.len() == 40);
        match uuid {
            Some(uuid) => Ok(NotificationId(format!("ntf-{uuid}"))),
            None if text.is_empty() => Err("required".to_string()),
            None => Err("expected \"ntf-<uuid>\"".to_string()),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NotificationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest de-duplication key.
pub const DEDUP_KEY_MAX: usize = 256;

/// A de-duplication key: 1..256 printable ASCII characters, no leading or trailing space
/// (`"host-unreachable:hv01"`, `"job:job-…"`). Keys are global across categories.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedupKey(String);

impl DedupKey {
    /// Parses a key; the error says what is wrong (without echoing it).
    pub fn parse(text: &str) -> Result<DedupKey, String> {
        if text.is_empty() {
            return Err("must not be empty".to_string());
        }
        if text.len() > DEDUP_KEY_MAX {
            return Err(format!("must be at most {DEDUP_KEY_MAX} characters"));
        }
        if !text.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err("must be printable ASCII".to_string());
        }
        if text.starts_with(' ') || text.ends_with(' ') {
            return Err("must not start or end with a space".to_string());
        }
        Ok(DedupKey(text.to_string()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DedupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated, scrubbed Publish: what a notification says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// Severity.
    pub level: Level,
    /// Area.
    pub category: Category,
    /// Short title.
    pub title: String,
    /// Body text.
    pub message: String,
    /// What it is about.
    pub related: Option<Related>,
    /// Extra key/values.
    pub metadata: BTreeMap<String, String>,
    /// The de-duplication key.
    pub dedup_key: Option<DedupKey>,
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Its id.
    pub id: NotificationId,
    /// Severity.
    pub level: Level,
    /// Area; fixed for a de-duplication key.
    pub category: Category,
    /// Short title.
    pub title: String,
    /// Body text.
    pub message: String,
    /// What it is about.
    pub related: Option<Related>,
    /// Extra key/values.
    pub metadata: BTreeMap<String, String>,
    /// Its de-duplication key.
    pub dedup_key: Option<DedupKey>,
    /// Marked read (and not made unread again by a meaningful update since).
    pub read: bool,
    /// First publication.
    pub created_at: SystemTime,
    /// Last publication (creation or de-duplicated update). Reading does not change it.
    pub updated_at: SystemTime,
    /// Publications: 1 + de-duplicated updates.
    pub occurrences: u32,
    /// The event id of its last publication: the list order (newest first) and the
    /// retention order (oldest first).
    pub sequence: u64,
}

impl Notification {
    /// A new notification from `draft`, published at `now` by event `sequence`.
    pub fn create(draft: Draft, now: SystemTime, sequence: u64) -> Notification {
        Notification {
            id: NotificationId::generate(),
            level: draft.level,
            category: draft.category,
            title: draft.title,
            message: draft.message,
            related: draft.related,
            metadata: draft.metadata,
            dedup_key: draft.dedup_key,
            read: false,
            created_at: now,
            updated_at: now,
            occurrences: 1,
            sequence,
        }
    }

    /// Whether publishing `draft` over this notification is news an operator should see
    /// again: its level changes, or its title changes while it is a warning or an error.
    /// A changed message, metadata or related entity alone is detail (an error's text, a
    /// count, a duration) and leaves a read notification read.
    pub fn is_news(&self, draft: &Draft) -> bool {
        self.level != draft.level || (draft.level.is_problem() && self.title != draft.title)
    }

    /// This notification updated by `draft` (same id, key, category and creation time).
    pub fn updated_by(&self, draft: Draft, now: SystemTime, sequence: u64) -> Notification {
        let read = self.read && !self.is_news(&draft);
        Notification {
            id: self.id.clone(),
            level: draft.level,
            category: self.category,
            title: draft.title,
            message: draft.message,
            related: draft.related,
            metadata: draft.metadata,
            dedup_key: self.dedup_key.clone(),
            read,
            created_at: self.created_at,
            updated_at: now,
            occurrences: self.occurrences.saturating_add(1),
            sequence,
        }
    }
}
