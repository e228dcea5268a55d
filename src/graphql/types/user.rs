use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::{Article, global_id};
use crate::{
    db::entities::user,
    domain::NodeKind,
    graphql::{
        connection::{ListConnection, connection, page_request},
        context::ContextExt,
        inputs::{ArticleOrder, Role},
        loaders::page_of,
    },
    policy::{self, Viewer},
    services::{
        ServiceError, articles,
        social::{self, FollowSide},
    },
};

/// A user, resolved for the request's viewer, or for `acting` when set: the
/// payload of `register`/`login` is read by the person who just logged in,
/// although the request itself was anonymous.
pub struct User(pub user::Model, pub Option<Viewer>);

impl From<user::Model> for User {
    fn from(model: user::Model) -> Self {
        Self(model, None)
    }
}

#[Object(cache_control(max_age = 30))]
impl User {
    pub async fn id(&self) -> ID {
        global_id(NodeKind::User, self.0.id)
    }

    async fn username(&self) -> &str {
        &self.0.username
    }

    async fn bio(&self) -> Option<&str> {
        self.0.bio.as_deref()
    }

    async fn image(&self) -> Option<&str> {
        self.0.image.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Visible to the user themself and to ADMIN; others get null and a
    /// FORBIDDEN error at this path.
    #[graphql(cache_control(private))]
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<&str>, ServiceError> {
        self.private(ctx, &self.0.email)
    }

    /// Visible to the user themself and to ADMIN.
    #[graphql(cache_control(private))]
    async fn role(&self, ctx: &Context<'_>) -> Result<Option<Role>, ServiceError> {
        self.private(ctx, self.0.role.into())
    }

    /// Published articles by this user.
    async fn articles(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        order_by: Option<ArticleOrder>,
    ) -> async_graphql::Result<ListConnection<Article>> {
        let order = articles::ArticleOrder::from(order_by);
        let request = page_request(order.scope(), first, after, last, before)?;
        Box::pin(async move {
            let alone = articles::by_author(ctx.db(), self.0.id, order, &request);
            let loader = &ctx.loaders().author_article_pages();
            let page = page_of(loader, self.0.id, &request, order, alone).await?;
            Ok(Article::connection(page))
        })
        .await
    }

    /// Unpublished articles: only the user themself sees any.
    #[graphql(cache_control(private))]
    async fn drafts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<ListConnection<Article>> {
        let request = page_request(articles::DRAFTS_SCOPE, first, after, None, None)?;
        Box::pin(async move {
            let page = articles::drafts(ctx.db(), self.viewer(ctx), self.0.id, &request).await?;
            Ok(Article::connection(page))
        })
        .await
    }

    /// Articles this user favorited, most recent first.
    async fn favorites(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<ListConnection<Article>> {
        let request = page_request("favorites", first, after, last, before)?;
        Box::pin(async move {
            let alone = social::favorites(ctx.db(), self.0.id, &request);
            let loader = &ctx.loaders().favorite_pages();
            let page = page_of(loader, self.0.id, &request, (), alone).await?;
            Ok(Article::connection(page))
        })
        .await
    }

    /// People following this user, most recent first.
    async fn followers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<ListConnection<User>> {
        Box::pin(self.follows(ctx, FollowSide::Followers, first, after, last, before)).await
    }

    /// People this user follows, most recent first.
    async fn following(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<ListConnection<User>> {
        Box::pin(self.follows(ctx, FollowSide::Following, first, after, last, before)).await
    }

    async fn followers_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let count = Box::pin(ctx.loaders().followers_count().load_one(self.0.id)).await?;
        Ok(count.unwrap_or(0))
    }

    async fn following_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let count = Box::pin(ctx.loaders().following_count().load_one(self.0.id)).await?;
        Ok(count.unwrap_or(0))
    }

    /// Whether the viewer follows this user; false when anonymous.
    #[graphql(cache_control(private))]
    async fn viewer_is_following(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(Box::pin(ctx.loaders().following().load_one(self.0.id))
            .await?
            .unwrap_or(false))
    }
}

impl User {
    /// Acting as `viewer` instead of the request's viewer.
    pub fn seen_by(model: user::Model, viewer: Viewer) -> Self {
        Self(model, Some(viewer))
    }

    fn viewer<'a>(&'a self, ctx: &'a Context<'_>) -> Option<&'a Viewer> {
        self.1.as_ref().or_else(|| ctx.viewer())
    }

    /// `value` for the user themself and ADMIN; null and FORBIDDEN for others.
    fn private<T>(&self, ctx: &Context<'_>, value: T) -> Result<Option<T>, ServiceError> {
        if policy::can_read_private_profile(self.viewer(ctx), self.0.id) {
            Ok(Some(value))
        } else {
            Err(ServiceError::Forbidden(
                "only the user themself or an ADMIN may see this field",
            ))
        }
    }

    async fn follows(
        &self,
        ctx: &Context<'_>,
        side: FollowSide,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<ListConnection<User>> {
        let request = page_request(side.scope(), first, after, last, before)?;
        let loader = match side {
            FollowSide::Followers => &ctx.loaders().follower_pages(),
            FollowSide::Following => &ctx.loaders().following_pages(),
        };
        let alone = social::follows(ctx.db(), self.0.id, side, &request);
        let page = page_of(loader, self.0.id, &request, (), alone).await?;
        Ok(connection(page, User::from))
    }
}
