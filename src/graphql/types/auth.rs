use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};

use super::User;
use crate::{policy::Viewer, services::accounts::Session};

/// Credentials for a new session.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Send as `Authorization: Bearer <accessToken>`.
    pub access_token: String,
    /// Exchange with `refreshSession` for new tokens; each is valid once.
    pub refresh_token: String,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

impl From<Session> for AuthPayload {
    fn from(session: Session) -> Self {
        let viewer = Viewer {
            id: session.user.id,
            role: session.user.role,
        };
        Self {
            access_token: session.access_token,
            refresh_token: session.refresh_token,
            expires_at: session.expires_at,
            user: User::seen_by(session.user, viewer),
        }
    }
}
