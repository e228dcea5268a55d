//! Keeps the response cache honest: records what kinds of data a query's
//! response was built from, and after each successful mutation marks the
//! kinds it changed as stale, before the mutation's response is sent (over
//! HTTP or a WebSocket alike).

use std::sync::{
    Arc,
    atomic::{AtomicU8, Ordering},
};

use async_graphql::{
    ServerResult, Value,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo},
};

use crate::{app::AppState, cache::responses::Dependencies};

/// Put in a request's data to learn what its response depends on.
#[derive(Default)]
pub struct DependencyRecorder(AtomicU8);

impl DependencyRecorder {
    fn record(&self, type_name: &str) {
        let name = type_name.trim_matches(|c| matches!(c, '[' | ']' | '!'));
        self.0
            .fetch_or(Dependencies::of_type(name).bits(), Ordering::Relaxed);
    }

    pub fn dependencies(&self) -> Dependencies {
        Dependencies::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// What each mutation can change. A mutation missing here invalidates
/// everything, so forgetting one costs hit rate, never correctness.
fn changed_by(mutation: &str) -> Dependencies {
    let articles = Dependencies::ARTICLES.union(Dependencies::TAGS);
    match mutation {
        "login" | "refreshSession" | "logout" => Dependencies::default(),
        "register" | "updateViewer" | "setUserRole" | "followUser" | "unfollowUser" => {
            Dependencies::USERS
        }
        "createArticle" | "updateArticle" | "publishArticle" => articles,
        "deleteArticle" => articles.union(Dependencies::COMMENTS),
        "favoriteArticle" | "unfavoriteArticle" => Dependencies::ARTICLES,
        "addComment" | "deleteComment" => Dependencies::COMMENTS,
        _ => Dependencies::ALL,
    }
}

pub struct CacheDependencies;

impl ExtensionFactory for CacheDependencies {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CacheDependencies)
    }
}

#[async_trait::async_trait]
impl Extension for CacheDependencies {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let (parent, returns, name) = (info.parent_type, info.return_type, info.name);
        if let Some(recorder) = ctx.data_opt::<Arc<DependencyRecorder>>() {
            recorder.record(parent);
            recorder.record(returns);
        }
        let result = next.run(ctx, info).await;
        if parent == "Mutation"
            && result.is_ok()
            && let Some(state) = ctx.data_opt::<AppState>()
        {
            state.responses.invalidate(changed_by(name)).await;
        }
        result
    }
}
