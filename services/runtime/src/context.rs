//! Caller identity and W3C trace context, carried in gRPC metadata between services.
//!
//! - `x-aetherv-caller`: who the call is made for, `user:<name>` or `service:<name>`
//!   (1..=128 characters of `[A-Za-z0-9._@:-]`). Propagated unchanged through a chain of
//!   calls, so the jobs service sees the gateway's user, not "the gateway".
//! - `traceparent`: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`. Each hop keeps
//!   the trace id and sends a new parent id.
//!
//! Server side, [`CallContextLayer`] (installed by the server builder) parses both into a
//! [`CallContext`] request extension and runs the call inside a `grpc` tracing span with
//! the method, caller and trace id. Client side, [`CallContext::attach`] or the
//! [`ContextInterceptor`] writes them on outgoing requests.

use std::fmt;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tonic::metadata::{MetadataMap, MetadataValue};
use tower::{Layer, Service};
use tracing::Instrument;

use crate::api_error::ApiError;

/// Metadata key of the caller identity.
pub const CALLER_HEADER: &str = "x-aetherv-caller";
/// Metadata key of the W3C trace context.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// A caller identity: `user:<name>` or `service:<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Caller(String);

impl Caller {
    /// Parses a header value; the error says what is wrong (never echoes more than the
    /// allowed characters).
    pub fn parse(text: &str) -> Result<Caller, String> {
        let Some((kind, name)) = text.split_once(':') else {
            return Err("expected \"user:<name>\" or \"service:<name>\"".to_string());
        };
        if kind != "user" && kind != "service" {
            return Err("kind must be \"user\" or \"service\"".to_string());
        }
        if name.is_empty() || text.len() > 128 {
            return Err("name must be 1..=128 characters in all".to_string());
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@:-".contains(c))
        {
            return Err("name may only contain letters, digits and . _ @ : -".to_string());
        }
        Ok(Caller(text.to_string()))
    }

    /// `service:<name>`: a service acting on its own behalf (background refresh).
    pub fn service(name: &str) -> Result<Caller, String> {
        Caller::parse(&format!("service:{name}"))
    }

    /// `user:<name>`.
    pub fn user(name: &str) -> Result<Caller, String> {
        Caller::parse(&format!("user:{name}"))
    }

    /// The header text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A W3C trace context (version 00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: u128,
    parent_id: u64,
    flags: u8,
}

impl TraceContext {
    /// A new trace (random ids, sampled flag set).
    pub fn new_root() -> TraceContext {
        TraceContext {
            trace_id: nonzero(rand::random()),
            parent_id: nonzero(rand::random()),
            flags: 1,
        }
    }

    /// The same trace with a new parent id: what the next hop receives.
    pub fn child(&self) -> TraceContext {
        TraceContext {
            parent_id: nonzero(rand::random()),
            ..*self
        }
    }

    /// Parses a `traceparent` value; `None` when invalid (W3C: start a new trace then).
    pub fn parse(text: &str) -> Option<TraceContext> {
        let mut parts = text.trim().split('-');
        let (version, trace, parent, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some()
            || version != "00"
            || trace.len() != 32
            || parent.len() != 16
            || flags.len() != 2
        {
            return None;
        }
        let is_lower_hex = |s: &str| {
            s.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        };
        if ![trace, parent, flags].into_iter().all(is_lower_hex) {
            return None;
        }
        let trace_id = u128::from_str_radix(trace, 16).ok()?;
        let parent_id = u64::from_str_radix(parent, 16).ok()?;
        let flags = u8::from_str_radix(flags, 16).ok()?;
        (trace_id != 0 && parent_id != 0).then_some(TraceContext {
            trace_id,
            parent_id,
            flags,
        })
    }

    /// The trace id, 32 lower-case hex digits.
    pub fn trace_id(&self) -> String {
        format!("{:032x}", self.trace_id)
    }

    /// The header value.
    pub fn to_header(&self) -> String {
        format!(
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id, self.parent_id, self.flags
        )
    }
}

fn nonzero<T: PartialEq + From<u8>>(value: T) -> T {
    if value == T::from(0) {
        T::from(1)
    } else {
        value
    }
}

/// Who a call is for and which trace it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    /// The caller; `None` for anonymous calls (an operator's grpcurl).
    pub caller: Option<Caller>,
    /// The trace the call belongs to.
    pub trace: TraceContext,
}

impl CallContext {
    /// Work a service starts itself (a scheduled refresh): `service:<name>`, a new trace.
    pub fn background(service: &str) -> Result<CallContext, String> {
        Ok(CallContext {
            caller: Some(Caller::service(service)?),
            trace: TraceContext::new_root(),
        })
    }

