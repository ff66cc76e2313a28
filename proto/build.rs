//! Compiles `aetherv/<area>/v1/*.proto` with the vendored `protoc` (no system package
//! needed, no `PROTOC` variable) into tonic servers and clients, plus one file descriptor set for reflection.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "aetherv/common/v1/common.proto",
    "aetherv/remotetasks/v1/remotetasks.proto",
    "aetherv/hostdeploy/v1/hostdeploy.proto",
    "aetherv/inventory/v1/inventory.proto",
    "aetherv/jobs/v1/jobs.proto",
    "aetherv/notifications/v1/notifications.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let well_known = protoc_bin_vendored::include_path()?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    // The compiler is named on the prost config rather than through `PROTOC`, so the build
    // never depends on (or changes) the environment.
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc);
    let includes = [PathBuf::from("."), well_known];
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // prost with small per-call buffers: see src/codec.rs.
        .codec_path("crate::codec::LeanCodec")
        .file_descriptor_set_path(out.join("aetherv_descriptor.bin"))
        .compile_with_config(
            config,
            &PROTOS.iter().map(PathBuf::from).collect::<Vec<_>>(),
            &includes,
        )?;
    Ok(())
}
