use crate::graphql::limits::connection_cost;
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::{Comment, User, global_id};
use crate::{
    db::entities::article,
    domain::NodeKind,
    graphql::{
        connection::{ListConnection, connection, page_request},
        context::ContextExt,
        inputs::ArticleStatus,
        loaders::FirstPage,
    },
    services::{Page, ServiceError, comments},
};

pub struct Article(pub article::Model);

#[Object]
impl Article {
    pub async fn id(&self) -> ID {
        global_id(NodeKind::Article, self.0.id)
    }

    /// The URL name, unique, derived from the first title.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Markdown.
    async fn body(&self) -> &str {
        &self.0.body
    }

    async fn status(&self) -> ArticleStatus {
        match self.0.status {
            article::Status::Draft => ArticleStatus::Draft,
            article::Status::Published => ArticleStatus::Published,
        }
    }

    /// In the author's order.
    async fn tags(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        Ok(ctx
            .loaders()
            .tags
            .load_one(self.0.id)
            .await?
            .unwrap_or_default())
    }

    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let author = ctx.loaders().users.load_one(self.0.author_id).await?;
        Ok(author.ok_or(ServiceError::NotFound("user"))?.into())
    }

    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.published_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    async fn favorites_count(&self) -> i32 {
        self.0.favorites_count
    }

    /// Whether the viewer favorited this article; false when anonymous.
    async fn viewer_has_favorited(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(ctx
            .loaders()
            .favorited
            .load_one(self.0.id)
            .await?
            .unwrap_or(false))
    }

    /// Oldest first.
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn comments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<ListConnection<Comment>> {
        let request = page_request(comments::SCOPE, first, after, last, before)?;
        let page = match FirstPage::of(self.0.id, &request, ()) {
            Some(key) => ctx.loaders().comment_pages.load_one(key).await?,
            None => Some(comments::for_article(ctx.db(), self.0.id, &request).await?),
        };
        Ok(connection(page.unwrap_or_else(Page::empty), Comment))
    }
}
