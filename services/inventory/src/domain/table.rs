//! The VM table: records in a slab addressed by a dense `u32` slot (so queries can keep
//! orders and match sets as plain `u32` vectors and bitsets), an id index, and one epoch
//! per sort field that moves only when that field's order may have changed — a VM
//! inserted or removed, or a key of that field changed — so the cached sort orders of
//! [`super::query`] survive refreshes that change nothing they sort by.

use std::collections::HashMap;
use std::sync::Arc;

use aetherv_hyperv::VmId;

use super::model::Vm;
use super::order::{SortField, key_of};

/// A dense index of a VM in the table.
pub type Slot = u32;

/// The table.
#[derive(Debug, Default)]
pub struct VmTable {
    slots: Vec<Option<Arc<Vm>>>,
    free: Vec<Slot>,
    by_id: HashMap<VmId, Slot>,
    epochs: [u64; SortField::ALL.len()],
    /// Each slot's state ordinal ([`EMPTY`] when free), so state filters scan one dense
    /// byte array instead of every record.
    states: Vec<u8>,
}

/// The state byte of a free slot.
pub const EMPTY: u8 = u8::MAX;

impl VmTable {
    /// VMs held.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// One past the highest slot ever used (bitsets are this long).
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The slot of a VM.
    pub fn slot_of(&self, id: &VmId) -> Option<Slot> {
        self.by_id.get(id).copied()
    }

    /// The VM in a slot.
    pub fn get(&self, slot: Slot) -> Option<&Arc<Vm>> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    /// A VM by id.
    pub fn by_id(&self, id: &VmId) -> Option<&Arc<Vm>> {
        self.slot_of(id).and_then(|slot| self.get(slot))
    }

    /// Every occupied slot with its VM, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (Slot, &Arc<Vm>)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(slot, vm)| vm.as_ref().map(|vm| (slot as Slot, vm)))
    }

    /// The state ordinal of every slot ([`EMPTY`] for free ones).
    pub fn states(&self) -> &[u8] {
        &self.states
    }

    /// The epoch of a field's order.
    pub fn epoch(&self, field: SortField) -> u64 {
        self.epochs[field.index()]
    }

    /// Adds a VM whose id is not in the table.
    pub fn insert(&mut self, vm: Arc<Vm>) -> Slot {
        let id = vm.id;
        let state = vm.data.state.ordinal() as u8;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(vm);
                self.states[slot as usize] = state;
                slot
            }
            None => {
                self.slots.push(Some(vm));
                self.states.push(state);
                (self.slots.len() - 1) as Slot
            }
        };
        self.by_id.insert(id, slot);
        self.bump_all();
        slot
    }

    /// Replaces the record in `slot` (same id), moving the epochs of the fields whose key
    /// changed.
    pub fn replace(&mut self, slot: Slot, vm: Arc<Vm>) {
        let Some(entry) = self.slots.get_mut(slot as usize) else {
            return;
        };
        if let Some(old) = entry.as_ref() {
            for field in SortField::ALL {
                if key_of(old, field) != key_of(&vm, field) {
                    self.epochs[field.index()] += 1;
                }
            }
        }
        self.states[slot as usize] = vm.data.state.ordinal() as u8;
        *entry = Some(vm);
    }

    /// Removes the VM in `slot`.
    pub fn remove(&mut self, slot: Slot) -> Option<Arc<Vm>> {
        let vm = self.slots.get_mut(slot as usize)?.take()?;
        self.states[slot as usize] = EMPTY;
        self.by_id.remove(&vm.id);
        self.free.push(slot);
        self.bump_all();
        Some(vm)
    }

    fn bump_all(&mut self) {
        for epoch in &mut self.epochs {
            *epoch += 1;
        }
    }
}
