//! `GET /metrics`, and the count of HTTP responses by route and status.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{app::HttpState, metrics::Metrics};

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub async fn scrape(State(state): State<Arc<HttpState>>) -> Response {
    (
        [(header::CONTENT_TYPE, OPENMETRICS)],
        state.exporter.render(),
    )
        .into_response()
}

/// Counts every response, including those refused by the layers around the
/// routes (body limit, timeout, CSRF).
pub async fn count_responses(
    State(metrics): State<Metrics>,
    request: Request,
    next: Next,
) -> Response {
    let route = route(request.uri().path());
    let response = next.run(request).await;
    metrics.http_response(route, response.status().as_u16());
    response
}

/// The route a path belongs to: a fixed set, so clients cannot create label
/// values by requesting made-up paths.
fn route(path: &str) -> &'static str {
    match path {
        "/graphql" => "/graphql",
        "/graphql/ws" => "/graphql/ws",
        "/health/live" => "/health/live",
        "/health/ready" => "/health/ready",
        "/metrics" => "/metrics",
        _ if path.starts_with("/playground") => "/playground",
        _ => "(other)",
    }
}
