//! Per-request batch loaders: every relation or per-row fact that a list item
//! resolves goes through one of these, so a page costs one query per relation
//! instead of one per row.

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_graphql::dataloader::{DataLoader, Loader};
use sea_orm::DatabaseConnection;

use crate::{
    db::entities::{article, user},
    policy::Viewer,
    services::{
        ServiceError, articles,
        social::{self, FollowSide},
        users,
    },
};

pub type LoadError = Arc<ServiceError>;

pub struct Loaders {
    pub users: DataLoader<UserLoader>,
    pub articles: DataLoader<ArticleLoader>,
    pub tags: DataLoader<TagsLoader>,
    pub favorited: DataLoader<FavoritedLoader>,
    pub following: DataLoader<FollowingLoader>,
    pub followers_count: DataLoader<FollowCountLoader>,
    pub following_count: DataLoader<FollowCountLoader>,
}

impl Loaders {
    pub fn new(db: DatabaseConnection, viewer: Option<Viewer>, delay: Duration) -> Self {
        let viewer_id = viewer.map(|viewer| viewer.id);
        Self {
            users: DataLoader::new(UserLoader(db.clone()), tokio::spawn).delay(delay),
            articles: DataLoader::new(ArticleLoader(db.clone()), tokio::spawn).delay(delay),
            tags: DataLoader::new(TagsLoader(db.clone()), tokio::spawn).delay(delay),
            favorited: DataLoader::new(
                FavoritedLoader {
                    db: db.clone(),
                    viewer_id,
                },
                tokio::spawn,
            )
            .delay(delay),
            following: DataLoader::new(
                FollowingLoader {
                    db: db.clone(),
                    viewer_id,
                },
                tokio::spawn,
            )
            .delay(delay),
            followers_count: DataLoader::new(
                FollowCountLoader {
                    db: db.clone(),
                    side: FollowSide::Followers,
                },
                tokio::spawn,
            )
            .delay(delay),
            following_count: DataLoader::new(
                FollowCountLoader {
                    db,
                    side: FollowSide::Following,
                },
                tokio::spawn,
            )
            .delay(delay),
        }
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
