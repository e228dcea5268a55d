use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::{Comment, User, global_id};

use crate::{
    cache::responses::Scope,
    db::entities::{article, user},
    domain::NodeKind,
    graphql::{
        connection::{self, ListConnection, page_request},
        context::ContextExt,
        dependencies,
        inputs::ArticleStatus,
        loaders::page_of,
    },
    services::{
        Page, ServiceError,
        articles::{Include, Listed},
        comments,
    },
};

pub struct Article {
    row: article::Model,
    /// Whether `row.body` holds the body; list rows leave it out.
    body_in_row: bool,
    /// What the list this article came from read with its rows.
    prefetched: Prefetched,
}

#[derive(Default)]
struct Prefetched {
    author: Option<user::Model>,
    tags: Option<Vec<String>>,
}

impl From<article::Model> for Article {
    fn from(row: article::Model) -> Self {
        Self {
            row,
            body_in_row: true,
            prefetched: Prefetched::default(),
        }
    }
}

impl From<Listed> for Article {
    fn from(listed: Listed) -> Self {
        Self {
            row: listed.row,
            body_in_row: false,
            prefetched: Prefetched {
                author: listed.author,
                tags: listed.tags,
            },
        }
    }
}

impl Article {
    /// With its author, when whoever read the row read the author too.
    pub fn written_by(mut self, author: user::Model) -> Self {
        self.prefetched.author = Some(author);
        self
    }

    /// What a list of articles that becomes this connection should read
    /// with its page.
    pub fn included(ctx: &Context<'_>) -> Include {
        Include {
            tags: connection::selects(ctx, "tags"),
        }
    }

    /// A page of articles as a connection. What its items select beyond the
    /// rows goes through the request's loaders, in one batch per relation
    /// for the whole page (see `batching`).
    pub fn connection<T: Into<Article>>(page: Page<T>) -> ListConnection<Article> {
        connection::connection(page, Into::into)
    }
}

#[Object(cache_control(max_age = 30))]
impl Article {
    pub async fn id(&self) -> ID {
        global_id(NodeKind::Article, self.row.id)
    }

    /// The URL name, unique, derived from the first title.
    async fn slug(&self) -> &str {
        &self.row.slug
    }

    async fn title(&self) -> &str {
        &self.row.title
    }

    async fn description(&self) -> &str {
        &self.row.description
    }

    /// Markdown.
    async fn body(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        if self.body_in_row {
            return Ok(self.row.body.clone());
        }
        let body = Box::pin(ctx.loaders().bodies().load_one(self.row.id)).await?;
        Ok(body.ok_or(ServiceError::NotFound("article"))?)
    }

    async fn status(&self) -> ArticleStatus {
        match self.row.status {
            article::Status::Draft => ArticleStatus::Draft,
            article::Status::Published => ArticleStatus::Published,
        }
    }

    /// In the author's order.
    async fn tags(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        if let Some(tags) = &self.prefetched.tags {
            return Ok(tags.clone());
        }
        Ok(Box::pin(ctx.loaders().tags().load_one(self.row.id))
            .await?
            .unwrap_or_default())
    }

    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        if let Some(author) = &self.prefetched.author {
            return Ok(author.clone().into());
        }
        let author = Box::pin(ctx.loaders().users().load_one(self.row.author_id)).await?;
        Ok(author.ok_or(ServiceError::NotFound("user"))?.into())
    }

    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.row.published_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }

    async fn favorites_count(&self) -> i32 {
        self.row.favorites_count
    }

    /// Whether the viewer favorited this article; false when anonymous.
    #[graphql(cache_control(private))]
    async fn viewer_has_favorited(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(Box::pin(ctx.loaders().favorited().load_one(self.row.id))
            .await?
            .unwrap_or(false))
    }

    /// Oldest first.
    async fn comments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<ListConnection<Comment>> {
        let request = page_request(comments::SCOPE, first, after, last, before)?;
        dependencies::read_within(ctx, Scope::CommentsOf(self.row.id));
        // Boxed, as is every resolver that waits on storage: async-graphql
        // moves each field's future into a box of the size of the type's
        // largest resolver, so one large one costs every field of every item.
        Box::pin(async move {
            let alone = comments::for_article(ctx.db(), self.row.id, &request);
            let loader = &ctx.loaders().comment_pages();
            let page = page_of(loader, self.row.id, &request, (), alone).await?;
            Ok(Comment::connection(page))
        })
        .await
    }
}
