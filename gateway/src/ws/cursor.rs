//! Positions in a topic's event stream. A service stamps each event with a number
//! (inventory: the revision; jobs and notifications: the event id). Inventory gives several
//! events one revision when one refresh changed several records, so a position is a number
//! plus how many events of that number were seen:
//!
//! - `Cursor::Through(r)` (`"r"`): every event numbered `r` or lower;
//! - `Cursor::Within(r, n)` (`"r.n"`): every event numbered below `r`, and the first `n` of
//!   those numbered `r` (in the service's order, which its replay preserves).
//!
//! A REST `revision` is a `Through` cursor. An event's own cursor is `Within(r, i + 1)` for
//! the `i`-th (0-based) event numbered `r`, or `Through(r)` for topics whose numbers are
//! unique per event. Resuming from `Within(r, n)` asks the service to replay from `r - 1` and
//! skips the first `n` events numbered `r`.

use std::cmp::Ordering;
use std::fmt;

/// A position in a topic's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// Everything numbered up to and including this.
    Through(u64),
    /// Everything numbered below `.0`, and the first `.1` events numbered `.0`.
    Within(u64, u32),
}

impl Cursor {
    /// A key that orders cursors by what they include.
    fn key(self) -> (u64, u32) {
        match self {
            Cursor::Through(number) => (number, u32::MAX),
            Cursor::Within(number, seen) => (number, seen),
        }
    }

    /// The number (revision or event id) the cursor is at.
    pub fn number(self) -> u64 {
        match self {
            Cursor::Through(number) | Cursor::Within(number, _) => number,
        }
    }

    /// Whether an event with cursor `event` comes after this position (the holder of this
    /// cursor has not seen it).
    pub fn precedes(self, event: Cursor) -> bool {
        event.key() > self.key()
    }

    /// The number to ask a service to replay after, and how many events carrying the next
    /// number to skip then.
    pub fn replay_from(self) -> (u64, Option<(u64, u32)>) {
        match self {
            Cursor::Through(number) => (number, None),
            Cursor::Within(number, seen) => (number.saturating_sub(1), Some((number, seen))),
        }
    }

    /// Parses `"r"` or `"r.n"`.
    pub fn parse(text: &str) -> Option<Cursor> {
        let text = text.trim();
        match text.split_once('.') {
            None => text.parse().ok().map(Cursor::Through),
            Some((number, seen)) => Some(Cursor::Within(number.parse().ok()?, seen.parse().ok()?)),
        }
    }
}

impl PartialOrd for Cursor {
    fn partial_cmp(&self, other: &Cursor) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Cursor {
    fn cmp(&self, other: &Cursor) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cursor::Through(number) => write!(f, "{number}"),
            Cursor::Within(number, seen) => write!(f, "{number}.{seen}"),
        }
    }
}

/// Numbers the events of one stream: the cursor of each event in turn.
#[derive(Debug, Clone, Copy, Default)]
pub struct Numbering {
    last: Option<(u64, u32)>,
    unique: bool,
}

impl Numbering {
    /// For a stream whose events share numbers (`unique = false`, inventory) or not.
    pub fn new(unique: bool) -> Numbering {
        Numbering { last: None, unique }
    }

    /// The cursor of the next event, numbered `number`.
    pub fn next(&mut self, number: u64) -> Cursor {
        if self.unique {
            self.last = Some((number, 1));
            return Cursor::Through(number);
        }
        let seen = match self.last {
            Some((last, seen)) if last == number => seen.saturating_add(1),
            _ => 1,
        };
        self.last = Some((number, seen));
        Cursor::Within(number, seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_order_by_what_they_include() {
        let through = Cursor::Through(10);
        assert!(through.precedes(Cursor::Within(11, 1)));
        assert!(!through.precedes(Cursor::Within(10, 3)));
        let within = Cursor::Within(10, 2);
        assert!(!within.precedes(Cursor::Within(10, 2)));
        assert!(within.precedes(Cursor::Within(10, 3)));
        assert!(within.precedes(Cursor::Within(11, 1)));
        assert!(Cursor::Within(10, 2) < Cursor::Through(10));
        assert!(Cursor::Through(9) < Cursor::Within(10, 1));
    }

    #[test]
    fn cursors_print_and_parse() {
        for cursor in [
            Cursor::Through(0),
            Cursor::Through(42),
            Cursor::Within(42, 3),
        ] {
            assert_eq!(Cursor::parse(&cursor.to_string()), Some(cursor));
        }
        assert_eq!(Cursor::parse("x"), None);
        assert_eq!(Cursor::parse("1.x"), None);
        assert_eq!(Cursor::parse("-1"), None);
    }

    #[test]
    fn numbering_counts_events_per_number() {
        let mut numbering = Numbering::new(false);
        assert_eq!(numbering.next(5), Cursor::Within(5, 1));
        assert_eq!(numbering.next(5), Cursor::Within(5, 2));
        assert_eq!(numbering.next(7), Cursor::Within(7, 1));
        let mut unique = Numbering::new(true);
        assert_eq!(unique.next(5), Cursor::Through(5));
        assert_eq!(Cursor::Within(5, 2).replay_from(), (4, Some((5, 2))));
    }
}
