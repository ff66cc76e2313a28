//! How VMs sort: the sortable fields, the key each field gives a VM, and the total order
//! (key, then id) that makes pages stable. Also the owned form of a key that page tokens
//! carry between requests.

use std::cmp::Ordering;
use std::net::IpAddr;

use aetherv_hyperv::VmId;

use super::model::Vm;

/// A field ListVms can sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortField {
    /// Name, case-insensitively.
    Name,
    /// Host id.
    Host,
    /// Cluster name (standalone first).
    Cluster,
    /// State, in the proto's order.
    State,
    /// Virtual processors.
    CpuCount,
    /// Memory assigned now.
    MemoryAssigned,
    /// Startup memory.
    MemoryStartup,
    /// Creation time (unknown first).
    CreationTime,
    /// Uptime (not running first).
    Uptime,
    /// Primary IP, IPv4 before IPv6 (none first).
    PrimaryIp,
}

impl SortField {
    /// Every field; a field's position here indexes per-field tables.
    pub const ALL: [SortField; 10] = [
        SortField::Name,
        SortField::Host,
        SortField::Cluster,
        SortField::State,
        SortField::CpuCount,
        SortField::MemoryAssigned,
        SortField::MemoryStartup,
        SortField::CreationTime,
        SortField::Uptime,
        SortField::PrimaryIp,
    ];

    /// Position in [`SortField::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// A short stable name (page tokens use it).
    pub fn code(self) -> &'static str {
        match self {
            SortField::Name => "name",
            SortField::Host => "host",
            SortField::Cluster => "cluster",
            SortField::State => "state",
            SortField::CpuCount => "cpu",
            SortField::MemoryAssigned => "mem",
            SortField::MemoryStartup => "memstart",
            SortField::CreationTime => "created",
            SortField::Uptime => "uptime",
            SortField::PrimaryIp => "ip",
        }
    }
}

/// A VM's key for one field, borrowed from the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SortKey<'a> {
    /// Text keys.
    Text(&'a str),
    /// Numeric keys (counts, bytes, nanoseconds).
    Int(i128),
    /// IP keys.
    Ip(Option<IpAddr>),
}

/// The key of `vm` for `field`.
pub fn key_of(vm: &Vm, field: SortField) -> SortKey<'_> {
    let data = &vm.data;
    match field {
        SortField::Name => SortKey::Text(&data.name_folded),
        SortField::Host => SortKey::Text(vm.host.as_str()),
        SortField::Cluster => SortKey::Text(vm.cluster.as_ref().map_or("", |c| c.as_str())),
        SortField::State => SortKey::Int(data.state.ordinal() as i128),
        SortField::CpuCount => SortKey::Int(i128::from(data.cpu_count)),
        SortField::MemoryAssigned => SortKey::Int(i128::from(data.memory_assigned_bytes)),
        SortField::MemoryStartup => SortKey::Int(i128::from(data.memory_startup_bytes)),
        SortField::CreationTime => SortKey::Int(
            data.creation_time
                .map_or(i128::MIN, |t| t.unix_timestamp_nanos()),
        ),
        // Longer uptime = earlier start: the negated start time sorts like the uptime,
        // and stays put while time passes.
        SortField::Uptime => SortKey::Int(
            data.started_at
                .map_or(i128::MIN, |t| -t.unix_timestamp_nanos()),
        ),
        SortField::PrimaryIp => SortKey::Ip(vm.primary_ip()),
    }
}

/// The ascending total order of `field`: key, then id.
pub fn compare(field: SortField, a: &Vm, b: &Vm) -> Ordering {
    key_of(a, field)
        .cmp(&key_of(b, field))
        .then_with(|| a.id.cmp(&b.id))
}

/// A position in the order of a field: the key and id of the last VM a page returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The key.
    pub key: OwnedKey,
    /// The id.
    pub id: VmId,
}

impl Cursor {
    /// The cursor just after `vm`.
    pub fn after(vm: &Vm, field: SortField) -> Cursor {
        Cursor {
            key: OwnedKey::from(key_of(vm, field)),
            id: vm.id,
        }
    }

    /// Where `vm` is relative to this cursor in the ascending order of `field`.
    pub fn compare_vm(&self, field: SortField, vm: &Vm) -> Ordering {
        key_of(vm, field)
            .cmp(&self.key.as_key())
            .then_with(|| vm.id.cmp(&self.id))
    }
}

/// A sort key that outlives its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedKey {
    /// Text.
    Text(String),
    /// Number.
    Int(i128),
    /// IP.
    Ip(Option<IpAddr>),
}

impl OwnedKey {
    /// Borrowed for comparisons.
    pub fn as_key(&self) -> SortKey<'_> {
        match self {
            OwnedKey::Text(text) => SortKey::Text(text),
            OwnedKey::Int(number) => SortKey::Int(*number),
            OwnedKey::Ip(ip) => SortKey::Ip(*ip),
        }
    }

    /// Text form: `t:<text>`, `i:<number>`, `p:<ip>` or `p:-`.
    pub fn encode(&self) -> String {
        match self {
            OwnedKey::Text(text) => format!("t:{text}"),
            OwnedKey::Int(number) => format!("i:{number}"),
            OwnedKey::Ip(Some(ip)) => format!("p:{ip}"),
            OwnedKey::Ip(None) => "p:-".to_string(),
        }
    }

    /// Parses [`OwnedKey::encode`]'s form.
    pub fn decode(text: &str) -> Option<OwnedKey> {
        let (kind, value) = text.split_once(':')?;
        match kind {
            "t" => Some(OwnedKey::Text(value.to_string())),
            "i" => value.parse().ok().map(OwnedKey::Int),
            "p" if value == "-" => Some(OwnedKey::Ip(None)),
            "p" => value.parse().ok().map(|ip| OwnedKey::Ip(Some(ip))),
            _ => None,
        }
    }

    /// Whether this kind of key belongs to `field`.
    pub fn fits(&self, field: SortField) -> bool {
        let expected = match field {
            SortField::Name | SortField::Host | SortField::Cluster => "t",
            SortField::PrimaryIp => "p",
            _ => "i",
        };
        let actual = match self {
            OwnedKey::Text(_) => "t",
            OwnedKey::Int(_) => "i",
            OwnedKey::Ip(_) => "p",
        };
        expected == actual
    }
}

impl From<SortKey<'_>> for OwnedKey {
    fn from(key: SortKey<'_>) -> OwnedKey {
        match key {
            SortKey::Text(text) => OwnedKey::Text(text.to_string()),
            SortKey::Int(number) => OwnedKey::Int(number),
            SortKey::Ip(ip) => OwnedKey::Ip(ip),
        }
    }
}
