//! Keeps the response cache honest: records what kinds of data a query's
//! response was built from, and after each successful mutation marks the
//! kinds it changed as stale, before the mutation's response is sent (over
//! HTTP or a WebSocket alike).
//!
//! Kinds are recorded from the types of resolved fields, except comments:
//! they are only reachable through `Article.comments`, which records the
//! article's scope itself (or through `Node`, which counts as everything),
//! so a cached article page is invalidated by comments on that article
//! only. A test keeps the schema that way.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicU8, Ordering},
};

use async_graphql::{
    Context, ServerResult, Value,
    extensions::{ExtensionContext, NextResolve, ResolveInfo},
};

use super::RequestData;
use crate::locks::lock;
use crate::{
    app::AppState,
    cache::responses::{Dependencies, Reads, Scope},
};

/// Put in a request's data to learn what its response depends on.
#[derive(Default)]
pub struct DependencyRecorder {
    kinds: AtomicU8,
    scopes: Mutex<Vec<Scope>>,
}

impl DependencyRecorder {
    fn record(&self, type_name: &str) {
        let name = type_name.trim_matches(|c| matches!(c, '[' | ']' | '!'));
        let kind = Dependencies::of_type(name);
        if kind != Dependencies::COMMENTS {
            self.kinds.fetch_or(kind.bits(), Ordering::Relaxed);
        }
    }

    pub fn reads(&self) -> Reads {
        Reads {
            kinds: Dependencies::from_bits(self.kinds.load(Ordering::Relaxed)),
            scopes: lock(&self.scopes).clone(),
        }
    }
}

/// Notes that the response read the part `scope` of its kind.
pub fn read_within(ctx: &Context<'_>, scope: Scope) {
    if let Some(recorder) = ctx.data_opt::<Arc<DependencyRecorder>>() {
        lock(&recorder.scopes).push(scope);
    }
}

/// Notes that the running mutation changed only the part `scope` of its
/// kind, so cached responses confined to other parts stay valid.
pub fn wrote_within(ctx: &Context<'_>, scope: Scope) {
    if let Some(request) = ctx.data_opt::<RequestData>() {
        lock(&request.written).push(scope);
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

/// Around each field: notes the kinds it reads, and after a successful
/// mutation field, invalidates what that mutation changed.
pub(super) async fn resolve(
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
        && let Some(state) = ctx.data_opt::<AppState>()
    {
        // Mutations run one after another: what was noted is this one's.
        let written = ctx
            .data_opt::<RequestData>()
            .map(|request| std::mem::take(&mut *lock(&request.written)))
            .unwrap_or_default();
        if result.is_ok() {
            state.responses.invalidate(changed_by(name), &written).await;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::{parse_schema, types::TypeSystemDefinition};

    use super::*;

    /// Comments are recorded by scope, not by type (see the module doc):
    /// a field that reaches comments another way would leave cached
    /// responses stale, so it has to record its reads first.
    #[test]
    fn comments_are_only_reachable_through_article_comments() {
        let schema = parse_schema(crate::graphql::sdl()).unwrap();
        let mut reaching = Vec::new();
        for definition in &schema.definitions {
            let TypeSystemDefinition::Type(definition) = definition else {
                continue;
            };
            let owner = definition.node.name.node.as_str();
            let async_graphql::parser::types::TypeKind::Object(object) = &definition.node.kind
            else {
                continue;
            };
            for field in &object.fields {
                let ty = field.node.ty.node.to_string();
                let ty = ty.trim_matches(|c| matches!(c, '[' | ']' | '!'));
                if Dependencies::of_type(ty) == Dependencies::COMMENTS
                    && Dependencies::of_type(owner) != Dependencies::COMMENTS
                {
                    reaching.push(format!("{owner}.{}", field.node.name.node));
                }
            }
        }
        reaching.sort();
        assert_eq!(
            reaching,
            [
                "Article.comments",
                "Mutation.addComment",
                "Subscription.commentAdded"
            ]
        );
    }
}
