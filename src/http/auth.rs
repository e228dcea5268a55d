//! Who is calling: the `Bearer` credential of an HTTP request or of a
//! WebSocket's `connection_init`, checked the same way for both.

use crate::{
    app::AppState,
    policy::Viewer,
    services::{ServiceError, users},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the authorization must be \"Bearer <token>\"")]
    Malformed,
    #[error("the access token is invalid or expired")]
    Invalid,
    #[error("the access token's user no longer exists")]
    UserGone,
    /// The database could not be reached to check the token's user;
    /// retrying may succeed.
    #[error("the database is unavailable; retry shortly")]
    Unavailable,
    /// The check itself failed otherwise; logged.
    #[error("Internal server error")]
    Internal,
}

/// The viewer named by an `Authorization` value such as `Bearer eyJ…`.
pub async fn viewer_from_bearer(state: &AppState, value: &str) -> Result<Viewer, AuthError> {
    let token = value
        .strip_prefix("Bearer ")
        .map(str::trim)
        .ok_or(AuthError::Malformed)?;
    let user_id = state
        .auth
        .keys
        .verify_access(token)
        .map_err(|_| AuthError::Invalid)?;
    match users::viewer(&state.db, user_id).await {
        Ok(Some(viewer)) => Ok(viewer),
        Ok(None) => Err(AuthError::UserGone),
        Err(err @ ServiceError::Unavailable(_)) => {
            tracing::warn!(error = %err, "loading the viewer failed");
            Err(AuthError::Unavailable)
        }
        Err(err) => {
            tracing::error!(error = %err, "loading the viewer failed");
            Err(AuthError::Internal)
        }
    }
}
