//! The Aether-V v1 gRPC contract.
