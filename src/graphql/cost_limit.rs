//! Rate limiting by cost, where the cost is known: once the `engine` has
//! computed an operation's complexity and before anything runs. The budget
//! left is reported in the `RateLimit-Limit`, `RateLimit-Remaining` and
//! `RateLimit-Reset` headers (IETF draft names, as most APIs send them); a
//! refusal is RATE_LIMITED with `Retry-After`.

use std::sync::Arc;

use async_graphql::{Response, ServerError};
use axum::http::{HeaderName, HeaderValue};

use super::engine::Caller;
use crate::{
    app::AppState,
    metrics::Limit,
    services::{
        ServiceError,
        cost_limits::{Budget, Charge},
        retry_after_secs,
    },
};

/// Charges the operation's cost (its complexity) to the caller's budgets:
/// the budget to report, and the refusal if it did not fit.
pub(super) async fn charge(
    state: &AppState,
    caller: Caller,
    complexity: usize,
) -> (Option<Budget>, Result<(), ServerError>) {
    // Even an operation that selects nothing costs a request.
    let cost = u64::try_from(complexity).unwrap_or(u64::MAX).max(1);
    let viewer = caller.viewer.map(|viewer| viewer.id);
    match state.cost_limiter.charge(cost, caller.client, viewer).await {
        Charge::Accepted(budget) => (budget, Ok(())),
        Charge::Refused(budget) => {
            state.metrics.rate_limited(Limit::Cost);
            let refusal = ServiceError::RateLimited {
                reason: format!(
                    "this operation costs {cost} and {} of the budget of {} remain in this window",
                    budget.remaining, budget.limit
                ),
                retry_after: budget.resets_in,
            };
            // The message and code come from the source, in `errors`.
            let mut error = ServerError::new(refusal.to_string(), None);
            error.source = Some(Arc::new(refusal));
            (Some(budget), Err(error))
        }
    }
}

/// Puts `budget` in the response's headers.
pub(super) fn report(budget: Option<Budget>, response: &mut Response) {
    let Some(budget) = budget else { return };
    for (name, value) in [
        ("ratelimit-limit", budget.limit),
        ("ratelimit-remaining", budget.remaining),
        ("ratelimit-reset", retry_after_secs(&budget.resets_in)),
    ] {
        response
            .http_headers
            .insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
}
