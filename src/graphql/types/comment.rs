use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::{Article, User, global_id};
use crate::{
    db::entities::comment, domain::NodeKind, graphql::context::ContextExt, policy,
    services::ServiceError,
};

pub struct Comment(pub comment::Model);

#[Object(cache_control(max_age = 30))]
impl Comment {
    pub async fn id(&self) -> ID {
        global_id(NodeKind::Comment, self.0.id)
    }

    async fn body(&self) -> &str {
        &self.0.body
    }

    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let author = ctx.loaders().users().load_one(self.0.author_id).await?;
        Ok(author.ok_or(ServiceError::NotFound("user"))?.into())
    }

    async fn article(&self, ctx: &Context<'_>) -> async_graphql::Result<Article> {
        let article = ctx
            .loaders()
            .articles()
            .load_one(self.0.article_id)
            .await?
            .filter(|article| policy::can_read_article(ctx.viewer(), article))
            .ok_or(ServiceError::NotFound("article"))?;
        Ok(article.into())
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}
