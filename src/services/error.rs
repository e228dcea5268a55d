use sea_orm::DbErr;

use crate::{
    auth::{password::HashError, tokens::TokenError},
    db,
    domain::ValidationError,
};

/// Everything a service can refuse or fail with. Each variant's doc says what
/// the client sees; `graphql::errors` does that mapping, in one place.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// BAD_USER_INPUT, naming the offending field.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// CONFLICT, naming the field whose value is taken.
    #[error("{message}")]
    Conflict {
        field: &'static str,
        message: String,
    },
    /// NOT_FOUND: the object does not exist, or not for this viewer.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// UNAUTHENTICATED: no viewer, or bad credentials.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// FORBIDDEN: the viewer is known but may not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// RATE_LIMITED, with `extensions.retryAfter` (seconds) and a
    /// `Retry-After` header.
    #[error("{reason}; retry in {} seconds", retry_after_secs(.retry_after))]
    RateLimited {
        reason: String,
        retry_after: std::time::Duration,
    },
    /// SERVICE_UNAVAILABLE: the database could not be reached or dropped
    /// the connection (restarted, connection killed, pool exhausted), so
    /// the same request may succeed when retried. Logged server-side.
    #[error("the database is unavailable; retry shortly")]
    Unavailable(DbErr),
    /// INTERNAL_SERVER_ERROR, with no detail: logged server-side only.
    #[error("database error: {0}")]
    Database(DbErr),
    /// INTERNAL_SERVER_ERROR.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// INTERNAL_SERVER_ERROR.
    #[error(transparent)]
    Token(#[from] TokenError),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl From<DbErr> for ServiceError {
    fn from(err: DbErr) -> Self {
        if db::is_unavailable(&err) {
            Self::Unavailable(err)
        } else {
            Self::Database(err)
        }
    }
}

impl ServiceError {
    pub fn conflict(field: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            field,
            message: message.into(),
        }
    }
}

/// Whole seconds to wait, rounded up so a client never retries too early.
pub fn retry_after_secs(retry_after: &std::time::Duration) -> u64 {
    retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)
}
