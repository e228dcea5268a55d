//! Who is calling: the `Bearer` credential of an HTTP request or of a
//! WebSocket's `connection_init`, checked the same way for both.

use chrono::{DateTime, Utc};

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
    #[error("the access token's session has ended or its user no longer exists")]
    UserGone,
    /// The database could not be reached to check the token's user;
    /// retrying may succeed.
    #[error("the database is unavailable; retry shortly")]
    Unavailable,
    /// The check itself failed otherwise; logged.
    #[error("Internal server error")]
    Internal,
}

/// Who a valid credential names, in which session, until when.
#[derive(Debug, Clone, Copy)]
pub struct Credential {
    pub viewer: Viewer,
    pub session_id: i64,
    pub expires_at: DateTime<Utc>,
}

/// The viewer named by an `Authorization` value such as `Bearer eyJ…`. The
/// scheme is matched without regard to case (RFC 7235); the user must
/// still exist and the token's session still be live.
pub async fn viewer_from_bearer(state: &AppState, value: &str) -> Result<Credential, AuthError> {
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Malformed);
    }
    let claims = state
        .auth
        .keys
        .verify_access(token.trim())
        .map_err(|_| AuthError::Invalid)?;
    let live = users::viewer(&state.db, claims.user_id, claims.session_id).await;
    match live {
        Ok(Some(viewer)) => Ok(Credential {
            viewer,
            session_id: claims.session_id,
            expires_at: claims.expires_at,
        }),
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

/// How often an open socket's credential is checked again even when no
/// signal came: the signal of a change made where no event bus reaches
/// (`folio user promote` on an instance without Redis) is late by at most
/// this.
const RECHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Why a socket's credential stopped holding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    /// The access token expired: the client may refresh and reconnect.
    Expired,
    /// The session ended, or the user's role or account changed.
    Revoked,
}

/// The authority a WebSocket was opened with, held to what is true now:
/// every operation started on the socket checks it as an HTTP request
/// would, and the socket ends when it expires or when a signal (or the
/// periodic check) shows it changed. Events delivered in between need no
/// check of their own: the socket they go to still has the authority its
/// subscriptions were started with.
pub struct Authority {
    state: AppState,
    credential: Option<Credential>,
    revoked: tokio_util::sync::CancellationToken,
}

impl Authority {
    pub fn new(state: AppState, credential: Option<Credential>) -> Self {
        Self {
            state,
            credential,
            revoked: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// Whether the credential still holds exactly as it did at
    /// `connection_init`: unexpired, its session live, the same role.
    /// Anonymous sockets have nothing to lose.
    pub async fn holds(&self) -> Result<bool, AuthError> {
        let Some(credential) = self.credential else {
            return Ok(true);
        };
        if credential.expires_at <= Utc::now() {
            return Ok(false);
        }
        match users::viewer(&self.state.db, credential.viewer.id, credential.session_id).await {
            Ok(current) => Ok(current == Some(credential.viewer)),
            Err(ServiceError::Unavailable(_)) => Err(AuthError::Unavailable),
            Err(err) => {
                tracing::error!(error = %err, "checking a socket's credential failed");
                Err(AuthError::Internal)
            }
        }
    }

    /// Marks the credential as no longer holding; `lost` then completes.
    pub fn revoke(&self) {
        self.revoked.cancel();
    }

    /// Completes when the credential stops holding. A check the database
    /// cannot answer keeps the socket open: an outage must not drop every
    /// subscriber at once.
    pub async fn lost(&self) -> Lost {
        let Some(credential) = self.credential else {
            return std::future::pending().await;
        };
        let left = (credential.expires_at - Utc::now())
            .to_std()
            .unwrap_or_default();
        let expiry = tokio::time::sleep(left);
        tokio::pin!(expiry);
        let mut changes = self.state.events.account_changes();
        let mut recheck = tokio::time::interval(RECHECK_EVERY);
        recheck.tick().await;
        loop {
            tokio::select! {
                () = &mut expiry => return Lost::Expired,
                () = self.revoked.cancelled() => return Lost::Revoked,
                changed = changes.recv() => match changed {
                    Ok(user_id) if user_id != credential.viewer.id => continue,
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        changes = self.state.events.account_changes();
                        continue;
                    }
                },
                _ = recheck.tick() => {}
            }
            // Boxed: every socket's task holds this future for its whole
            // life, and the check (a database read) would make it kilobytes
            // larger though it runs only on a signal.
            if let Ok(false) = Box::pin(self.holds()).await {
                return Lost::Revoked;
            }
        }
    }
}
