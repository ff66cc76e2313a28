//! ListVms: filters (host, cluster, states, name substring), a sort field and direction,
//! keyset paging with opaque tokens, and the total count.
//!
//! Plan: the candidates come from the narrowest index (a host's VMs, a cluster's members'
//! VMs, or all); states are checked in the table's dense state array and names in the
//! search corpus ([`super::search`]), so filtering never visits a record; a small match set
//! is sorted on the spot, a large one is walked in the field's cached order (rebuilt only
//! when that field's epoch moved, see [`super::table`]). A page starts strictly after the token's (key, id),
//! so pages stay stable while VMs come and go.

use std::sync::{Arc, Mutex, PoisonError};

use super::fleet::Fleet;
use super::model::{Vm, VmState};
use super::order::{Cursor, OwnedKey, SortField, SortKey, key_of};
use super::search::NameIndex;
use super::table::{EMPTY, Slot};
use aetherv_hyperv::{HostId, VmId};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Largest page.
pub const MAX_PAGE_SIZE: usize = 1000;
/// Page size when the caller names none.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Longest name search.
pub const MAX_NAME_FILTER_CHARS: usize = 256;
/// Match sets up to this size are sorted per request rather than walked in a cached order.
const SORT_IN_PLACE_LIMIT: usize = 2048;

/// Which cluster's VMs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClusterFilter {
    /// Any.
    Any,
    /// VMs of standalone hosts.
    Standalone,
    /// VMs of this cluster (lower case).
    Named(String),
}

/// The filters of a VM query; they combine with AND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmFilter {
    /// Only this host.
    pub host: Option<HostId>,
    /// Only this cluster.
    pub cluster: ClusterFilter,
    /// Only these states (empty: all).
    pub states: Vec<VmState>,
    /// Case-insensitive name substring (stored lower-cased; empty: all).
    pub name_contains: String,
}

impl Default for VmFilter {
    fn default() -> VmFilter {
        VmFilter {
            host: None,
            cluster: ClusterFilter::Any,
            states: Vec::new(),
            name_contains: String::new(),
        }
    }
}

/// One ListVms request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmQuery {
    /// Filters.
    pub filter: VmFilter,
    /// Sort field.
    pub sort: SortField,
    /// Descending order.
    pub descending: bool,
    /// Page size (1..=MAX_PAGE_SIZE).
    pub page_size: usize,
    /// Where the page starts; None for the first page.
    pub after: Option<Cursor>,
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct VmPage {
    /// The VMs, in order.
    pub vms: Vec<Arc<Vm>>,
    /// Token of the next page; None on the last page.
    pub next_page_token: Option<String>,
    /// VMs matching the filters, all pages.
    pub total: usize,
    /// The model's revision.
    pub revision: u64,
}

/// A page token that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token this service issued.
    #[error("page_token is not a token this service issued")]
    Malformed,
    /// Issued for other filters or another sort.
    #[error("page_token was issued for different filters or sort")]
    OtherQuery,
}

/// Normalizes a name search: lower-cased (the index holds lower-cased names).
pub fn fold_name(text: &str) -> String {
    text.to_lowercase()
}

/// A stable 64-bit fingerprint (FNV-1a) of the filters and sort: a token is only valid
/// with the query it came from.
fn fingerprint(filter: &VmFilter, sort: SortField, descending: bool) -> u64 {
    let mut states: Vec<usize> = filter.states.iter().map(|s| s.ordinal()).collect();
    states.sort_unstable();
    states.dedup();
    let cluster = match &filter.cluster {
        ClusterFilter::Any => "*".to_string(),
        ClusterFilter::Standalone => "-".to_string(),
        ClusterFilter::Named(name) => format!("={name}"),
    };
    let text = format!(
        "{}\u{0}{cluster}\u{0}{states:?}\u{0}{}\u{0}{}\u{0}{descending}",
        filter.host.as_ref().map_or("", |h| h.as_str()),
        filter.name_contains,
        sort.code(),
    );
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Encodes the token of the page after `cursor`.
pub fn encode_token(
    filter: &VmFilter,
    sort: SortField,
    descending: bool,
    cursor: &Cursor,
) -> String {
    let text = format!(
        "1|{:016x}|{}|{}",
        fingerprint(filter, sort, descending),
        cursor.id,
        cursor.key.encode()
    );
    URL_SAFE_NO_PAD.encode(text)
}

/// Decodes a token for this query.
pub fn decode_token(
    token: &str,
    filter: &VmFilter,
    sort: SortField,
    descending: bool,
) -> Result<Cursor, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| TokenError::Malformed)?;
    let text = String::from_utf8(bytes).map_err(|_| TokenError::Malformed)?;
    let mut parts = text.splitn(4, '|');
    let (Some("1"), Some(print), Some(id), Some(key)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let print = u64::from_str_radix(print, 16).map_err(|_| TokenError::Malformed)?;
    let id = VmId::parse(id).map_err(|_| TokenError::Malformed)?;
    let key = OwnedKey::decode(key).ok_or(TokenError::Malformed)?;
    if print != fingerprint(filter, sort, descending) || !key.fits(sort) {
        return Err(TokenError::OtherQuery);
    }
    Ok(Cursor { key, id })
}

