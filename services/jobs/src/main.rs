//! `aetherv-jobs`.
fn main() {}
