//! Per-request batch loaders: every relation or per-row fact that a list item
//! resolves goes through one of these, so a page costs one query per relation
//! instead of one per row.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Arc, OnceLock},
    time::Duration,
};

use async_graphql::dataloader::Loader;
use sea_orm::DatabaseConnection;

use super::batching::{Batcher, Key};
use crate::{
    db::entities::{article, comment, user},
    domain::PageRequest,
    policy::Viewer,
    services::{
        Page, ServiceError,
        articles::{self, ArticleOrder, Listed},
        comments,
        social::{self, FollowSide},
        users,
    },
};

pub type LoadError = Arc<ServiceError>;

/// A request's loaders: the viewer-independent ones, plus those that answer
/// for this viewer. Each is built on first use: most requests touch one or
/// two of them, and `{ __typename }` none.
pub struct Loaders {
    public: Arc<PublicLoaders>,
    viewer_id: Option<i64>,
    favorited: OnceLock<Batcher<i64, FavoritedLoader>>,
    following: OnceLock<Batcher<i64, FollowingLoader>>,
}

/// Loaders whose answers are the same for every viewer (callers apply the
/// policy to what they return), so they may batch the keys of many
/// subscribers at once.
pub struct PublicLoaders {
    db: DatabaseConnection,
    delay: Duration,
    users: OnceLock<Batcher<i64, UserLoader>>,
    articles: OnceLock<Batcher<i64, ArticleLoader>>,
    comments: OnceLock<Batcher<i64, CommentLoader>>,
    tags: OnceLock<Batcher<i64, TagsLoader>>,
    followers_count: OnceLock<Batcher<i64, FollowCountLoader>>,
    following_count: OnceLock<Batcher<i64, FollowCountLoader>>,
    comment_pages: OnceLock<Batcher<FirstPage<()>, CommentPagesLoader>>,
    author_article_pages: OnceLock<Batcher<FirstPage<ArticleOrder>, AuthorArticlePagesLoader>>,
    follower_pages: OnceLock<Batcher<FirstPage<()>, FollowPagesLoader>>,
    following_pages: OnceLock<Batcher<FirstPage<()>, FollowPagesLoader>>,
    favorite_pages: OnceLock<Batcher<FirstPage<()>, FavoritePagesLoader>>,
    bodies: OnceLock<Batcher<i64, BodyLoader>>,
}

impl std::ops::Deref for Loaders {
    type Target = PublicLoaders;

    fn deref(&self) -> &PublicLoaders {
        &self.public
    }
}

impl Loaders {
    /// Fresh loaders for one request.
    pub fn new(db: DatabaseConnection, viewer: Option<Viewer>, delay: Duration) -> Self {
        Self::sharing(Arc::new(PublicLoaders::new(db, delay)), viewer)
    }

    /// Loaders over `public`, which others may be using too.
    pub fn sharing(public: Arc<PublicLoaders>, viewer: Option<Viewer>) -> Self {
        Self {
            public,
            viewer_id: viewer.map(|viewer| viewer.id),
            favorited: OnceLock::new(),
            following: OnceLock::new(),
        }
    }

    pub fn public(&self) -> &Arc<PublicLoaders> {
        &self.public
    }

    pub fn favorited(&self) -> &Batcher<i64, FavoritedLoader> {
        self.public.built(&self.favorited, |db| FavoritedLoader {
            db,
            viewer_id: self.viewer_id,
        })
    }

    pub fn following(&self) -> &Batcher<i64, FollowingLoader> {
        self.public.built(&self.following, |db| FollowingLoader {
            db,
            viewer_id: self.viewer_id,
        })
    }
}

impl PublicLoaders {
    pub fn new(db: DatabaseConnection, delay: Duration) -> Self {
        Self {
            db,
            delay,
            users: OnceLock::new(),
            articles: OnceLock::new(),
            comments: OnceLock::new(),
            tags: OnceLock::new(),
            followers_count: OnceLock::new(),
            following_count: OnceLock::new(),
            comment_pages: OnceLock::new(),
            author_article_pages: OnceLock::new(),
            follower_pages: OnceLock::new(),
            following_pages: OnceLock::new(),
            favorite_pages: OnceLock::new(),
            bodies: OnceLock::new(),
        }
    }

