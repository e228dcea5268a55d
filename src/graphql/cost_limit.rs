//! Rate limiting by cost, where the cost is known: after validation has
//! computed an operation's complexity and before anything runs. The budget
//! left is reported in the `RateLimit-Limit`, `RateLimit-Remaining` and
//! `RateLimit-Reset` headers (IETF draft names, as most APIs send them); a
//! refusal is RATE_LIMITED with `Retry-After`.

use std::sync::Arc;

use async_graphql::{Response, ServerError, extensions::ExtensionContext};
use axum::http::{HeaderName, HeaderValue};

use super::RequestData;
use crate::{
    app::AppState,
    metrics::Limit,
    services::{
        ServiceError,
        cost_limits::{Budget, Charge},
        retry_after_secs,
    },
};

/// Charges the operation's cost (`complexity`, from validation) to the
/// client's budgets: the budget to report, and the refusal if it did not fit.
pub(super) async fn charge(
    ctx: &ExtensionContext<'_>,
    complexity: usize,
) -> (Option<Budget>, Result<(), ServerError>) {
    let (Some(state), Some(request)) = (ctx.data_opt::<AppState>(), ctx.data_opt::<RequestData>())
    else {
        return (None, Ok(()));
    };
    // Even an operation that selects nothing costs a request.
    let cost = u64::try_from(complexity).unwrap_or(u64::MAX).max(1);
    let viewer = request.viewer.map(|viewer| viewer.id);
    match state
        .cost_limiter
        .charge(cost, request.client, viewer)
        .await
    {
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
