//! `aetherv-remote-tasks` (placeholder while the crate is written).
fn main() {}
