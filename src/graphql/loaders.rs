//! Per-request batch loaders: every relation or per-row fact that a list item
//! resolves goes through one of these, so a page costs one query per relation
//! instead of one per row.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::{DataLoader, Loader};
use sea_orm::DatabaseConnection;

use crate::{
    db::entities::{article, user},
    policy::Viewer,
    services::{ServiceError, articles, social, users},
};

pub type LoadError = Arc<ServiceError>;

pub struct Loaders {
    pub users: DataLoader<UserLoader>,
    pub articles: DataLoader<ArticleLoader>,
    pub tags: DataLoader<TagsLoader>,
    pub favorited: DataLoader<FavoritedLoader>,
    pub following: DataLoader<FollowingLoader>,
}

impl Loaders {
    pub fn new(db: DatabaseConnection, viewer: Option<Viewer>) -> Self {
        let viewer_id = viewer.map(|viewer| viewer.id);
        Self {
            users: DataLoader::new(UserLoader(db.clone()), tokio::spawn),
            articles: DataLoader::new(ArticleLoader(db.clone()), tokio::spawn),
            tags: DataLoader::new(TagsLoader(db.clone()), tokio::spawn),
            favorited: DataLoader::new(
                FavoritedLoader {
                    db: db.clone(),
                    viewer_id,
                },
                tokio::spawn,
            ),
            following: DataLoader::new(FollowingLoader { db, viewer_id }, tokio::spawn),
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
