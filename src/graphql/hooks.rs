//! The schema's one extension. async-graphql runs every field of every
//! response through each extension's resolve hook, whether the extension
//! overrides it or not, so error mapping, cache dependencies and limits
//! share one extension: one hop per field instead of three.

use std::sync::{Arc, Mutex};

use async_graphql::{
    Response, ServerResult, ValidationResult, Value, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextResolve,
        NextSubscribe, NextValidation, ResolveInfo,
    },
    parser::types::ExecutableDocument,
};
use futures_util::{StreamExt, stream::BoxStream};

use super::{cost_limit, dependencies, errors, limits};
use crate::{app::AppState, locks::lock, services::cost_limits::Budget};

pub struct Hooks(pub limits::QueryLimits);

impl ExtensionFactory for Hooks {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(HooksExtension {
            limits: self.0,
            budget: Mutex::default(),
            nulled: errors::Nulled::default(),
        })
    }
}

/// One per operation (or subscription).
struct HooksExtension {
    limits: limits::QueryLimits,
    /// The rate-limit budget charged, to report in the response.
    budget: Mutex<Option<Budget>>,
    /// Errors of nullable fields that were resolved to null instead.
    nulled: errors::Nulled,
}

#[async_trait::async_trait]
impl Extension for HooksExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        let budget = *lock(&self.budget);
        cost_limit::report(budget, &mut response);
        let metrics = ctx.data_opt::<AppState>().map(|state| &state.metrics);
        errors::finish(response, &self.nulled, metrics)
    }

    /// Each event of a subscription is a response of its own.
    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let nulled = self.nulled.clone();
        let metrics = ctx
            .data_opt::<AppState>()
            .map(|state| state.metrics.clone());
        next.run(ctx, stream)
            .map(move |response| errors::finish(response, &nulled, metrics.as_ref()))
            .boxed()
    }

    /// A failed nullable field resolves to null, with its error reported.
    /// Left alone, async-graphql 7 drops a failed field from `data` entirely,
    /// which clients (Apollo's cache among them) read as a missing field, not
    /// as the spec's "null plus an error".
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let nullable = !info.return_type.ends_with('!');
        match dependencies::resolve(ctx, info, next).await {
            Err(err) if nullable => {
                lock(&self.nulled).push(err);
                Ok(Some(Value::Null))
            }
            other => other,
        }
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next
            .run(ctx, query, variables)
            .await
            .map_err(errors::parse_failed)?;
        limits::check_shape(&document, &self.limits)?;
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<async_graphql::ServerError>> {
        let result = next.run(ctx).await.map_err(errors::validation_failed)?;
        let (budget, charged) = cost_limit::charge(ctx, result.complexity).await;
        *lock(&self.budget) = budget;
        charged.map(|()| result).map_err(|refusal| vec![refusal])
    }
}
