//! The tag vocabulary, most used first.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::{
    Page, ServiceResult,
    pagination::{Keyset, paginate},
};
use crate::{
    db::entities::tag,
    domain::{CursorKey, PageRequest},
};

pub const SCOPE: &str = "tags";

/// Tags carried by at least one published article, by that count, descending.
pub async fn popular(
    db: &DatabaseConnection,
    request: &PageRequest,
) -> ServiceResult<Page<tag::Model>> {
    let keyset = Keyset::<tag::Entity> {
        scope: SCOPE,
        key: Some(tag::Column::ArticleCount),
        rank: None,
        id: tag::Column::Id,
        descending: true,
        cursor_key: |tag| CursorKey::Int(i64::from(tag.article_count)),
        row_id: |tag| tag.id,
    };
    let select = tag::Entity::find().filter(tag::Column::ArticleCount.gt(0));
    paginate(db, select, &keyset, request).await
}
