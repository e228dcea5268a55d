//! A deadline for every HTTP request: past it the request is dropped (its
//! transaction, if any, rolls back) and the client gets a GraphQL error it
//! can act on, not a hung connection. WebSocket connections outlive their
//! upgrade request and are not limited.

use std::time::Duration;

use axum::{
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::Response,
};

use crate::{graphql::errors, http::graphql::error_response};

pub async fn limit(State(deadline): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                deadline_ms = deadline.as_millis() as u64,
                "request timed out"
            );
            let mut response = error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!(
                    "the request took longer than {} ms and was stopped",
                    deadline.as_millis()
                ),
                errors::TIMEOUT,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    }
}
