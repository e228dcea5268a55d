//! HTTP caching of GraphQL responses: `Cache-Control` from the schema's
//! cache hints, and `ETag` / `If-None-Match` revalidation for GET.
//!
//! Only an anonymous GET whose fields are all public may be stored by
//! shared caches: an authenticated answer, or one with a private field
//! (`viewer`, `email`, `viewerHasFavorited`, …), is `private, no-store`.

use async_graphql::{BatchResponse, CacheControl};
use axum::http::{HeaderMap, HeaderValue, header};
use sha2::{Digest, Sha256};

/// How the request that produced a response was made.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub get: bool,
    pub anonymous: bool,
}

/// The `Cache-Control` value for `response`.
pub fn cache_control(request: Request, response: &BatchResponse) -> String {
    match response {
        BatchResponse::Single(single) => {
            for_hints(request, single.cache_control, !single.errors.is_empty())
        }
        BatchResponse::Batch(_) => "no-store".to_owned(),
    }
}

/// The `Cache-Control` value for a response with `hints`.
pub fn for_hints(request: Request, hints: CacheControl, failed: bool) -> String {
    let public = hints.public && request.anonymous;
    if !public {
        return "private, no-store".to_owned();
    }
    if request.get && hints.max_age > 0 && !failed {
        format!("public, max-age={}", hints.max_age)
    } else {
        "no-store".to_owned()
    }
}

/// A validator for `body`. Weak, because the bytes sent differ with the
/// compression the client accepts while the content is the same.
pub fn etag(body: &str) -> HeaderValue {
    let digest = Sha256::digest(body.as_bytes());
    let hex: String = digest[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    HeaderValue::from_str(&format!("W/\"{hex}\"")).expect("hex is a valid header value")
}

/// Whether the client's `If-None-Match` names `etag` (weak comparison, as
/// RFC 9110 asks for this header).
pub fn not_modified(request_headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(etag) = etag.to_str().ok().map(|etag| etag.trim_start_matches("W/")) else {
        return false;
    };
    request_headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|candidate| candidate.trim().trim_start_matches("W/"))
        .any(|candidate| candidate == "*" || candidate == etag)
}
