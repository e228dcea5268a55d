use async_graphql::{Context, ID, Object, PathSegment};

use super::{
    connection::{ListConnection, connection, page_request},
    context::ContextExt,
    inputs::{ArticleFilter, ArticleOrder},
    types::{Article, Node, Tag, User},
};
use crate::{
    domain::{GlobalId, NodeKind, PageRequest, ValidationError, cursor::MAX_PAGE_SIZE},
    policy,
    services::{ServiceError, articles, tags, users},
};

pub struct QueryRoot;

#[Object(name = "Query")]
impl QueryRoot {
    /// Refetches any object by its global id; null when it does not exist or
    /// the viewer may not see it.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        let id = GlobalId::decode("id", &id).map_err(ServiceError::from)?;
        Ok(nodes(ctx, &[id]).await?.pop().flatten())
    }

    /// Refetches several objects (at most 100); each entry is null when that
    /// object does not exist or is not visible, or (with a BAD_USER_INPUT
    /// error at its index) when its id is not one.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        if ids.len() > MAX_IDS {
            return Err(ServiceError::from(ValidationError::new(
                "ids",
                format!("at most {MAX_IDS} ids may be refetched at once"),
            ))
            .into());
        }
        // A malformed id spoils its own entry, not the others: Relay's
        // refetch reads every entry it can and the error at the bad one.
        let decoded: Vec<Option<GlobalId>> = ids
            .iter()
            .enumerate()
            .map(|(index, id)| match GlobalId::decode("ids", id) {
                Ok(id) => Some(id),
                Err(invalid) => {
                    let error = async_graphql::Error::from(ServiceError::from(invalid))
                        .into_server_error(ctx.item.pos);
                    let mut error = ctx.set_error_path(error);
                    error.path.push(PathSegment::Index(index));
                    ctx.add_error(error);
                    None
                }
            })
            .collect();
        let valid: Vec<GlobalId> = decoded.iter().flatten().cloned().collect();
        let mut found = nodes(ctx, &valid).await?.into_iter();
        Ok(decoded
            .into_iter()
            .map(|id| id.and_then(|_| found.next().flatten()))
            .collect())
    }

    /// The logged-in user, or null when anonymous.
    #[graphql(cache_control(private))]
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(viewer) = ctx.viewer() else {
            return Ok(None);
        };
        Ok(ctx
            .loaders()
            .users()
            .load_one(viewer.id)
            .await?
            .map(User::from))
    }

    async fn user(
        &self,
        ctx: &Context<'_>,
        username: String,
    ) -> Result<Option<User>, ServiceError> {
        Ok(users::by_username(ctx.db(), &username)
            .await?
            .map(User::from))
    }

    /// A draft is visible to its author and to ADMIN only; null for others.
    async fn article(
        &self,
        ctx: &Context<'_>,
        slug: String,
    ) -> Result<Option<Article>, ServiceError> {
        Ok(articles::by_slug(ctx.db(), ctx.viewer(), &slug)
            .await?
            .map(|(article, author)| Article::from(article).written_by(author)))
    }

    /// Published articles.
    // Relay's four pagination arguments plus filter and order are the API.
    #[allow(clippy::too_many_arguments)]
    async fn articles(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ArticleFilter>,
        order_by: Option<ArticleOrder>,
    ) -> async_graphql::Result<ListConnection<Article>> {
        let order = articles::ArticleOrder::from(order_by);
        let request = page_request(order.scope(), first, after, last, before)?;
        let filter = filter.unwrap_or_default().into();
        let include = Article::included(ctx);
        let page = articles::list(ctx.db(), &filter, order, &request, include).await?;
        Ok(Article::connection(page))
    }

    /// Published articles by the authors the viewer follows, newest first.
    /// UNAUTHENTICATED when anonymous.
    #[graphql(cache_control(private))]
    async fn feed(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<ListConnection<Article>> {
        let scope = articles::ArticleOrder::default().scope();
        let request = page_request(scope, first, after, last, before)?;
        let include = Article::included(ctx);
        let page = articles::feed(ctx.db(), ctx.viewer(), &request, include).await?;
        Ok(Article::connection(page))
    }

    /// Tags in use, most used first.
    async fn tags(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<ListConnection<Tag>, ServiceError> {
        let request: PageRequest = page_request(tags::SCOPE, first, after, None, None)?;
        let page = tags::popular(ctx.db(), &request).await?;
        Ok(connection(page, Tag::from))
    }
}

/// Most ids `nodes` takes: a page's worth, as every list is capped.
const MAX_IDS: usize = MAX_PAGE_SIZE as usize;

/// The objects `ids` name, in order, each null when it does not exist or
/// the viewer may not see it. One load per kind (and one for the articles
/// the comments are on), however many ids.
async fn nodes(ctx: &Context<'_>, ids: &[GlobalId]) -> async_graphql::Result<Vec<Option<Node>>> {
    let viewer = ctx.viewer();
    let loaders = ctx.loaders();
    let of_kind = |kind| {
        ids.iter()
            .filter(move |id| id.kind == kind)
            .map(|id| id.id)
            .collect::<Vec<_>>()
    };
    let users = loaders.users().load_many(of_kind(NodeKind::User)).await?;
    let comments = loaders
        .comments()
        .load_many(of_kind(NodeKind::Comment))
        .await?;
    let mut article_ids = of_kind(NodeKind::Article);
    article_ids.extend(comments.values().map(|comment| comment.article_id));
    let articles = loaders.articles().load_many(article_ids).await?;
    let readable = |article_id: &i64| {
        articles
            .get(article_id)
            .is_some_and(|article| policy::can_read_article(viewer, article))
    };
    Ok(ids
        .iter()
        .map(|id| match id.kind {
            NodeKind::User => users
                .get(&id.id)
                .cloned()
                .map(|user| Node::User(user.into())),
            NodeKind::Article => articles
                .get(&id.id)
                .filter(|article| policy::can_read_article(viewer, article))
                .cloned()
                .map(|article| Node::Article(article.into())),
            NodeKind::Comment => comments
                .get(&id.id)
                .filter(|comment| readable(&comment.article_id))
                .cloned()
                .map(|comment| Node::Comment(comment.into())),
        })
        .collect())
}
