//! A small HTTP/1.1 client for the tests (hyper-util's), returning status, headers and
//! the whole body; gzip bodies are decoded when asked.

use std::io::Read;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// One answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body, decoded from gzip when it was compressed.
    pub body: Bytes,
    /// Bytes on the wire (compressed size).
    pub wire_bytes: usize,
}

impl Reply {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        match serde_json::from_slice(&self.body) {
            Ok(value) => value,
            Err(error) => panic!(
                "body is not json ({error}): status {} body {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            ),
        }
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends a request with `headers` and `body`.
pub async fn send(method: Method, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut builder = Request::builder().method(method.clone()).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = match builder.body(Full::new(Bytes::copy_from_slice(body))) {
        Ok(request) => request,
        Err(error) => panic!("bad request {method} {url}: {error}"),
    };
    let response = match client.request(request).await {
        Ok(response) => response,
        Err(error) => panic!("{method} {url} failed: {error}"),
    };
    let (parts, body) = response.into_parts();
    let raw = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => panic!("{method} {url}: body failed: {error}"),
    };
    let wire_bytes = raw.len();
    let gzip = parts
        .headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes() == b"gzip");
    let body = if gzip {
        let mut decoded = Vec::new();
        if let Err(error) = flate2::read::GzDecoder::new(raw.as_ref()).read_to_end(&mut decoded) {
            panic!("{method} {url}: gzip body does not decode: {error}");
        }
        Bytes::from(decoded)
    } else {
        raw
    };
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
        wire_bytes,
    }
}

/// `GET url`.
pub async fn get(url: &str) -> Reply {
    send(Method::GET, url, &[], b"").await
}

/// `POST url` without a body.
pub async fn post(url: &str) -> Reply {
    send(Method::POST, url, &[], b"").await
}