    /// The loader in `cell`, built over this database on first use.
    fn built<'a, K: Key, T: Loader<K, Error = LoadError>>(
        &self,
        cell: &'a OnceLock<Batcher<K, T>>,
        make: impl FnOnce(DatabaseConnection) -> T,
    ) -> &'a Batcher<K, T> {
        cell.get_or_init(|| Batcher::new(make(self.db.clone()), self.delay))
    }

    pub fn users(&self) -> &Batcher<i64, UserLoader> {
        self.built(&self.users, UserLoader)
    }

    pub fn articles(&self) -> &Batcher<i64, ArticleLoader> {
        self.built(&self.articles, ArticleLoader)
    }

    pub fn comments(&self) -> &Batcher<i64, CommentLoader> {
        self.built(&self.comments, CommentLoader)
    }

    pub fn tags(&self) -> &Batcher<i64, TagsLoader> {
        self.built(&self.tags, TagsLoader)
    }

    pub fn followers_count(&self) -> &Batcher<i64, FollowCountLoader> {
        self.built(&self.followers_count, |db| FollowCountLoader {
            db,
            side: FollowSide::Followers,
        })
    }

    pub fn following_count(&self) -> &Batcher<i64, FollowCountLoader> {
        self.built(&self.following_count, |db| FollowCountLoader {
            db,
            side: FollowSide::Following,
        })
    }

    pub fn comment_pages(&self) -> &Batcher<FirstPage<()>, CommentPagesLoader> {
        self.built(&self.comment_pages, CommentPagesLoader)
    }

    pub fn author_article_pages(
        &self,
    ) -> &Batcher<FirstPage<ArticleOrder>, AuthorArticlePagesLoader> {
        self.built(&self.author_article_pages, AuthorArticlePagesLoader)
    }

    pub fn follower_pages(&self) -> &Batcher<FirstPage<()>, FollowPagesLoader> {
        self.built(&self.follower_pages, |db| FollowPagesLoader {
            db,
            side: FollowSide::Followers,
        })
    }

    pub fn following_pages(&self) -> &Batcher<FirstPage<()>, FollowPagesLoader> {
        self.built(&self.following_pages, |db| FollowPagesLoader {
            db,
            side: FollowSide::Following,
        })
    }

    pub fn favorite_pages(&self) -> &Batcher<FirstPage<()>, FavoritePagesLoader> {
        self.built(&self.favorite_pages, FavoritePagesLoader)
    }

    pub fn bodies(&self) -> &Batcher<i64, BodyLoader> {
        self.built(&self.bodies, BodyLoader)
    }
}

pub struct UserLoader(DatabaseConnection);

impl Loader<i64> for UserLoader {
    type Value = user::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, user::Model>, LoadError> {
        users::by_ids(&self.0, keys).await.map_err(Arc::new)
    }
}

/// Articles by id with no visibility filter: callers apply the policy.
pub struct ArticleLoader(DatabaseConnection);

impl Loader<i64> for ArticleLoader {
    type Value = article::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, article::Model>, LoadError> {
        articles::by_ids(&self.0, keys).await.map_err(Arc::new)
    }
}

/// Comments by id with no visibility filter: callers apply the policy.
pub struct CommentLoader(DatabaseConnection);

impl Loader<i64> for CommentLoader {
    type Value = comment::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, comment::Model>, LoadError> {
        comments::by_ids(&self.0, keys).await.map_err(Arc::new)
    }
}

pub struct TagsLoader(DatabaseConnection);

impl Loader<i64> for TagsLoader {
    type Value = Vec<String>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Vec<String>>, LoadError> {
        articles::tags_of(&self.0, keys).await.map_err(Arc::new)
    }
}

/// Whether the viewer favorited each article.
pub struct FavoritedLoader {
    db: DatabaseConnection,
    viewer_id: Option<i64>,
}

impl Loader<i64> for FavoritedLoader {
    type Value = bool;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, bool>, LoadError> {
        let Some(viewer_id) = self.viewer_id else {
            return Ok(keys.iter().map(|key| (*key, false)).collect());
        };
        let favorited = social::favorited_among(&self.db, viewer_id, keys)
            .await
            .map_err(Arc::new)?;
        Ok(keys
            .iter()
            .map(|key| (*key, favorited.contains(key)))
            .collect())
    }
}

/// Whether the viewer follows each user.
pub struct FollowingLoader {
    db: DatabaseConnection,
    viewer_id: Option<i64>,
}

impl Loader<i64> for FollowingLoader {
    type Value = bool;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, bool>, LoadError> {
        let Some(viewer_id) = self.viewer_id else {
            return Ok(keys.iter().map(|key| (*key, false)).collect());
        };
        let following = social::following_among(&self.db, viewer_id, keys)
            .await
            .map_err(Arc::new)?;
        Ok(keys
            .iter()
            .map(|key| (*key, following.contains(key)))
            .collect())
    }
}

/// How many followers (or followees) each user has.
pub struct FollowCountLoader {
    db: DatabaseConnection,
    side: FollowSide,
}

impl Loader<i64> for FollowCountLoader {
    type Value = i64;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, i64>, LoadError> {
        social::follow_counts(&self.db, self.side, keys)
            .await
            .map_err(Arc::new)
    }
}

/// The first (or last) page of a list that hangs off a parent row, for a
/// connection nested in a list; `variant` is the list's ordering, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FirstPage<V> {
    pub parent: i64,
    pub size: u64,
    pub backward: bool,
    pub variant: V,
}

impl<V: Copy> FirstPage<V> {
    /// The key for `request`, if it is a first or last page (no cursor).
    pub fn of(parent: i64, request: &PageRequest, variant: V) -> Option<Self> {
        (request.after.is_none() && request.before.is_none()).then_some(Self {
            parent,
            size: request.size,
            backward: request.backward,
            variant,
        })
    }
}

