use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::{Comment, User, global_id};
use futures_util::try_join;

use crate::{
    cache::responses::Scope,
    db::entities::{article, user},
    domain::NodeKind,
    graphql::{
        connection::{ListConnection, connection, page_request},
        context::ContextExt,
        dependencies,
        inputs::ArticleStatus,
        loaders::page_of,
        prefetch,
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
    /// What the list this article came from loaded for all its items.
    prefetched: Prefetched,
}

#[derive(Default)]
struct Prefetched {
    author: Option<user::Model>,
    tags: Option<Vec<String>>,
    viewer_has_favorited: Option<bool>,
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
                viewer_has_favorited: None,
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
            tags: prefetch::selects(ctx, "tags"),
        }
    }

    /// A page of articles as a connection, with the relations its items
    /// select loaded for the whole page (see `prefetch`), unless the list
    /// read them already.
    pub async fn connection<T: Into<Article>>(
        ctx: &Context<'_>,
        page: Page<T>,
    ) -> async_graphql::Result<ListConnection<Article>> {
        let mut page: Page<Article> = page.map(Into::into);
        let rows = || page.items.iter().map(|(_, article)| &article.row);
        let missing = |read: fn(&Article) -> Option<i64>| -> Vec<i64> {
            page.items
                .iter()
                .filter_map(|(_, article)| read(article))
                .collect()
        };
        let unknown_authors = missing(|a| a.prefetched.author.is_none().then_some(a.row.author_id));
        let untagged = missing(|a| a.prefetched.tags.is_none().then_some(a.row.id));
        let (authors, mut tags, mut favorited) = try_join!(
            prefetch::load_missing(ctx, "author", |l| l.users(), unknown_authors),
            prefetch::load_missing(ctx, "tags", |l| l.tags(), untagged),
            prefetch::load(
                ctx,
                "viewerHasFavorited",
                |l| l.favorited(),
                rows().map(|row| row.id)
            ),
        )?;
        for (_, article) in &mut page.items {
            let (id, author_id) = (article.row.id, article.row.author_id);
            let prefetched = &mut article.prefetched;
            if prefetched.author.is_none() {
                prefetched.author = authors
                    .as_ref()
                    .and_then(|found| found.get(&author_id).cloned());
            }
            if prefetched.tags.is_none() {
                prefetched.tags = tags
                    .as_mut()
                    .map(|found| found.remove(&id).unwrap_or_default());
            }
            prefetched.viewer_has_favorited =
                favorited.as_mut().and_then(|found| found.remove(&id));
        }
        Ok(connection(page, std::convert::identity))
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
        if let Some(favorited) = self.prefetched.viewer_has_favorited {
            return Ok(favorited);
        }
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
