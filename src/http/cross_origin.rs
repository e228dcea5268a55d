//! Who may call Folio from a browser page on another origin.
//!
//! CORS: browsers let pages from the configured origins read Folio's
//! responses (and send `Authorization`); other origins get no CORS headers,
//! so their reads fail in the browser.
//!
//! CSRF: a browser sends some requests cross-site without asking first
//! (a "simple" request: GET or POST with a form or text content type and
//! no custom headers), and those carry the user's ambient credentials.
//! Folio authenticates with a bearer header no other site can attach, but
//! as Apollo Server does it still refuses to run operations on such
//! requests: a POST must be `application/json` (see `graphql`), and a GET
//! must carry a content type that is not a simple one or a non-empty
//! `Apollo-Require-Preflight` / `X-Apollo-Operation-Name` header, which a
//! cross-site page can only send after a preflight this server's CORS
//! policy answers.

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

/// Headers whose presence proves the browser asked first.
const PREFLIGHT_HEADERS: [&str; 2] = ["apollo-require-preflight", "x-apollo-operation-name"];

/// Whether a GET could have been sent cross-site without a preflight, and
/// so must not run (Apollo Server's rule, to the letter).
pub fn is_simple_get(headers: &HeaderMap) -> bool {
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let essence = content_type
            .to_str()
            .ok()
            .and_then(|value| value.split(';').next())
            .map(|essence| essence.trim().to_ascii_lowercase());
        match essence {
            Some(essence) if SIMPLE_CONTENT_TYPES.contains(&essence.as_str()) => {}
            // Any other type, even one that does not parse, needs a
            // preflight to be sent cross-site.
            _ => return false,
        }
    }
    !PREFLIGHT_HEADERS
        .iter()
        .any(|name| headers.get(*name).is_some_and(|value| !value.is_empty()))
}

pub const CSRF_REFUSAL: &str = "this operation has been blocked as a potential cross-site request \
    forgery (CSRF): a GET must carry a Content-Type other than \
    application/x-www-form-urlencoded, multipart/form-data or text/plain (for example \
    application/json), or a non-empty Apollo-Require-Preflight or X-Apollo-Operation-Name header";

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
    fn gets_a_browser_could_send_unasked_are_simple() {
        assert!(is_simple_get(&headers(&[])));
        assert!(is_simple_get(&headers(&[("content-type", "text/plain")])));
        assert!(is_simple_get(&headers(&[(
            "content-type",
            "Multipart/Form-Data; boundary=x"
        )])));
        assert!(is_simple_get(&headers(&[("apollo-require-preflight", "")])));
    }

    #[test]
    fn gets_that_needed_a_preflight_are_not() {
        assert!(!is_simple_get(&headers(&[(
            "content-type",
            "application/json"
        )])));
        assert!(!is_simple_get(&headers(&[("content-type", "not a type")])));
        assert!(!is_simple_get(&headers(&[(
            "apollo-require-preflight",
            "true"
        )])));
        assert!(!is_simple_get(&headers(&[(
            "x-apollo-operation-name",
            "Articles"
        )])));
        assert!(!is_simple_get(&headers(&[
            ("content-type", "text/plain"),
            ("apollo-require-preflight", "1")
        ])));
    }
}
