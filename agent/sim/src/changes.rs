//! Change detection for `inventory.watch`: what a mutation of a host's model did to its
//! VMs, as the agent protocol's event lines. [`SimHost`](crate::SimHost) takes a
//! [`Fingerprint`] of the model before and after every access while someone watches, and
//! broadcasts the differences, so every mutation — agent operations, out-of-band changes
//! of the control API, power transitions settling — reaches the watchers as it happens,
//! without polling.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hasher};

use aetherv_hyperv::{EventChange, EventLine, VmId};

use crate::model::HostModel;

/// How many changes a watcher may fall behind before it gets a host-wide event instead.
pub const CHANGE_BUFFER: usize = 256;

/// A hash of everything about each VM that inventory reports (its settings, state, NICs,
/// disks and the sizes of its disk files), by VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    by_vm: Vec<(VmId, u64)>,
}

/// A `fmt::Write` that hashes what is written, so a VM's `Debug` form is hashed without
/// building the string.
struct HashWriter(DefaultHasher);

impl std::fmt::Write for HashWriter {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.write(s.as_bytes());
        Ok(())
    }
}

impl Fingerprint {
    /// The fingerprint of `model` as it is.
    pub fn of(model: &HostModel) -> Fingerprint {
        let by_vm = model
            .vms()
            .iter()
            .map(|vm| {
                let mut hasher = HashWriter(DefaultHasher::new());
                let _ = write!(hasher, "{vm:?}");
                for disk in &vm.disks {
                    if let Some(file) = model.file(&disk.path) {
                        hasher.0.write_u64(file.capacity_bytes);
                        hasher.0.write_u64(file.file_size_bytes);
                    }
                }
                (vm.id, hasher.0.finish())
            })
            .collect();
        Fingerprint { by_vm }
    }

    /// The event lines that lead from `self` to `after`: created, modified, deleted.
    pub fn changes_to(&self, after: &Fingerprint) -> Vec<EventLine> {
        if self == after {
            return Vec::new();
        }
        let before: HashMap<VmId, u64> = self.by_vm.iter().copied().collect();
        let after_ids: HashSet<VmId> = after.by_vm.iter().map(|(id, _)| *id).collect();
        let mut lines: Vec<EventLine> = after
            .by_vm
            .iter()
            .filter_map(|(id, hash)| match before.get(id) {
                None => Some(EventLine::vm(EventChange::Created, *id)),
                Some(old) if old != hash => Some(EventLine::vm(EventChange::Modified, *id)),
                Some(_) => None,
            })
            .collect();
        lines.extend(
            self.by_vm
                .iter()
                .filter(|(id, _)| !after_ids.contains(id))
                .map(|(id, _)| EventLine::vm(EventChange::Deleted, *id)),
        );
        lines
    }
}
