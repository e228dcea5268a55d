//! `GET /playground`: GraphiQL, built from `playground/` (see its README) into
//! `playground/dist`, which is embedded in the binary: the page works offline
//! and `cargo run` needs no Node.

use axum::{
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "playground/dist/"]
struct Assets;

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
        ],
        file.data,
    )
        .into_response()
}
