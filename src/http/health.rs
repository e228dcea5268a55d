use std::sync::Arc;

use axum::{Json, extract::State, http::StatusCode};
use serde_json::{Value, json};

use crate::app::HttpState;

/// The process is up and serving HTTP.
pub async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can do its work: the database (and Redis, when configured)
/// answer. 503 names what failed, so a load balancer log says why.
pub async fn ready(State(state): State<Arc<HttpState>>) -> (StatusCode, Json<Value>) {
    let database = state.app.db.ping().await.is_ok();
    let redis = match &state.app.redis {
        None => None,
        Some(redis) => Some(
            redis
                .call(redis::cmd("PING").query_async::<String>(&mut redis.connection()))
                .await
                .is_ok(),
        ),
    };
    let status = |ok: bool| if ok { "ok" } else { "unavailable" };
    let mut checks = json!({ "database": status(database) });
    if let Some(redis) = redis {
        checks["redis"] = json!(status(redis));
    }
    let ready = database && redis.unwrap_or(true);
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(json!({ "status": status(ready), "checks": checks })),
    )
}
