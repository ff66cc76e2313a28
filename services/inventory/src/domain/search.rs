//! Name search at fleet scale: every VM's lower-cased name laid end to end in one buffer
//! (NUL-separated), rebuilt only when a name changes or a VM comes or goes (the name
//! order's epoch), and searched in a single `memmem` pass — a few hundred microseconds
//! at 50,000 VMs, where visiting each record would chase 50,000 pointers.

use std::sync::{Arc, Mutex, PoisonError};

use memchr::memmem::Finder;

use super::fleet::Fleet;
use super::order::SortField;
use super::table::Slot;

/// The names of one epoch.
#[derive(Debug, Default)]
struct Corpus {
    epoch: u64,
    text: Vec<u8>,
    starts: Vec<u32>,
    slots: Vec<Slot>,
}

/// The cached corpus.
#[derive(Debug, Default)]
pub struct NameIndex {
    corpus: Mutex<Option<Arc<Corpus>>>,
}

impl NameIndex {
    fn corpus(&self, fleet: &Fleet) -> Arc<Corpus> {
        let epoch = fleet.vms().epoch(SortField::Name);
        let mut cached = self.corpus.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(corpus) = cached.as_ref()
            && corpus.epoch == epoch
        {
            return corpus.clone();
        }
        let table = fleet.vms();
        let mut corpus = Corpus {
            epoch,
            text: Vec::with_capacity(table.len() * 16),
            starts: Vec::with_capacity(table.len()),
            slots: Vec::with_capacity(table.len()),
        };
        for (slot, vm) in table.iter() {
            corpus.starts.push(corpus.text.len() as u32);
            corpus.slots.push(slot);
            corpus
                .text
                .extend_from_slice(vm.data.name_folded.as_bytes());
            corpus.text.push(0);
        }
        let corpus = Arc::new(corpus);
        *cached = Some(corpus.clone());
        corpus
    }

    /// A bitset over slots (`capacity` bits) of the VMs whose folded name contains
    /// `needle` (already folded, non-empty).
    pub fn matching(&self, fleet: &Fleet, needle: &str) -> Vec<u64> {
        let capacity = fleet.vms().capacity();
        let mut bits = vec![0u64; capacity.div_ceil(64)];
        if needle.as_bytes().contains(&0) {
            return bits;
        }
        let corpus = self.corpus(fleet);
        let finder = Finder::new(needle.as_bytes());
        let mut from = 0;
        while let Some(found) = finder.find(&corpus.text[from..]) {
            let at = from + found;
            // The entry holding the match; NUL separators keep a match inside one entry.
            let entry = corpus.starts.partition_point(|start| *start as usize <= at) - 1;
            let slot = corpus.slots[entry];
            bits[slot as usize / 64] |= 1 << (slot % 64);
            // Continue at the next entry: one hit per VM is enough.
            from = corpus
                .starts
                .get(entry + 1)
                .map_or(corpus.text.len(), |next| *next as usize);
            if from >= corpus.text.len() {
                break;
            }
        }
        bits
    }
}