/// An ascending order of all VMs and the epoch it was built at.
type CachedOrder = Option<(u64, Arc<Vec<Slot>>)>;

/// Cached ascending orders of all VMs, one per sort field, each valid for one epoch, and
/// the name search corpus.
#[derive(Debug, Default)]
pub struct OrderCache {
    orders: Mutex<[CachedOrder; SortField::ALL.len()]>,
    names: NameIndex,
}

/// Sorts slots by `field`: each key is read once from its record, then the sort touches
/// only the keys (not the records).
fn sort_slots(fleet: &Fleet, field: SortField, slots: impl Iterator<Item = Slot>) -> Vec<Slot> {
    let table = fleet.vms();
    let mut keyed: Vec<(SortKey<'_>, VmId, Slot)> = slots
        .filter_map(|slot| table.get(slot).map(|vm| (key_of(vm, field), vm.id, slot)))
        .collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    keyed.into_iter().map(|(_, _, slot)| slot).collect()
}

impl OrderCache {
    /// The order of `field` for the model as it is (the caller holds the model).
    pub fn order(&self, fleet: &Fleet, field: SortField) -> Arc<Vec<Slot>> {
        let epoch = fleet.vms().epoch(field);
        let mut orders = self.orders.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((built, order)) = &orders[field.index()]
            && *built == epoch
        {
            return order.clone();
        }
        let all = fleet.vms().iter().map(|(slot, _)| slot);
        let order = Arc::new(sort_slots(fleet, field, all));
        orders[field.index()] = Some((epoch, order.clone()));
        order
    }
}

/// The slots a filter can match, from the narrowest index: a host's VMs, a cluster's
/// members' VMs, the standalone hosts' VMs, or all.
fn candidates(fleet: &Fleet, filter: &VmFilter) -> Vec<Slot> {
    let hosts_of = |wanted: &dyn Fn(Option<&str>) -> bool| -> Vec<Slot> {
        fleet
            .hosts()
            .filter(|h| wanted(h.cluster.as_ref().map(|c| c.as_str())))
            .flat_map(|h| fleet.host_slots(&h.id).iter().copied())
            .collect()
    };
    match (&filter.host, &filter.cluster) {
        (Some(host), ClusterFilter::Any) => fleet.host_slots(host).to_vec(),
        (Some(host), cluster) => {
            let fits = fleet.host(host).is_some_and(|h| match cluster {
                ClusterFilter::Standalone => h.cluster.is_none(),
                ClusterFilter::Named(name) => {
                    h.cluster.as_ref().is_some_and(|c| c.as_str() == name)
                }
                ClusterFilter::Any => true,
            });
            if fits {
                fleet.host_slots(host).to_vec()
            } else {
                Vec::new()
            }
        }
        (None, ClusterFilter::Named(name)) => hosts_of(&|c| c == Some(name.as_str())),
        (None, ClusterFilter::Standalone) => hosts_of(&|c| c.is_none()),
        (None, ClusterFilter::Any) => fleet.vms().iter().map(|(slot, _)| slot).collect(),
    }
}

/// The VMs a query matches, as [`matching`] found them.
enum Matched {
    /// Few enough to sort per request: their slots.
    Few(Vec<Slot>),
    /// Many, walked in a cached order: a bit per slot of the ones that match, `None` when
    /// every VM does.
    Many(Option<Vec<u64>>),
}

/// How many VMs match `filter` (states as a bit per state ordinal, names as a bit per
/// slot), and which. Without a host or cluster filter the table's dense state array is
/// scanned once, building the bits as it goes (no list of every slot is made), and an
/// unfiltered query touches nothing at all.
fn matching(
    fleet: &Fleet,
    filter: &VmFilter,
    wanted_states: u32,
    names: Option<&[u64]>,
) -> (usize, Matched) {
    let table = fleet.vms();
    let states = table.states();
    let is_set = |bits: &[u64], slot: Slot| bits[slot as usize / 64] & (1 << (slot % 64)) != 0;
    let fits = |slot: Slot| {
        let state = states.get(slot as usize).copied().unwrap_or(EMPTY);
        state != EMPTY
            && (wanted_states == 0 || wanted_states & (1 << state) != 0)
            && names.is_none_or(|bits| is_set(bits, slot))
    };
    let everywhere = filter.host.is_none() && filter.cluster == ClusterFilter::Any;
    if everywhere && wanted_states == 0 && names.is_none() {
        let total = table.len();
        if total <= SORT_IN_PLACE_LIMIT {
            return (
                total,
                Matched::Few(table.iter().map(|(slot, _)| slot).collect()),
            );
        }
        return (total, Matched::Many(None));
    }
    if everywhere {
        let mut bits = vec![0u64; table.capacity().div_ceil(64)];
        let mut few = Vec::new();
        let mut total = 0;
        for slot in 0..states.len() as Slot {
            if fits(slot) {
                bits[slot as usize / 64] |= 1 << (slot % 64);
                if total < SORT_IN_PLACE_LIMIT {
                    few.push(slot);
                }
                total += 1;
            }
        }
        if total <= SORT_IN_PLACE_LIMIT {
            return (total, Matched::Few(few));
        }
        let bits = (total != table.len()).then_some(bits);
        return (total, Matched::Many(bits));
    }
    let matches: Vec<Slot> = candidates(fleet, filter)
        .into_iter()
        .filter(|slot| fits(*slot))
        .collect();
    let total = matches.len();
    if total <= SORT_IN_PLACE_LIMIT {
        return (total, Matched::Few(matches));
    }
    let bits = (total != table.len()).then(|| {
        let mut bits = vec![0u64; table.capacity().div_ceil(64)];
        for slot in &matches {
            bits[*slot as usize / 64] |= 1 << (slot % 64);
        }
        bits
    });
    (total, Matched::Many(bits))
}

/// Runs a query against the model.
pub fn list_vms(fleet: &Fleet, cache: &OrderCache, query: &VmQuery) -> VmPage {
    let table = fleet.vms();
    let field = query.sort;
    let wanted_states = query
        .filter
        .states
        .iter()
        .fold(0u32, |bits, state| bits | 1 << state.ordinal());
    let names = (!query.filter.name_contains.is_empty())
        .then(|| cache.names.matching(fleet, &query.filter.name_contains));
    let is_set = |bits: &[u64], slot: Slot| bits[slot as usize / 64] & (1 << (slot % 64)) != 0;
    let (total, matched) = matching(fleet, &query.filter, wanted_states, names.as_deref());
    let wanted = query.page_size + 1;
    let vm_at = |slot: Slot| table.get(slot);
    let (order, selected): (Arc<Vec<Slot>>, Option<Vec<u64>>) = match matched {
        Matched::Few(slots) => (Arc::new(sort_slots(fleet, field, slots.into_iter())), None),
        Matched::Many(bits) => (cache.order(fleet, field), bits),
    };
    let position = |cursor: &Cursor, descending: bool| {
        order.partition_point(|slot| {
            vm_at(*slot).is_some_and(|vm| {
                let ordering = cursor.compare_vm(field, vm);
                if descending {
                    ordering.is_lt()
                } else {
                    ordering.is_le()
                }
            })
        })
    };
    let mut page: Vec<Arc<Vm>> = Vec::with_capacity(wanted);
    let mut take = |slot: &Slot| {
        if selected.as_ref().is_none_or(|bits| is_set(bits, *slot))
            && let Some(vm) = vm_at(*slot)
        {
            page.push(vm.clone());
        }
        page.len() < wanted
    };
    if query.descending {
        let end = query
            .after
            .as_ref()
            .map_or(order.len(), |cursor| position(cursor, true));
        for slot in order[..end].iter().rev() {
            if !take(slot) {
                break;
            }
        }
    } else {
        let start = query
            .after
            .as_ref()
            .map_or(0, |cursor| position(cursor, false));
        for slot in &order[start..] {
            if !take(slot) {
                break;
            }
        }
    }
    let next_page_token = if page.len() > query.page_size {
        page.truncate(query.page_size);
        page.last().map(|last| {
            encode_token(
                &query.filter,
                field,
                query.descending,
                &Cursor::after(last, field),
            )
        })
    } else {
        None
    };
    VmPage {
        vms: page,
        next_page_token,
        total,
        revision: fleet.revision(),
    }
}