    /// The context of an incoming request: the one the server layer stored, or else read
    /// from its metadata (an invalid caller is dropped there; the layer refuses it first).
    pub fn from_request<T>(request: &tonic::Request<T>) -> CallContext {
        if let Some(context) = request.extensions().get::<CallContext>() {
            return context.clone();
        }
        CallContext::from_metadata(request.metadata())
    }

    fn from_metadata(metadata: &MetadataMap) -> CallContext {
        let header = |key| metadata.get(key).and_then(|value| value.to_str().ok());
        CallContext {
            caller: header(CALLER_HEADER).and_then(|text| Caller::parse(text).ok()),
            trace: header(TRACEPARENT_HEADER)
                .and_then(TraceContext::parse)
                .unwrap_or_else(TraceContext::new_root),
        }
    }

    /// Writes the caller and a child trace context on an outgoing request.
    pub fn attach<T>(&self, request: &mut tonic::Request<T>) {
        write_metadata(self, request.metadata_mut());
    }

    /// An interceptor for generated clients (`XClient::with_interceptor(channel, ctx.interceptor())`)
    /// that attaches this context to every call.
    pub fn interceptor(&self) -> ContextInterceptor {
        ContextInterceptor(self.clone())
    }
}

fn write_metadata(context: &CallContext, metadata: &mut MetadataMap) {
    if let Some(caller) = &context.caller
        && let Ok(value) = MetadataValue::try_from(caller.as_str())
    {
        metadata.insert(CALLER_HEADER, value);
    }
    if let Ok(value) = MetadataValue::try_from(context.trace.child().to_header()) {
        metadata.insert(TRACEPARENT_HEADER, value);
    }
}

/// Attaches a [`CallContext`] to every request of a client.
#[derive(Debug, Clone)]
pub struct ContextInterceptor(CallContext);

impl tonic::service::Interceptor for ContextInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        write_metadata(&self.0, request.metadata_mut());
        Ok(request)
    }
}

/// Server layer: parses the metadata into a [`CallContext`] extension, refuses an invalid
/// `x-aetherv-caller` with INVALID_ARGUMENT naming the key, and runs the call in a span.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallContextLayer;

impl<S> Layer<S> for CallContextLayer {
    type Service = CallContextService<S>;

    fn layer(&self, inner: S) -> CallContextService<S> {
        CallContextService { inner }
    }
}

/// The service [`CallContextLayer`] wraps around the routes.
#[derive(Debug, Clone)]
pub struct CallContextService<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for CallContextService<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let headers = request.headers();
        let caller = match headers.get(CALLER_HEADER).map(|value| value.to_str()) {
            None => None,
            Some(Ok(text)) => match Caller::parse(text) {
                Ok(caller) => Some(caller),
                Err(description) => return refuse(&description),
            },
            Some(Err(_)) => return refuse("not visible ASCII"),
        };
        let trace = headers
            .get(TRACEPARENT_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(TraceContext::parse)
            .unwrap_or_else(TraceContext::new_root);
        let span = tracing::info_span!(
            "grpc",
            method = %request.uri().path(),
            caller = caller.as_ref().map_or("-", Caller::as_str),
            trace_id = %trace.trace_id(),
        );
        request
            .extensions_mut()
            .insert(CallContext { caller, trace });
        // The ready inner service is taken and a fresh clone left for the next call
        // (tower's rule for services that are driven after `poll_ready`).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move { inner.call(request).await }.instrument(span))
    }
}

fn refuse<E: Send + 'static>(
    description: &str,
) -> BoxFuture<'static, Result<http::Response<tonic::body::Body>, E>> {
    let status = ApiError::new(
        crate::ErrorCode::InvalidArgument,
        format!("metadata {CALLER_HEADER}: {description}"),
    )
    .with_metadata_violation(CALLER_HEADER, description)
    .to_status();
    let response = status.into_http();
    Box::pin(async move { Ok(response) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trips_and_children_keep_the_trace() {
        let text = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let trace = TraceContext::parse(text);
        assert_eq!(trace.map(|t| t.to_header()).as_deref(), Some(text));
        let Some(trace) = trace else { return };
        let child = trace.child();
        assert_eq!(child.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(child.to_header(), text);
    }

    #[test]
    fn invalid_traceparents_are_rejected() {
        for text in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            assert_eq!(TraceContext::parse(text), None, "{text}");
        }
    }

    #[test]
    fn callers_are_validated() {
        assert!(Caller::parse("user:alice@lab.local").is_ok());
        assert!(Caller::parse("service:inventory").is_ok());
        assert!(Caller::parse("alice").is_err());
        assert!(Caller::parse("root:alice").is_err());
        assert!(Caller::parse("user:").is_err());
        assert!(Caller::parse("user:a b").is_err());
        assert!(Caller::parse(&format!("user:{}", "a".repeat(200))).is_err());
    }
}
