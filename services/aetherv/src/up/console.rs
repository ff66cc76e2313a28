//! What `aetherv up` prints: its own lines as `[up] …`, each child's as `[name] …`, all on
//! stdout, one whole line at a time.

use std::io::Write as _;

/// The launcher's own prefix.
pub const LAUNCHER: &str = "up";

/// Prints `[up] message`.
pub fn say(message: &str) {
    child(LAUNCHER, message);
}

/// Prints `[name] line`.
pub fn child(name: &str, line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "[{name}] {line}");
    let _ = out.flush();
}
