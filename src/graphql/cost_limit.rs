//! Rate limiting by cost, where the cost is known: after validation has
//! computed an operation's complexity and before anything runs. The budget
//! left is reported in the `RateLimit-Limit`, `RateLimit-Remaining` and
//! `RateLimit-Reset` headers (IETF draft names, as most APIs send them); a
//! refusal is RATE_LIMITED with `Retry-After`.

use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::{
    Response, ServerError, ValidationResult,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextRequest, NextValidation},
};
use axum::http::{HeaderName, HeaderValue};

use super::RequestData;
use crate::{
    app::AppState,
    services::{
        ServiceError,
        cost_limits::{Budget, Charge},
        retry_after_secs,
    },
};

pub struct CostLimit;

impl ExtensionFactory for CostLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CostLimitExtension::default())
    }
}

/// One per operation.
#[derive(Default)]
struct CostLimitExtension {
    budget: Mutex<Option<Budget>>,
}

#[async_trait::async_trait]
impl Extension for CostLimitExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        let budget = *self.budget.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(budget) = budget {
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
        response
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        let (Some(state), Some(request)) =
            (ctx.data_opt::<AppState>(), ctx.data_opt::<RequestData>())
        else {
            return Ok(result);
        };
        // Even an operation that selects nothing costs a request.
        let cost = u64::try_from(result.complexity).unwrap_or(u64::MAX).max(1);
        let viewer = request.viewer.map(|viewer| viewer.id);
        match state
            .cost_limiter
            .charge(cost, request.client, viewer)
            .await
        {
            Charge::Accepted(budget) => {
                *self.budget.lock().unwrap_or_else(PoisonError::into_inner) = budget;
                Ok(result)
            }
            Charge::Refused(budget) => {
                *self.budget.lock().unwrap_or_else(PoisonError::into_inner) = Some(budget);
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
                Err(vec![error])
            }
        }
    }
}
