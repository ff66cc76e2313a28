//! Embeds the web UI (`ui/`), the API docs page (`docs/`) and the job spec schemas
//! (`../schemas/jobs/`, served under `/api/v1/schemas/jobs`) into the binary: writes
//! `$OUT_DIR/assets.rs` with one `Asset` per file (path relative to its directory, the bytes
//! through `include_bytes!`, a strong ETag from the SHA-256 of the content, and the content
//! type from the extension). Cargo re-runs this script when anything under those
//! directories changes (a directory given to `rerun-if-changed` is scanned recursively).
//! A missing directory embeds nothing. Also exports `OPENAPI_HASH`, the ETag part of
//! `openapi.json`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let mut code = String::new();
    for (name, dir) in [
        ("UI", "ui"),
        ("DOCS", "docs"),
        ("JOB_SCHEMAS", "../schemas/jobs"),
    ] {
        let root = manifest.join(dir);
        println!("cargo:rerun-if-changed={}", root.display());
        let mut files = Vec::new();
        collect(&root, &root, &mut files);
        files.sort();
        let _ = writeln!(
            code,
            "/// Files embedded from `{dir}/` (relative to `gateway/`), sorted by path."
        );
        let _ = writeln!(code, "pub static {name}: &[Asset] = &[");
        for (relative, absolute) in files {
            let bytes = match std::fs::read(&absolute) {
                Ok(bytes) => bytes,
                Err(error) => panic!("cannot read {}: {error}", absolute.display()),
            };
            let digest = Sha256::digest(&bytes);
            let etag: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
            let _ = writeln!(
                code,
                "    Asset {{ path: {relative:?}, body: include_bytes!({absolute:?}), etag: \"\\\"{etag}\\\"\", content_type: {:?} }},",
                content_type(&relative),
                absolute = absolute.display().to_string(),
            );
        }
        let _ = writeln!(code, "];");
    }
    let openapi = manifest.join("openapi.json");
    println!("cargo:rerun-if-changed={}", openapi.display());
    let document = std::fs::read(&openapi).unwrap_or_default();
    let digest = Sha256::digest(&document);
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=OPENAPI_HASH={hash}");
    if let Err(error) = std::fs::write(out_dir.join("assets.rs"), code) {
        panic!("cannot write assets.rs: {error}");
    }
}

/// Every regular file under `dir` (hidden files and editor backups excluded), as
/// (`/`-separated path relative to `root`, absolute path).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.is_file() {
            let relative = path
                .strip_prefix(root)
                .map(|p| {
                    p.components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .unwrap_or(name);
            files.push((relative, path));
        }
    }
}

fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "webp" => "image/webp",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}
