//! The Aether-V v1 gRPC contract: the `.proto` files under `aetherv/<area>/v1/` and the
//! prost messages, tonic servers and tonic clients generated from them by `build.rs` (with
//! the vendored `protoc`, so a fresh machine needs no system package). Every service crate
//! implements one of these services; the gateway and sibling services call them through the
//! generated clients; `aetherv-runtime` serves [`FILE_DESCRIPTOR_SET`] for reflection. This
//! crate has no logic.

pub mod codec;

/// Shared messages: ids, `ErrorDetail`, paging, entity references.
pub mod common {
    /// `aetherv.common.v1`.
    pub mod v1 {
        tonic::include_proto!("aetherv.common.v1");
    }
}

/// `RemoteTasks`: agent operations on hosts, limits, metrics, the configured fleet.
pub mod remotetasks {
    /// `aetherv.remotetasks.v1`.
    pub mod v1 {
        tonic::include_proto!("aetherv.remotetasks.v1");
    }
}

/// `HostDeploy`: the agent bundle and per-host readiness.
pub mod hostdeploy {
    /// `aetherv.hostdeploy.v1`.
    pub mod v1 {
        tonic::include_proto!("aetherv.hostdeploy.v1");
    }
}

/// `Inventory`: clusters, hosts, VMs and the revisioned change stream.
pub mod inventory {
    /// `aetherv.inventory.v1`.
    pub mod v1 {
        tonic::include_proto!("aetherv.inventory.v1");
    }
}

/// `Jobs`: job submission, state, output and the event stream.
pub mod jobs {
    /// `aetherv.jobs.v1`.
    pub mod v1 {
        tonic::include_proto!("aetherv.jobs.v1");
    }
}

/// `Notifications`: operator notifications and their event stream.
pub mod notifications {
    /// `aetherv.notifications.v1`.
    pub mod v1 {
        tonic::include_proto!("aetherv.notifications.v1");
    }
}

/// The encoded `FileDescriptorSet` of every `aetherv.*.v1` file (and the well-known types
/// they import), for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("aetherv_descriptor");

/// Fully-qualified names of the five product services, as reflection lists them.
pub const SERVICE_NAMES: &[&str] = &[
    "aetherv.remotetasks.v1.RemoteTasks",
    "aetherv.hostdeploy.v1.HostDeploy",
    "aetherv.inventory.v1.Inventory",
    "aetherv.jobs.v1.Jobs",
    "aetherv.notifications.v1.Notifications",
];

/// The diagnostics service every server registers (through `aetherv-runtime`).
pub const DIAGNOSTICS_SERVICE_NAME: &str = "aetherv.common.v1.Diagnostics";
