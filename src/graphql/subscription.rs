//! Live updates. Each subscription checks, with the policy, that the
//! subscriber may read what it watches, then turns bus events into payloads
//! loaded for that subscriber, so nothing reaches them that a query would not.

use std::sync::Arc;

use async_graphql::{Context, ID, Subscription};
use futures_util::{Stream, StreamExt, stream};
use sea_orm::DatabaseConnection;
use tokio::sync::broadcast::{Receiver, error::RecvError};

use super::{
    context::ContextExt,
    types::{Article, Comment},
};
use crate::{
    domain::{GlobalId, NodeKind},
    events::Event,
    policy::{self, Viewer},
    services::{ServiceError, articles, comments, require_viewer, social},
};

pub struct SubscriptionRoot;

/// The bus as a stream. A receiver that fell behind skips what it missed
/// rather than ending the subscription.
fn events(receiver: Receiver<Arc<Event>>) -> impl Stream<Item = Event> {
    stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(event) => return Some((*event, receiver)),
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a subscriber fell behind and skipped events");
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}

/// The article a subscription watches, once the policy says the subscriber
/// may read it, with what the event handler needs.
async fn watch_article(
    ctx: &Context<'_>,
    article_id: &ID,
) -> Result<(i64, Option<Viewer>, DatabaseConnection), ServiceError> {
    let watched = GlobalId::decode_as("articleId", article_id, NodeKind::Article)?;
    let viewer = ctx.viewer().copied();
    articles::visible(ctx.db(), viewer.as_ref(), watched).await?;
    Ok((watched, viewer, ctx.db().clone()))
}

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// New comments on an article the viewer may read.
    async fn comment_added(
        &self,
        ctx: &Context<'_>,
        article_id: ID,
    ) -> Result<impl Stream<Item = Comment> + use<>, ServiceError> {
        let (watched, viewer, db) = watch_article(ctx, &article_id).await?;
        Ok(
            events(ctx.state().events.subscribe()).filter_map(move |event| {
                let db = db.clone();
                async move {
                    let Event::CommentAdded {
                        article_id,
                        comment_id,
                    } = event
                    else {
                        return None;
                    };
                    if article_id != watched {
                        return None;
                    }
                    let visible = comments::visible(&db, viewer.as_ref(), comment_id).await;
                    visible.ok().flatten().map(|(comment, _)| Comment(comment))
                }
            }),
        )
    }

    /// Articles as they are published; with `feed: true`, only those by
    /// authors the viewer follows (UNAUTHENTICATED when anonymous).
    async fn article_published(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(false)")] feed: Option<bool>,
    ) -> Result<impl Stream<Item = Article> + use<>, ServiceError> {
        let feed = feed.unwrap_or(false);
        let viewer = ctx.viewer().copied();
        if feed {
            require_viewer(viewer.as_ref())?;
        }
        let db = ctx.db().clone();
        Ok(
            events(ctx.state().events.subscribe()).filter_map(move |event| {
                let db = db.clone();
                async move {
                    let Event::ArticlePublished {
                        article_id,
                        author_id,
                    } = event
                    else {
                        return None;
                    };
                    if let (true, Some(viewer)) = (feed, viewer) {
                        let follows = social::following_among(&db, viewer.id, &[author_id]).await;
                        if !follows.ok()?.contains(&author_id) {
                            return None;
                        }
                    }
                    let article = articles::load(&db, article_id).await.ok()?;
                    policy::can_read_article(viewer.as_ref(), &article).then(|| article.into())
                }
            }),
        )
    }

    /// The article, each time its favorites count changes.
    async fn favorites_changed(
        &self,
        ctx: &Context<'_>,
        article_id: ID,
    ) -> Result<impl Stream<Item = Article> + use<>, ServiceError> {
        let (watched, viewer, db) = watch_article(ctx, &article_id).await?;
        Ok(
            events(ctx.state().events.subscribe()).filter_map(move |event| {
                let db = db.clone();
                async move {
                    match event {
                        Event::FavoritesChanged { article_id } if article_id == watched => {
                            let article = articles::visible(&db, viewer.as_ref(), watched).await;
                            article.ok().map(Article::from)
                        }
                        _ => None,
                    }
                }
            }),
        )
    }
}
