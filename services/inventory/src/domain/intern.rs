//! String interning for the texts that repeat across the fleet (host, cluster, switch,
//! adapter and OS names, configuration versions): one allocation per distinct text, an
//! 8-byte pointer per use. Texts nobody holds any more are swept when the table has
//! doubled since the last sweep, so a fleet that renames things does not grow it forever.

use std::collections::HashSet;
use std::sync::Arc;

use super::model::Text;

/// The interning table. Owned by the fleet model (one writer at a time).
#[derive(Debug, Default)]
pub struct Interner {
    table: HashSet<Text>,
    swept_at: usize,
}

impl Interner {
    /// The shared copy of `text`.
    pub fn intern(&mut self, text: &str) -> Text {
        if let Some(existing) = self.table.get(text) {
            return existing.clone();
        }
        if self.table.len() >= 1024 && self.table.len() >= self.swept_at.saturating_mul(2) {
            self.sweep();
        }
        let shared: Text = Arc::from(text);
        self.table.insert(shared.clone());
        shared
    }

    /// The shared lower-cased copy of `text`.
    pub fn intern_lower(&mut self, text: &str) -> Text {
        if text.chars().any(char::is_uppercase) {
            self.intern(&text.to_lowercase())
        } else {
            self.intern(text)
        }
    }

    /// Drops the texts only the table holds.
    pub fn sweep(&mut self) {
        self.table.retain(|text| Arc::strong_count(text) > 1);
        self.swept_at = self.table.len();
    }

    /// Distinct texts held.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_share_one_allocation_and_unused_ones_are_swept() {
        let mut interner = Interner::default();
        let a = interner.intern("vSwitch-Prod");
        let b = interner.intern("vSwitch-Prod");
        assert!(Arc::ptr_eq(&a, &b));
        let lower = interner.intern_lower("Cluster-A");
        assert_eq!(&*lower, "cluster-a");
        drop(lower);
        interner.sweep();
        assert_eq!(interner.len(), 1, "only the text still held survives");
    }
}
