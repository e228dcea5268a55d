use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::{Article, User, global_id};
use crate::{
    db::entities::{comment, user},
    domain::NodeKind,
    graphql::{
        connection::{ListConnection, connection},
        context::ContextExt,
    },
    policy,
    services::{Page, ServiceError, comments},
};

pub struct Comment {
    row: comment::Model,
    /// Loaded by the list this comment came from, for all its items.
    author: Option<user::Model>,
}

impl From<comment::Model> for Comment {
    fn from(row: comment::Model) -> Self {
        Self { row, author: None }
    }
}

impl Comment {
    /// A page of comments, which come with their authors, as a connection.
    pub fn connection(page: Page<comments::Listed>) -> ListConnection<Comment> {
        connection(page, |listed| Comment {
            row: listed.comment,
            author: Some(listed.author),
        })
    }
}

#[Object(cache_control(max_age = 30))]
impl Comment {
    pub async fn id(&self) -> ID {
        global_id(NodeKind::Comment, self.row.id)
    }

    async fn body(&self) -> &str {
        &self.row.body
    }

    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        if let Some(author) = &self.author {
            return Ok(author.clone().into());
        }
        let author = Box::pin(ctx.loaders().users().load_one(self.row.author_id)).await?;
        Ok(author.ok_or(ServiceError::NotFound("user"))?.into())
    }

    async fn article(&self, ctx: &Context<'_>) -> async_graphql::Result<Article> {
        let article = Box::pin(ctx.loaders().articles().load_one(self.row.article_id))
            .await?
            .filter(|article| policy::can_read_article(ctx.viewer(), article))
            .ok_or(ServiceError::NotFound("article"))?;
        Ok(article.into())
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}
