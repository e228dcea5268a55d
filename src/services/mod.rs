//! Business rules, storage and authorization checks, with no knowledge of
//! GraphQL. Resolvers parse their arguments into domain types, call one
//! function here and map the result.

pub mod accounts;
pub mod articles;
mod authors;
pub mod comments;
pub mod cost_limits;
mod error;
pub mod pagination;
pub mod social;
pub mod tags;
pub mod throttle;
pub mod users;

use chrono::{DateTime, Utc};

pub use error::{ServiceError, ServiceResult, retry_after_secs};
pub use pagination::{Page, TotalCount};

use crate::policy::Viewer;

/// The current time at the precision every backend stores (microseconds), so a
/// timestamp read back equals the one written and cursors built from either
/// compare equal.
pub(crate) fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// The viewer of a write, or UNAUTHENTICATED.
pub(crate) fn require_viewer(viewer: Option<&Viewer>) -> ServiceResult<&Viewer> {
    viewer.ok_or(ServiceError::Unauthenticated(
        "you must be logged in to do this",
    ))
}
