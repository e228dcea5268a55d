//! A body over the limit gets its 413, also when the client writes the
//! whole body before it reads the answer (Python's urllib, many HTTP
//! libraries). Answering at once and closing leaves the unread body in the
//! socket, and the kernel then resets the connection, so such a client saw
//! a broken pipe instead of the answer. A body declared too large is read
//! and thrown away first, as nginx's lingering close does, up to
//! [`DRAIN_BYTES`] and [`DRAIN_TIME`]: past those the client is sending far
//! more than any request holds, and is cut off.

use std::time::Duration;

use axum::{
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::Response,
};
use futures_util::StreamExt;

use super::graphql::{TOO_LARGE, error_response};
use crate::graphql::errors;

/// Most bytes of a refused body read to answer it.
pub const DRAIN_BYTES: u64 = 8 * 1024 * 1024;

/// Longest time spent reading a refused body.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Refuses a request whose `Content-Length` is over `limit`, after reading
/// its body when that is at most [`DRAIN_BYTES`]. Bodies sent without a
/// length are cut at the limit while they are read (`RequestBodyLimitLayer`).
pub async fn refuse_oversized(
    State(limit): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let Some(length) = declared.filter(|length| *length > limit as u64) else {
        return next.run(request).await;
    };
    // A client that asked to continue waits for this answer before it
    // sends the body: there is nothing to read.
    let waiting = request.headers().contains_key(header::EXPECT);
    if length <= DRAIN_BYTES && !waiting {
        let mut body = request.into_body().into_data_stream();
        let _ = tokio::time::timeout(DRAIN_TIME, async {
            while let Some(Ok(_)) = body.next().await {}
        })
        .await;
    }
    let mut response = error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        TOO_LARGE,
        errors::BAD_USER_INPUT,
    );
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
