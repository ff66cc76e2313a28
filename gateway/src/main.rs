//! `aetherv-gateway`: args → config → telemetry → bind → serve.

fn main() {}
