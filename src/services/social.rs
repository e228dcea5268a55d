//! Follows and favorites. Both are idempotent: following twice or
//! unfavoriting something never favorited is not an error, and the counters
//! change only when a row really appears or disappears.

use std::collections::{HashMap, HashSet};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use super::{
    Page, ServiceError, ServiceResult, articles, now,
    pagination::{Keyset, first_pages, paginate},
    require_viewer, users,
};
use crate::{
    db::{
        self,
        entities::{article, favorite, follow, user},
    },
    domain::{CursorKey, PageRequest, ValidationError},
    policy::Viewer,
};

pub async fn follow(
    db: &DatabaseConnection,
    viewer: Option<&Viewer>,
    username: &str,
) -> ServiceResult<user::Model> {
    let viewer = require_viewer(viewer)?;
    let target = followable(db, viewer, username).await?;
    follow::Entity::insert(follow::ActiveModel {
        follower_id: Set(viewer.id),
        followee_id: Set(target.id),
        created_at: Set(now()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([follow::Column::FollowerId, follow::Column::FolloweeId])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(target)
}

pub async fn unfollow(
    db: &DatabaseConnection,
    viewer: Option<&Viewer>,
    username: &str,
) -> ServiceResult<user::Model> {
    let viewer = require_viewer(viewer)?;
    let target = followable(db, viewer, username).await?;
    follow::Entity::delete_many()
        .filter(follow::Column::FollowerId.eq(viewer.id))
        .filter(follow::Column::FolloweeId.eq(target.id))
        .exec(db)
        .await?;
    Ok(target)
}

async fn followable(
    db: &DatabaseConnection,
    viewer: &Viewer,
    username: &str,
) -> ServiceResult<user::Model> {
    let target = users::by_username(db, username)
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    if target.id == viewer.id {
        return Err(ValidationError::new("username", "you cannot follow yourself").into());
    }
    Ok(target)
}

/// Favorites an article; the flag says whether the count changed.
pub async fn favorite(
    db: &DatabaseConnection,
    viewer: Option<&Viewer>,
    article_id: i64,
) -> ServiceResult<(article::Model, bool)> {
    let viewer = require_viewer(viewer)?;
    let txn = db::begin_write(db).await?;
    let article = favoritable(&txn, viewer, article_id).await?;
    let inserted = favorite::Entity::insert(favorite::ActiveModel {
        user_id: Set(viewer.id),
        article_id: Set(article.id),
        created_at: Set(now()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([favorite::Column::UserId, favorite::Column::ArticleId])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if inserted == 1 {
        adjust_favorites_count(&txn, article.id, 1).await?;
    }
    let article = articles::load(&txn, article.id).await?;
    txn.commit().await?;
    Ok((article, inserted == 1))
}

/// Unfavorites an article; the flag says whether the count changed.
pub async fn unfavorite(
    db: &DatabaseConnection,
    viewer: Option<&Viewer>,
    article_id: i64,
) -> ServiceResult<(article::Model, bool)> {
    let viewer = require_viewer(viewer)?;
    let txn = db::begin_write(db).await?;
    let article = favoritable(&txn, viewer, article_id).await?;
    let deleted = favorite::Entity::delete_many()
        .filter(favorite::Column::UserId.eq(viewer.id))
        .filter(favorite::Column::ArticleId.eq(article.id))
        .exec(&txn)
        .await?;
    let changed = deleted.rows_affected == 1;
    if changed {
        adjust_favorites_count(&txn, article.id, -1).await?;
    }
    let article = articles::load(&txn, article.id).await?;
    txn.commit().await?;
    Ok((article, changed))
}

async fn favoritable<C: ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    article_id: i64,
) -> ServiceResult<article::Model> {
    let article = articles::visible(db, Some(viewer), article_id).await?;
    if article.status != article::Status::Published {
        return Err(ValidationError::new("id", "drafts cannot be favorited").into());
    }
    Ok(article)
}

async fn adjust_favorites_count<C: ConnectionTrait>(
    db: &C,
    article_id: i64,
    delta: i32,
) -> ServiceResult<()> {
    article::Entity::update_many()
        .col_expr(
            article::Column::FavoritesCount,
            Expr::col(article::Column::FavoritesCount).add(delta),
        )
        .filter(article::Column::Id.eq(article_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Which of `user_ids` the viewer follows.
pub async fn following_among(
    db: &DatabaseConnection,
    viewer_id: i64,
    user_ids: &[i64],
) -> ServiceResult<HashSet<i64>> {
    Ok(follow::Entity::find()
        .select_only()
        .column(follow::Column::FolloweeId)
        .filter(follow::Column::FollowerId.eq(viewer_id))
        .filter(follow::Column::FolloweeId.is_in(user_ids.iter().copied()))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// Which of `article_ids` the viewer has favorited.
pub async fn favorited_among(
    db: &DatabaseConnection,
    viewer_id: i64,
    article_ids: &[i64],
) -> ServiceResult<HashSet<i64>> {
    Ok(favorite::Entity::find()
        .select_only()
        .column(favorite::Column::ArticleId)
        .filter(favorite::Column::UserId.eq(viewer_id))
        .filter(favorite::Column::ArticleId.is_in(article_ids.iter().copied()))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// Whose side of a follow to list.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum FollowSide {
    /// People following the user.
    Followers,
    /// People the user follows.
    Following,
}

impl FollowSide {
    pub fn scope(self) -> &'static str {
        match self {
            Self::Followers => "followers",
            Self::Following => "following",
        }
    }

    /// The user on the other side of a follow row.
    fn person(self, row: &follow::Model) -> i64 {
        match self {
            Self::Followers => row.follower_id,
            Self::Following => row.followee_id,
        }
    }

    fn keyset(self) -> Keyset<follow::Entity> {
        Keyset {
            scope: self.scope(),
            key: None,
            rank: None,
            id: follow::Column::Id,
            descending: true,
            cursor_key: |_| CursorKey::None,
            row_id: |row| row.id,
        }
    }

    /// The column holding the user whose list this is.
    fn column(self) -> follow::Column {
        match self {
            Self::Followers => follow::Column::FolloweeId,
            Self::Following => follow::Column::FollowerId,
        }
    }
}

/// Followers or followees of `user_id`, most recent follow first.
pub async fn follows(
    db: &DatabaseConnection,
    user_id: i64,
    side: FollowSide,
    request: &PageRequest,
) -> ServiceResult<Page<user::Model>> {
    let select = follow::Entity::find().filter(side.column().eq(user_id));
    let page = paginate(db, select, &side.keyset(), request).await?;
    let mut pages = follow_people(db, side, HashMap::from([(user_id, page)])).await?;
    Ok(pages.remove(&user_id).unwrap_or_else(Page::empty))
}

/// The first (or last) page of followers or followees of each user.
pub async fn first_follow_pages(
    db: &DatabaseConnection,
    side: FollowSide,
    user_ids: &[i64],
    size: u64,
    backward: bool,
) -> ServiceResult<HashMap<i64, Page<user::Model>>> {
    let select = follow::Entity::find();
    let keyset = side.keyset();
    let pages = first_pages(db, select, side.column(), user_ids, &keyset, size, backward).await?;
    follow_people(db, side, pages).await
}

/// Replaces follow rows by the people on the other side, in one read.
async fn follow_people(
    db: &DatabaseConnection,
    side: FollowSide,
    pages: HashMap<i64, Page<follow::Model>>,
) -> ServiceResult<HashMap<i64, Page<user::Model>>> {
    let ids: Vec<i64> = pages
        .values()
        .flat_map(|page| page.items.iter().map(|(_, row)| side.person(row)))
        .collect();
    let people = users::by_ids(db, &ids).await?;
    // A user deleted between the two reads simply drops out of the page.
    Ok(pages
        .into_iter()
        .map(|(parent, page)| {
            (
                parent,
                page.filter_map(|row| people.get(&side.person(&row)).cloned()),
            )
        })
        .collect())
}

/// For each of `user_ids`: how many follow them (`Followers`), or how many
/// they follow (`Following`). Users with none are absent from the map.
pub async fn follow_counts(
    db: &DatabaseConnection,
    side: FollowSide,
    user_ids: &[i64],
) -> ServiceResult<HashMap<i64, i64>> {
    let column = side.column();
    Ok(follow::Entity::find()
        .select_only()
        .column(column)
        .column_as(follow::Column::Id.count(), "count")
        .filter(column.is_in(user_ids.iter().copied()))
        .group_by(column)
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// Articles `user_id` favorited, most recently favorited first. Drafts never
/// appear: an article can only be favorited once published, and favorites of
/// an article are deleted with it.
pub async fn favorites(
    db: &DatabaseConnection,
    user_id: i64,
    request: &PageRequest,
) -> ServiceResult<Page<article::Model>> {
    let select = favorite::Entity::find().filter(favorite::Column::UserId.eq(user_id));
    let page = paginate(db, select, &FAVORITES, request).await?;
    let mut pages = favorite_articles(db, HashMap::from([(user_id, page)])).await?;
    Ok(pages.remove(&user_id).unwrap_or_else(Page::empty))
}

/// The first (or last) page of favorites of each user.
pub async fn first_favorite_pages(
    db: &DatabaseConnection,
    user_ids: &[i64],
    size: u64,
    backward: bool,
) -> ServiceResult<HashMap<i64, Page<article::Model>>> {
    let select = favorite::Entity::find();
    let parent = favorite::Column::UserId;
    let pages = first_pages(db, select, parent, user_ids, &FAVORITES, size, backward).await?;
    favorite_articles(db, pages).await
}

const FAVORITES: Keyset<favorite::Entity> = Keyset {
    scope: "favorites",
    key: None,
    rank: None,
    id: favorite::Column::Id,
    descending: true,
    cursor_key: |_| CursorKey::None,
    row_id: |row| row.id,
};

/// Replaces favorite rows by their articles, in one read.
async fn favorite_articles(
    db: &DatabaseConnection,
    pages: HashMap<i64, Page<favorite::Model>>,
) -> ServiceResult<HashMap<i64, Page<article::Model>>> {
    let ids: Vec<i64> = pages
        .values()
        .flat_map(|page| page.items.iter().map(|(_, row)| row.article_id))
        .collect();
    let found = articles::by_ids(db, &ids).await?;
    Ok(pages
        .into_iter()
        .map(|(parent, page)| {
            (
                parent,
                page.filter_map(|row| found.get(&row.article_id).cloned()),
            )
        })
        .collect())
}
