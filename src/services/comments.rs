//! Discussion under articles.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryResult,
    sea_query::{DynIden, Expr, Query, SelectStatement},
};

use super::{
    Page, ServiceError, ServiceResult, articles, authors, now,
    pagination::{Keyset, Row, first_pages, paginate},
    require_viewer,
};
use crate::{
    db::{
        self,
        entities::{article, comment, user},
    },
    domain::{CommentBody, CursorKey, PageRequest, ValidationError},
    policy::{self, Viewer},
};

pub const SCOPE: &str = "comments";

pub async fn add(
    db: &DatabaseConnection,
    viewer: Option<&Viewer>,
    article_id: i64,
    body: CommentBody,
) -> ServiceResult<comment::Model> {
    let viewer = require_viewer(viewer)?;
    let now = now();
    // One statement that writes only under a published article: the check
    // and the write cannot be split by a concurrent unpublish or delete,
    // and the common case costs one round trip instead of four (begin,
    // read, insert, commit).
    let published_article = Query::select()
        .column(article::Column::Id)
        .expr(Expr::val(viewer.id))
        .expr(Expr::val(body.into_inner()))
        .expr(Expr::val(now))
        .expr(Expr::val(now))
        .from(article::Entity)
        .and_where(article::Column::Id.eq(article_id))
        .and_where(article::Column::Status.eq(article::Status::Published))
        .to_owned();
    let insert = Query::insert()
        .into_table(comment::Entity)
        .columns([
            comment::Column::ArticleId,
            comment::Column::AuthorId,
            comment::Column::Body,
            comment::Column::CreatedAt,
            comment::Column::UpdatedAt,
        ])
        .select_from(published_article)
        .map_err(|err| ServiceError::Database(DbErr::Custom(err.to_string())))?
        .returning_all()
        .to_owned();
    let inserted = comment::Entity::find()
        .from_raw_sql(db.get_database_backend().build(&insert))
        .one(db)
        .await?;
    if let Some(comment) = inserted {
        return Ok(comment);
    }
    // Nothing written: say why, as a read of the article would.
    articles::visible(db, Some(viewer), article_id).await?;
    Err(ValidationError::new("articleId", "drafts cannot be commented on").into())
}

/// Deletes a comment; returns what it was.
pub async fn delete(
    db: &DatabaseConnection,
    viewer: Option<&Viewer>,
    id: i64,
) -> ServiceResult<comment::Model> {
    let viewer = require_viewer(viewer)?;
    let txn = db::begin_write(db).await?;
    let (comment, article) = visible(&txn, Some(viewer), id)
        .await?
        .ok_or(ServiceError::NotFound("comment"))?;
    if !policy::can_delete_comment(viewer, &comment, &article) {
        return Err(ServiceError::Forbidden(
            "only the comment's author, the article's author or a moderator may delete it",
        ));
    }
    comment::Entity::delete_by_id(id).exec(&txn).await?;
    txn.commit().await?;
    Ok(comment)
}

/// A comment and its article, if the viewer may read the article.
pub async fn visible<C: sea_orm::ConnectionTrait>(
    db: &C,
    viewer: Option<&Viewer>,
    id: i64,
) -> ServiceResult<Option<(comment::Model, article::Model)>> {
    let Some(comment) = comment::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    match articles::visible(db, viewer, comment.article_id).await {
        Ok(article) => Ok(Some((comment, article))),
        Err(ServiceError::NotFound(_)) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Comments by id, with no visibility filter: callers apply the policy.
pub async fn by_ids(
    db: &DatabaseConnection,
    ids: &[i64],
) -> ServiceResult<HashMap<i64, comment::Model>> {
    Ok(comment::Entity::find()
        .filter(comment::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|comment| (comment.id, comment))
        .collect())
}

/// A comment as pages list it: with its author, read in the page's own
/// statement, since a discussion is nearly always shown with who said what.
#[derive(Debug, Clone)]
pub struct Listed {
    pub comment: comment::Model,
    pub author: user::Model,
}

impl Row<comment::Entity> for Listed {
    fn join(statement: &mut SelectStatement, rows: DynIden) {
        authors::join(statement, rows);
    }

    fn read(row: &QueryResult) -> Result<Self, DbErr> {
        Ok(Self {
            comment: comment::Model::from_query_result(row, "")?,
            author: authors::read(row)?,
        })
    }

    fn model(&self) -> &comment::Model {
        &self.comment
    }
}

/// Comments on an article, oldest first. The caller has already checked that
/// the viewer may read the article.
pub async fn for_article(
    db: &DatabaseConnection,
    article_id: i64,
    request: &PageRequest,
) -> ServiceResult<Page<Listed>> {
    let select = comment::Entity::find().filter(comment::Column::ArticleId.eq(article_id));
    paginate(db, select, &KEYSET, request).await
}

/// The first (or last) page of comments of each article, in one statement.
pub async fn first_pages_for_articles(
    db: &DatabaseConnection,
    article_ids: &[i64],
    size: u64,
    backward: bool,
) -> ServiceResult<HashMap<i64, Page<Listed>>> {
    let select = comment::Entity::find();
    let parent = comment::Column::ArticleId;
    first_pages(db, select, parent, article_ids, &KEYSET, size, backward).await
}

const KEYSET: Keyset<comment::Entity> = Keyset {
    scope: SCOPE,
    key: Some(comment::Column::CreatedAt),
    rank: None,
    id: comment::Column::Id,
    descending: false,
    cursor_key: |comment| CursorKey::Time(comment.created_at),
    row_id: |comment| comment.id,
};
