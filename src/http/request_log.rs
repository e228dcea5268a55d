//! One span per HTTP request, carrying its request id: taken from the
//! client's (or proxy's) `X-Request-Id`, or generated, and returned in the
//! response. The span records method and path only: query strings can hold
//! GraphQL variables, which stay out of logs. The GraphQL layer adds the
//! operation names and error codes; the request's last event gives status
//! and duration.

use std::time::Duration;

use axum::{
    body::Body,
    http::{Request, Response},
};
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::{HttpMakeClassifier, TraceLayer},
};
use tracing::Span;

/// Longest client-sent `X-Request-Id` kept.
const MAX_REQUEST_ID: usize = 128;

/// Drops a client's `X-Request-Id` unless it is short and plain (letters,
/// digits, `-`, `_`, `.`, `:`), so that `set_request_id` makes a new one:
/// the id goes into every log line of the request, where quotes, spaces
/// or newlines could forge fields or lines, and its length is the client's
/// choice.
pub async fn refuse_unplain_request_id(mut request: Request<Body>) -> Request<Body> {
    let plain = |value: &[u8]| {
        !value.is_empty()
            && value.len() <= MAX_REQUEST_ID
            && value
                .iter()
                .all(|byte| byte.is_ascii_alphanumeric() || b"-_.:".contains(byte))
    };
    let headers = request.headers_mut();
    let ids = headers.get_all("x-request-id").iter().count();
    let keep = ids == 1
        && headers
            .get("x-request-id")
            .is_some_and(|id| plain(id.as_bytes()));
    if ids > 0 && !keep {
        headers.remove("x-request-id");
    }
    request
}

pub fn set_request_id() -> SetRequestIdLayer<MakeRequestUuid> {
    SetRequestIdLayer::x_request_id(MakeRequestUuid)
}

pub fn propagate_request_id() -> PropagateRequestIdLayer {
    PropagateRequestIdLayer::x_request_id()
}

type MakeSpan = fn(&Request<Body>) -> Span;
type OnResponse = fn(&Response<Body>, Duration, &Span);

pub fn trace() -> TraceLayer<HttpMakeClassifier, MakeSpan, (), OnResponse> {
    TraceLayer::new_for_http()
        .make_span_with(span as MakeSpan)
        .on_request(())
        .on_response(finished as OnResponse)
}

fn span(request: &Request<Body>) -> Span {
    let id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
        operation = tracing::field::Empty,
        errors = tracing::field::Empty,
    )
}

/// Names the GraphQL operations the current request runs, on its span.
pub fn record_operations(names: &[Option<String>]) {
    let names: Vec<&str> = names
        .iter()
        .map(|name| name.as_deref().unwrap_or("(anonymous)"))
        .collect();
    Span::current().record("operation", names.join(",").as_str());
}

/// Notes the error codes of the current request's responses, on its span.
pub fn record_error_codes(codes: &[&str]) {
    if !codes.is_empty() {
        Span::current().record("errors", codes.join(",").as_str());
    }
}

fn finished(response: &Response<Body>, latency: Duration, _: &Span) {
    tracing::info!(
        status = response.status().as_u16(),
        duration_ms = latency.as_secs_f64() * 1000.0,
        "finished"
    );
}
