//! Live updates. Each subscription checks, with the policy, that the
//! subscriber may read what it watches, then turns bus events into payloads
//! loaded for that subscriber, so nothing reaches them that a query would not.

use std::sync::Arc;

use async_graphql::{Context, ID, Subscription};
use futures_util::{Stream, StreamExt, stream};
use tokio::sync::broadcast::{Receiver, error::RecvError};

use super::{
    PublicLoaders,
    context::ContextExt,
    types::{Article, Comment},
};
use crate::{
    db::entities::article,
    domain::{GlobalId, NodeKind},
    events::Event,
    policy::{self, Viewer},
    services::{ServiceError, articles, require_viewer, social},
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
) -> Result<(i64, Option<Viewer>, Arc<PublicLoaders>), ServiceError> {
    let watched = GlobalId::decode_as("articleId", article_id, NodeKind::Article)?;
    let viewer = ctx.viewer().copied();
    articles::visible(ctx.db(), viewer.as_ref(), watched).await?;
    Ok((watched, viewer, ctx.loaders().public().clone()))
}

/// The article with `id` as it is now, if `viewer` may read it. Loads go
/// through the loaders every subscriber shares, so many subscribers
/// handling one event cost one query.
async fn readable_article(
    loaders: &PublicLoaders,
    viewer: Option<&Viewer>,
    id: i64,
) -> Option<article::Model> {
    let article = loaders.articles().load_one(id).await.ok()??;
    policy::can_read_article(viewer, &article).then_some(article)
}

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// New comments on an article the viewer may read.
    async fn comment_added(
        &self,
        ctx: &Context<'_>,
        article_id: ID,
    ) -> Result<impl Stream<Item = Comment> + use<>, ServiceError> {
        let (watched, viewer, loaders) = watch_article(ctx, &article_id).await?;
        Ok(
            events(ctx.state().events.subscribe()).filter_map(move |event| {
                let loaders = loaders.clone();
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
                    let comment = loaders.comments().load_one(comment_id).await.ok()??;
                    readable_article(&loaders, viewer.as_ref(), comment.article_id).await?;
                    Some(comment.into())
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
        let loaders = ctx.loaders().public().clone();
        Ok(
            events(ctx.state().events.subscribe()).filter_map(move |event| {
                let db = db.clone();
                let loaders = loaders.clone();
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
                    let article = readable_article(&loaders, viewer.as_ref(), article_id).await?;
                    Some(article.into())
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
        let (watched, viewer, loaders) = watch_article(ctx, &article_id).await?;
        Ok(
            events(ctx.state().events.subscribe()).filter_map(move |event| {
                let loaders = loaders.clone();
                async move {
                    match event {
                        Event::FavoritesChanged { article_id } if article_id == watched => {
                            let article =
                                readable_article(&loaders, viewer.as_ref(), watched).await?;
                            Some(article.into())
                        }
                        _ => None,
                    }
                }
            }),
        )
    }
}
