//! The one place where errors become what clients see.
//!
//! Resolvers return service errors with `?`; async-graphql keeps the original
//! error as the `source` of the GraphQL error, and `finish` (run on every
//! response by the `engine`) reads it back to set the message and
//! `extensions.code` (plus `field` for input errors).
//! Anything without a known source is treated as internal: logged in full,
//! answered as INTERNAL_SERVER_ERROR with no detail, so SQL, paths or stack
//! traces never reach a client.

use std::sync::Arc;

use async_graphql::{Response, ServerError, Value};

use axum::http::{HeaderValue, header};

use crate::metrics::Metrics;
use crate::services::{ServiceError, retry_after_secs};

pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
pub const FORBIDDEN: &str = "FORBIDDEN";
pub const NOT_FOUND: &str = "NOT_FOUND";
pub const CONFLICT: &str = "CONFLICT";
pub const RATE_LIMITED: &str = "RATE_LIMITED";
pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";
/// The database could not be reached; the same request may succeed later.
pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
/// The request ran past `FOLIO_REQUEST_TIMEOUT` and was stopped.
pub const TIMEOUT: &str = "TIMEOUT";
pub const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";

const INTERNAL_MESSAGE: &str = "Internal server error";

/// How long a client is asked to wait before retrying when the database is
/// unavailable: sqlx reconnects on the next checkout, so a restart or a
/// killed connection is usually over by then.
const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 1;

/// The client-facing code of a service error.
pub fn code_of(err: &ServiceError) -> &'static str {
    match err {
        ServiceError::Invalid(_) => BAD_USER_INPUT,
        ServiceError::Conflict { .. } => CONFLICT,
        ServiceError::NotFound(_) => NOT_FOUND,
        ServiceError::Unauthenticated(_) => UNAUTHENTICATED,
        ServiceError::Forbidden(_) => FORBIDDEN,
        ServiceError::RateLimited { .. } => RATE_LIMITED,
        ServiceError::Unavailable(_) => SERVICE_UNAVAILABLE,
        ServiceError::Database(_) | ServiceError::Hash(_) | ServiceError::Token(_) => {
            INTERNAL_SERVER_ERROR
        }
    }
}

/// Gives `err` its client-facing message and extensions.
pub fn classify(err: &mut ServerError) {
    if has_code(err) {
        return;
    }
    let source = err
        .source::<ServiceError>()
        .or_else(|| err.source::<Arc<ServiceError>>().map(AsRef::as_ref));
    let retry_after = match source {
        Some(ServiceError::RateLimited { retry_after, .. }) => Some(retry_after_secs(retry_after)),
        Some(ServiceError::Unavailable(cause)) => {
            tracing::warn!(error = %cause, path = ?err.path, "the database is unavailable");
            Some(UNAVAILABLE_RETRY_AFTER_SECS)
        }
        _ => None,
    };
    let (code, field, message) = match source {
        Some(source) => {
            let code = code_of(source);
            let field = match source {
                ServiceError::Invalid(invalid) => Some(invalid.field),
                ServiceError::Conflict { field, .. } => Some(*field),
                _ => None,
            };
            (
                code,
                field,
                (code != INTERNAL_SERVER_ERROR).then(|| source.to_string()),
            )
        }
        None if names_a_bad_request(err) || is_bad_argument(err) => {
            (BAD_USER_INPUT, None, Some(err.message.clone()))
        }
        None => (INTERNAL_SERVER_ERROR, None, None),
    };
    if code == INTERNAL_SERVER_ERROR {
        tracing::error!(error = %err.message, path = ?err.path, "internal error while resolving");
    }
    err.message = message.unwrap_or_else(|| INTERNAL_MESSAGE.to_owned());
    set_code(err, code);
    if let Some(field) = field {
        err.extensions
            .get_or_insert_with(Default::default)
            .set("field", field);
    }
    if let Some(seconds) = retry_after {
        err.extensions
            .get_or_insert_with(Default::default)
            .set("retryAfter", seconds);
    }
}

/// async-graphql's own refusals of a request it cannot run as sent (which
/// operation to run, or a subscription over HTTP): the client's mistake,
/// worth telling it as is. They carry no source to classify them by.
fn names_a_bad_request(err: &ServerError) -> bool {
    err.path.is_empty()
        && (err.message.starts_with("Unknown operation named")
            || err.message.starts_with("Operation name required")
            || err.message.starts_with("Subscriptions are not supported"))
}

/// async-graphql's refusal of an argument value that does not fit its
/// type (an `Int` outside 32 bits, say): raised while resolving, with the
/// field's path but no source.
fn is_bad_argument(err: &ServerError) -> bool {
    err.source.is_none() && err.message.starts_with("Failed to parse \"")
}

