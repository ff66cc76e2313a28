//! An HTTP/1.1 client (hyper-util's pooled client: sequential requests reuse one
//! keep-alive connection) returning status, headers and the whole body, gzip decoded.

use std::io::Read as _;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::error::Error;

/// One answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body, decoded from gzip when it was compressed.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Result<Value, Error> {
        serde_json::from_slice(&self.body).map_err(|error| Error::Unexpected {
            from: "the gateway".to_string(),
            message: format!(
                "body is not json ({error}): status {} body {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            ),
        })
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

/// A pooled client.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for HttpClient {
    fn default() -> HttpClient {
        HttpClient::new()
    }
}

impl HttpClient {
    /// A new client (its own connection pool).
    pub fn new() -> HttpClient {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        HttpClient {
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    /// Sends `method url` with `headers` and `body`.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Reply, Error> {
        let failed = |message: String| Error::Http {
            method: method.to_string(),
            url: url.to_string(),
            message,
        };
        let mut builder = Request::builder().method(method.clone()).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Full::new(Bytes::copy_from_slice(body)))
            .map_err(|e| failed(e.to_string()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let (parts, body) = response.into_parts();
        let raw = body
            .collect()
            .await
            .map_err(|e| failed(format!("body: {e}")))?
            .to_bytes();
        let gzip = parts
            .headers
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes() == b"gzip");
        let body = if gzip {
            let mut decoded = Vec::new();
            flate2::read::GzDecoder::new(raw.as_ref())
                .read_to_end(&mut decoded)
                .map_err(|e| failed(format!("gzip body does not decode: {e}")))?;
            Bytes::from(decoded)
        } else {
            raw
        };
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// `GET url`.
    pub async fn get(&self, url: &str) -> Result<Reply, Error> {
        self.send(Method::GET, url, &[], b"").await
    }

    /// `POST url` without a body.
    pub async fn post(&self, url: &str) -> Result<Reply, Error> {
        self.send(Method::POST, url, &[], b"").await
    }

    /// `PATCH url` with a JSON body.
    pub async fn patch_json(&self, url: &str, body: &Value) -> Result<Reply, Error> {
        self.send(
            Method::PATCH,
            url,
            &[("content-type", "application/json")],
            body.to_string().as_bytes(),
        )
        .await
    }
}
