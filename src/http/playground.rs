//! `GET /playground`: GraphiQL, built from `playground/` (see its README) into
//! `playground/dist`, which is embedded in the binary: the page works offline
//! and `cargo run` needs no Node.

use axum::{
    Router,
    extract::Path,
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "playground/dist/"]
struct Assets;

/// The playground's routes, for a router of any state.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/playground", get(page))
        .route("/playground/", get(page))
        .route("/playground/assets/{*file}", get(asset))
}

/// Everything the page loads is Folio's own; it talks only to Folio (HTTP
/// and WebSocket); Monaco needs inline styles, blob workers and data fonts.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
    worker-src 'self' blob:; connect-src 'self' ws: wss:; frame-ancestors 'none'; \
    base-uri 'none'; form-action 'none'";

/// The page itself is small and names the current build's assets, so it is
/// revalidated; the assets have content hashes in their names and never
/// change.
pub async fn page() -> Response {
    serve("index.html", "no-cache")
}

pub async fn asset(Path(file): Path<String>) -> Response {
    serve(
        &format!("assets/{file}"),
        "public, max-age=31536000, immutable",
    )
}

fn serve(path: &str, cache_control: &'static str) -> Response {
    let Some(file) = Assets::get(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let content_type = HeaderValue::from_str(file.metadata.mimetype())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    (
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(cache_control),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                HeaderValue::from_static("same-origin"),
            ),
        ],
        file.data,
    )
        .into_response()
}
