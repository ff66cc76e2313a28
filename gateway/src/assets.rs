//! Files built into the binary (by `build.rs`): the web UI (`gateway/ui/`), the API docs
//! page (`gateway/docs/`) and the OpenAPI document. Served with their content type, a
//! strong ETag (`304` on `If-None-Match`) and `Cache-Control: no-cache` (file names carry
//! no hash, so browsers revalidate; the ETag makes that cheap). Unknown paths outside
//! `/api`, `/ws` and `/docs` without a file extension get the UI's `index.html`, so deep
//! links (`/vms/{id}`, `/hosts/{name}`) load the single-page app.

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use crate::error::HttpError;
use aetherv_runtime::ErrorCode;

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Path relative to its directory, `/`-separated.
    pub path: &'static str,
    /// The content.
    pub body: &'static [u8],
    /// Quoted strong ETag.
    pub etag: &'static str,
    /// `Content-Type`.
    pub content_type: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The OpenAPI document (`gateway/openapi.json`).
pub static OPENAPI: Asset = Asset {
    path: "openapi.json",
    body: include_bytes!("../openapi.json"),
    etag: concat!(
        "\"openapi-",
        env!("CARGO_PKG_VERSION"),
        "-",
        env!("OPENAPI_HASH"),
        "\""
    ),
    content_type: "application/json",
};

/// The file at `path` in `set`.
pub fn find(set: &'static [Asset], path: &str) -> Option<&'static Asset> {
    set.binary_search_by(|asset| asset.path.cmp(path))
        .ok()
        .map(|index| &set[index])
}

/// The response for one file: 304 when the client's `If-None-Match` matches.
pub fn serve(asset: &'static Asset, headers: &HeaderMap) -> Response {
    let etag = HeaderValue::from_static(asset.etag);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.trim_start_matches("W/") == asset.etag)
        });
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Response::new(Body::from(asset.body));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A JSON 404 for a path nothing serves.
pub fn no_route(method: &Method, path: &str) -> Response {
    let shown: String = path.chars().take(256).collect();
    HttpError::new(
        ErrorCode::NotFound,
        format!("no route for {method} {shown}"),
    )
    .into_response()
}

/// The router's fallback: UI files, the SPA's `index.html` for deep links, JSON 404s.
pub async fn fallback(request: Request) -> Response {
    let method = request.method();
    let path = request.uri().path();
    let reserved = path == "/api"
        || path.starts_with("/api/")
        || path == "/ws"
        || path.starts_with("/ws/")
        || path.starts_with("/docs/");
    if reserved || !(method == Method::GET || method == Method::HEAD) {
        return no_route(method, path);
    }
    let relative = path.trim_start_matches('/');
    let relative = if relative.is_empty() {
        "index.html"
    } else {
        relative
    };
    if let Some(asset) = find(UI, relative) {
        return serve(asset, request.headers());
    }
    if looks_like_file(relative) {
        return no_route(method, path);
    }
    match find(UI, "index.html") {
        Some(index) => serve(index, request.headers()),
        None => HttpError::new(
            ErrorCode::NotFound,
            "the web ui is not built into this gateway (gateway/ui/index.html is missing)",
        )
        .into_response(),
    }
}

/// Extensions of the files a browser asks for (scripts, styles, images, fonts, maps): a
/// missing one is a 404, not the UI. Deep links end in names with dots of their own
/// (`/hosts/hv01.corp.example`), so "has a dot" is not enough.
const FILE_EXTENSIONS: &[&str] = &[
    "html",
    "htm",
    "js",
    "mjs",
    "css",
    "json",
    "map",
    "webmanifest",
    "svg",
    "png",
    "jpg",
    "jpeg",
    "gif",
    "ico",
    "webp",
    "woff",
    "woff2",
    "ttf",
    "txt",
    "wasm",
    "xml",
];

/// Whether the path's last segment names a static file (by its extension).
fn looks_like_file(relative: &str) -> bool {
    let last = relative.rsplit('/').next().unwrap_or(relative);
    last.rsplit_once('.').is_some_and(|(_, extension)| {
        FILE_EXTENSIONS
            .iter()
            .any(|known| extension.eq_ignore_ascii_case(known))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_sets_are_sorted_for_lookup_and_typed() {
        for set in [UI, DOCS] {
            assert!(set.windows(2).all(|pair| pair[0].path < pair[1].path));
        }
        let Some(page) = find(DOCS, "index.html") else {
            panic!("the docs page is embedded");
        };
        assert_eq!(page.content_type, "text/html; charset=utf-8");
        assert!(find(DOCS, "docs.js").is_some());
        assert!(find(DOCS, "missing.js").is_none());
    }

    #[test]
    fn deep_links_with_dots_are_not_files() {
        assert!(!looks_like_file("hosts/hv-ams-c1-n01.corp.example"));
        assert!(!looks_like_file("hosts/10.0.0.1"));
        assert!(!looks_like_file("vms/3f2a9c1e-0b4d-4e8f-9a51-6c2d7e8f9a01"));
        assert!(looks_like_file("assets/missing.js"));
        assert!(looks_like_file("favicon.ICO"));
        assert!(looks_like_file("css/app.css"));
    }

    #[test]
    fn matching_etags_answer_not_modified() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static(OPENAPI.etag),
        );
        assert_eq!(serve(&OPENAPI, &headers).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(serve(&OPENAPI, &HeaderMap::new()).status(), StatusCode::OK);
    }
}
