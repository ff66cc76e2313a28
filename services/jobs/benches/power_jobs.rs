//! Power jobs bench.
fn main() {}
