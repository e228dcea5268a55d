//! Keeps the response cache honest: knows what kinds of data a query's
//! response is built from, and after each successful mutation marks the
//! kinds it changed as stale, before the mutation's response is sent (over
//! HTTP or a WebSocket alike).
//!
//! Kinds are read off the types of the fields a query selects, except
//! comments: they are only reachable through `Article.comments`, which
//! records the article's scope itself as it runs (or through `Node`, which
//! counts as everything), so a cached article page is invalidated by
//! comments on that article only. A test keeps the schema that way.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use async_graphql::{
    ContainerType, Context, ContextSelectionSet, OutputType, Positioned, ServerResult, Value,
    parser::types::{ExecutableDocument, Field, OperationDefinition, SelectionSet},
    registry::Registry,
    resolver_utils::resolve_container_serial,
};

use super::{
    MutationRoot, RequestData,
    selections::{self, SchemaTypes},
};
use crate::locks::lock;
use crate::{
    app::AppState,
    cache::responses::{Dependencies, Reads, Scope},
};

/// Put in a request's data to learn which parts of their kinds its
/// response read (see `read_within`).
#[derive(Default)]
pub struct DependencyRecorder {
    scopes: Mutex<Vec<Scope>>,
}

impl DependencyRecorder {
    /// What a response read: `kinds` (from `kinds_read`) within the scopes
    /// recorded while it ran.
    pub fn reads(&self, kinds: Dependencies) -> Reads {
        Reads {
            kinds,
            scopes: lock(&self.scopes).clone(),
        }
    }
}

/// The kinds of data `operation` reads: those of every type it selects.
pub fn kinds_read(
    document: &ExecutableDocument,
    operation: &OperationDefinition,
    types: &SchemaTypes,
) -> Dependencies {
    let mut kinds = Dependencies::default();
    let root = selections::root_type(operation);
    // Runs before the document's shape is checked (to look the response up
    // in the cache), so each fragment is walked once, not once per spread.
    let mut expanded = HashSet::new();
    collect(
        document,
        &operation.selection_set.node,
        root,
        types,
        &mut expanded,
        &mut kinds,
    );
    kinds
}

fn collect<'d>(
    document: &'d ExecutableDocument,
    set: &'d SelectionSet,
    on: &'d str,
    types: &'d SchemaTypes,
    expanded: &mut HashSet<&'d str>,
    kinds: &mut Dependencies,
) {
    let mut nested = Vec::new();
    selections::each_field_once(document, set, on, expanded, &mut |field, parent| {
        let returns = types.returns(parent, &field.node.name.node);
        for name in [parent, returns] {
            let kind = Dependencies::of_type(name);
            if kind != Dependencies::COMMENTS {
                *kinds = kinds.union(kind);
            }
        }
        nested.push((&field.node.selection_set.node, returns));
    });
    for (set, on) in nested {
        collect(document, set, on, types, expanded, kinds);
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

/// The mutation root, invalidating after each of its fields: mutations run
/// one after another, so what a field noted with `wrote_within` is its own,
/// and the next one (and the response) only comes after the invalidation.
pub struct Mutations(pub MutationRoot);

impl OutputType for Mutations {
    fn type_name() -> std::borrow::Cow<'static, str> {
        MutationRoot::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        MutationRoot::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_container_serial(ctx, self).await
    }
}

impl ContainerType for Mutations {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        let result = self.0.resolve_field(ctx).await;
        let written = ctx
            .data_opt::<RequestData>()
            .map(|request| std::mem::take(&mut *lock(&request.written)))
            .unwrap_or_default();
        if result.is_ok()
            && let Some(state) = ctx.data_opt::<AppState>()
        {
            let name = ctx.item.node.name.node.as_str();
            state.responses.invalidate(changed_by(name), &written).await;
        }
        result
    }
}

impl async_graphql::ObjectType for Mutations {}

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
