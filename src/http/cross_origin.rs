//! Who may call Folio from a browser page on another origin.
//!
//! CORS: browsers let pages from the configured origins read Folio's
//! responses (and send `Authorization`); other origins get no CORS headers,
//! so their reads fail in the browser.
//!
//! CSRF: a browser sends some requests cross-site without asking first (a
//! "simple" request: GET, or POST with a form or text content type, and no
//! custom headers), and would attach the user's cookies to them. Folio
//! reads credentials only from the `Authorization` header, which a page on
//! another site cannot attach without a preflight, so such a request
//! always runs anonymously. What is left to refuse:
//!
//! - a GET runs queries only (mutations get 405, see `graphql`), so a
//!   cross-site GET is an anonymous read whose answer that site cannot
//!   read: GET queries need no preflight header, and urql's default
//!   client, which sends them with none, works;
//! - a POST must declare a JSON body (415 otherwise), so no page on another
//!   site can have its visitors' browsers send mutations (an anonymous
//!   `register` from each visitor's address, say) as a form or text post.
//!   With CSRF prevention off (`FOLIO_CSRF_PREVENTION=false`) a POST may
//!   also carry its JSON as one of the simple types, which spares a
//!   cross-origin client the preflight.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The allowed origins, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// Any origin (`*`).
    Any,
    /// These exact origins; none at all means no cross-origin access.
    List(Vec<HeaderValue>),
}

/// Headers a client may send cross-origin.
const REQUEST_HEADERS: [&str; 8] = [
    "content-type",
    "authorization",
    "accept",
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "x-request-id",
    "apollographql-client-name",
    "apollographql-client-version",
];

/// Response headers a cross-origin page may read.
const EXPOSED_HEADERS: [&str; 6] = [
    "x-request-id",
    "retry-after",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "etag",
];

/// How long a browser may reuse a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The CORS layer for `origins`, or none when no origin is allowed.
pub fn cors(origins: &AllowedOrigins) -> Option<CorsLayer> {
    let allow_origin = match origins {
        AllowedOrigins::Any => AllowOrigin::any(),
        AllowedOrigins::List(list) if list.is_empty() => return None,
        AllowedOrigins::List(list) => AllowOrigin::list(list.iter().cloned()),
    };
    let names = |names: &[&'static str]| -> Vec<HeaderName> {
        names
            .iter()
            .map(|name| HeaderName::from_static(name))
            .collect()
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers(names(&REQUEST_HEADERS))
            .expose_headers(names(&EXPOSED_HEADERS))
            .max_age(PREFLIGHT_MAX_AGE),
    )
}

/// Content types a browser sends cross-site without a preflight.
const SIMPLE_CONTENT_TYPES: [&str; 3] = [
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
];

/// Whether a browser could send a request with this content type
/// cross-site without a preflight. A type that does not parse is not one.
pub fn is_simple_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| {
            SIMPLE_CONTENT_TYPES.contains(&essence.trim().to_ascii_lowercase().as_str())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn the_types_a_form_or_a_fetch_without_preflight_sends_are_simple() {
        for simple in [
            "text/plain",
            "text/plain; charset=utf-8",
            "Application/X-WWW-Form-Urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            assert!(
                is_simple_content_type(&headers(&[("content-type", simple)])),
                "{simple}"
            );
        }
    }

    #[test]
    fn other_types_and_none_are_not() {
        assert!(!is_simple_content_type(&headers(&[])));
        for other in ["application/json", "not a type", "text/html"] {
            assert!(
                !is_simple_content_type(&headers(&[("content-type", other)])),
                "{other}"
            );
        }
    }
}