/// A page of the list hanging off `parent`: batched with the other parents'
/// pages when it is a first or last page, read on its own otherwise (a
/// cursor belongs to one parent's list). `alone` is only awaited then.
pub async fn page_of<L, V, T>(
    loader: &Batcher<FirstPage<V>, L>,
    parent: i64,
    request: &PageRequest,
    variant: V,
    alone: impl Future<Output = Result<Page<T>, ServiceError>>,
) -> async_graphql::Result<Page<T>>
where
    L: Loader<FirstPage<V>, Value = Page<T>, Error = LoadError>,
    V: Copy + Eq + Hash + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    Ok(match FirstPage::of(parent, request, variant) {
        Some(key) => loader.load_one(key).await?.unwrap_or_else(Page::empty),
        None => alone.await?,
    })
}

/// Groups keys that ask for the same kind of page and loads each group with
/// `single` when it has one parent (a plain keyset query) or `many` (one
/// windowed query for all parents).
async fn load_first_pages<V, T, S, M>(
    keys: &[FirstPage<V>],
    single: impl Fn(FirstPage<V>) -> S,
    many: impl Fn(Vec<i64>, FirstPage<V>) -> M,
) -> Result<HashMap<FirstPage<V>, Page<T>>, LoadError>
where
    V: Copy + Eq + Hash,
    S: Future<Output = Result<Page<T>, ServiceError>>,
    M: Future<Output = Result<HashMap<i64, Page<T>>, ServiceError>>,
{
    let mut groups: HashMap<(u64, bool, V), Vec<i64>> = HashMap::new();
    for key in keys {
        groups
            .entry((key.size, key.backward, key.variant))
            .or_default()
            .push(key.parent);
    }
    let mut pages = HashMap::with_capacity(keys.len());
    for ((size, backward, variant), parents) in groups {
        let shape = FirstPage {
            parent: 0,
            size,
            backward,
            variant,
        };
        if let [parent] = parents[..] {
            let key = FirstPage { parent, ..shape };
            pages.insert(key, single(key).await.map_err(Arc::new)?);
        } else {
            for (parent, page) in many(parents, shape).await.map_err(Arc::new)? {
                pages.insert(FirstPage { parent, ..shape }, page);
            }
        }
    }
    Ok(pages)
}

fn page_request(key: &FirstPage<impl Copy>) -> PageRequest {
    PageRequest {
        size: key.size,
        backward: key.backward,
        after: None,
        before: None,
    }
}

pub struct CommentPagesLoader(DatabaseConnection);

impl Loader<FirstPage<()>> for CommentPagesLoader {
    type Value = Page<comments::Listed>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[FirstPage<()>],
    ) -> Result<HashMap<FirstPage<()>, Self::Value>, LoadError> {
        let db = &self.0;
        load_first_pages(
            keys,
            |key| async move { comments::for_article(db, key.parent, &page_request(&key)).await },
            |parents, key| async move {
                comments::first_pages_for_articles(db, &parents, key.size, key.backward).await
            },
        )
        .await
    }
}

pub struct AuthorArticlePagesLoader(DatabaseConnection);

impl Loader<FirstPage<ArticleOrder>> for AuthorArticlePagesLoader {
    type Value = Page<Listed>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[FirstPage<ArticleOrder>],
    ) -> Result<HashMap<FirstPage<ArticleOrder>, Self::Value>, LoadError> {
        let db = &self.0;
        load_first_pages(
            keys,
            |key| async move {
                articles::by_author(db, key.parent, key.variant, &page_request(&key)).await
            },
            |parents, key| async move {
                articles::first_pages_by_authors(db, &parents, key.variant, key.size, key.backward)
                    .await
            },
        )
        .await
    }
}

pub struct FollowPagesLoader {
    db: DatabaseConnection,
    side: FollowSide,
}

impl Loader<FirstPage<()>> for FollowPagesLoader {
    type Value = Page<user::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[FirstPage<()>],
    ) -> Result<HashMap<FirstPage<()>, Self::Value>, LoadError> {
        let (db, side) = (&self.db, self.side);
        load_first_pages(
            keys,
            |key| async move { social::follows(db, key.parent, side, &page_request(&key)).await },
            |parents, key| async move {
                social::first_follow_pages(db, side, &parents, key.size, key.backward).await
            },
        )
        .await
    }
}

pub struct FavoritePagesLoader(DatabaseConnection);

impl Loader<FirstPage<()>> for FavoritePagesLoader {
    type Value = Page<article::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[FirstPage<()>],
    ) -> Result<HashMap<FirstPage<()>, Self::Value>, LoadError> {
        let db = &self.0;
        load_first_pages(
            keys,
            |key| async move { social::favorites(db, key.parent, &page_request(&key)).await },
            |parents, key| async move {
                social::first_favorite_pages(db, &parents, key.size, key.backward).await
            },
        )
        .await
    }
}

/// Bodies of articles that came from a list (lists leave them out).
pub struct BodyLoader(DatabaseConnection);

impl Loader<i64> for BodyLoader {
    type Value = String;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, String>, LoadError> {
        articles::bodies(&self.0, keys).await.map_err(Arc::new)
    }
}