/// The longest `retryAfter` among the errors, for the `Retry-After` header.
fn retry_after(errors: &[ServerError]) -> Option<u64> {
    errors
        .iter()
        .filter_map(|err| err.extensions.as_ref()?.get("retryAfter"))
        .filter_map(|value| match value {
            Value::Number(number) => number.as_u64(),
            _ => None,
        })
        .max()
}

/// The `extensions.code` of `err`, if it has one.
pub fn code(err: &ServerError) -> Option<&str> {
    match err.extensions.as_ref()?.get("code")? {
        Value::String(code) => Some(code),
        _ => None,
    }
}

fn has_code(err: &ServerError) -> bool {
    code(err).is_some()
}

fn set_code(err: &mut ServerError, code: &'static str) {
    err.extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
}

/// An error raised outside a resolver (by the HTTP layer or a validation
/// rule), with its code.
pub fn coded(message: impl Into<String>, code: &'static str) -> ServerError {
    let mut error = ServerError::new(message, None);
    set_code(&mut error, code);
    error
}

/// Completes a response: gives every error its code (and counts it), and
/// turns a rate limit into a `Retry-After` header.
pub(super) fn finish(mut response: Response, metrics: Option<&Metrics>) -> Response {
    for err in &mut response.errors {
        classify(err);
        if let (Some(metrics), Some(code)) = (metrics, code(err)) {
            metrics.error(code);
        }
    }
    if let Some(seconds) = retry_after(&response.errors)
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.http_headers.insert(header::RETRY_AFTER, value);
    }
    response
}

/// A parse failure gets its code, unless a limit checked after parsing
/// gave it its own, and a message of its own size: the parser's quotes the
/// whole line it failed on, twice (the line, then a caret under it), so a
/// 60 KB one-line document got a 120 KB answer.
pub(super) fn parse_failed(mut err: ServerError) -> ServerError {
    if !has_code(&err) {
        set_code(&mut err, GRAPHQL_PARSE_FAILED);
        err.message = concise_syntax_error(&err.message, err.locations.first());
    }
    err
}

/// Characters of the document shown either side of a syntax error.
const EXCERPT_CHARS: usize = 24;

/// pest's report (` --> 1:44`, the line, a caret, `= expected …`) as one
/// line: where, what was expected, and a short excerpt around the place.
fn concise_syntax_error(report: &str, at: Option<&async_graphql::Pos>) -> String {
    let expected = report
        .lines()
        .rev()
        .find_map(|line| line.trim_start().strip_prefix("= "))
        .unwrap_or("unexpected input");
    let expected: String = expected.chars().take(160).collect();
    let Some(at) = at else {
        return format!("syntax error: {expected}");
    };
    let prefix = format!("{} | ", at.line);
    let source = report
        .lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()));
    let mut message = format!(
        "syntax error at line {}, column {}: {expected}",
        at.line, at.column
    );
    if let Some(source) = source {
        let start = at.column.saturating_sub(1 + EXCERPT_CHARS);
        let excerpt: String = source.chars().skip(start).take(2 * EXCERPT_CHARS).collect();
        let before = if start > 0 { "…" } else { "" };
        let after = if source.chars().count() > start + 2 * EXCERPT_CHARS {
            "…"
        } else {
            ""
        };
        message.push_str(&format!(", near \"{before}{}{after}\"", excerpt.trim()));
    }
    message
}

/// Gives validation failures their code, in the response of an operation
/// that did not run: async-graphql's own errors, which have no path, no
/// source and no code (other than its refusals of a request it cannot run
/// as sent).
pub(super) fn validation_failed(response: &mut Response) {
    if response.data != Value::Null {
        return;
    }
    let unexplained = |err: &&mut ServerError| {
        err.path.is_empty() && err.source.is_none() && !has_code(err) && !names_a_bad_request(err)
    };
    for err in response.errors.iter_mut().filter(unexplained) {
        set_code(err, GRAPHQL_VALIDATION_FAILED);
    }
    // A document can be written to break every rule many times over; past
    // a hundred errors the client learns nothing more (graphql-js stops
    // at the same count, with the same last error).
    if response.errors.len() > MAX_VALIDATION_ERRORS {
        response.errors.truncate(MAX_VALIDATION_ERRORS);
        response.errors.push(coded(
            "Too many validation errors, error limit reached. Validation aborted.",
            GRAPHQL_VALIDATION_FAILED,
        ));
    }
}

/// The error that replaces a response of `size` bytes, over `limit`.
pub fn too_large(size: usize, limit: usize) -> ServerError {
    coded(
        format!(
            "the response would be {size} bytes, more than the {limit} a response may be; select fewer fields or smaller pages"
        ),
        BAD_USER_INPUT,
    )
}

/// Most errors a refused document is answered with.
pub const MAX_VALIDATION_ERRORS: usize = 100;
