//! Writing, publishing and listing articles.
//!
//! Only published articles appear in lists (`articles`, `feed`, a user's
//! `articles`, favorites); a draft is reachable only by its author and ADMIN,
//! by slug or id, and through its author's own `drafts`.

use std::collections::{HashMap, HashSet};

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, FromQueryResult, IdenStatic, Iterable, QueryFilter,
    QueryOrder, QueryResult, QuerySelect, QueryTrait, Select, Set, TransactionTrait,
    sea_query::{
        Alias, DynIden, Expr, ExprTrait, IntoIden, OnConflict, Query, SelectStatement, SimpleExpr,
    },
};

use super::{
    Page, ServiceError, ServiceResult, authors, now,
    pagination::{Keyset, Row, first_pages, paginate},
    require_viewer,
};
use crate::{
    db::{
        self,
        entities::{article, article_tag, favorite, follow, tag, user},
    },
    domain::{Body, CursorKey, Description, PageRequest, SearchText, TagList, Title, slugify},
    policy::{self, Viewer},
};

pub struct NewArticle {
    pub title: Title,
    pub description: Description,
    pub body: Body,
    pub tags: TagList,
    pub publish: bool,
}

/// `None` leaves a field as it is. The slug does not follow title changes:
/// links that were shared keep working.
#[derive(Default)]
pub struct ArticleChanges {
    pub title: Option<Title>,
    pub description: Option<Description>,
    pub body: Option<Body>,
    pub tags: Option<TagList>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderField {
    PublishedAt,
    CreatedAt,
    FavoritesCount,
    /// How well an article matches the list's search; without one, as
    /// `PublishedAt`.
    Relevance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArticleOrder {
    pub field: OrderField,
    pub descending: bool,
}

impl Default for ArticleOrder {
    fn default() -> Self {
        Self {
            field: OrderField::PublishedAt,
            descending: true,
        }
    }
}

impl ArticleOrder {
    /// The cursor scope of a list in this order.
    pub fn scope(self) -> &'static str {
        match self.field {
            OrderField::PublishedAt => "articles:published_at",
            OrderField::CreatedAt => "articles:created_at",
            OrderField::FavoritesCount => "articles:favorites_count",
            OrderField::Relevance => "articles:relevance",
        }
    }

    /// The keyset of a list in this order; a list that is not a search
    /// cannot be ranked, and is in `PublishedAt` order.
    fn keyset(self) -> Keyset<article::Entity> {
        let (key, cursor_key): (_, fn(&article::Model) -> CursorKey) = match self.field {
            OrderField::Relevance => {
                return Self {
                    field: OrderField::PublishedAt,
                    ..self
                }
                .keyset();
            }
            // Lists hold published articles only, so published_at is set.
            OrderField::PublishedAt => (article::Column::PublishedAt, |a| {
                CursorKey::Time(a.published_at.unwrap_or(a.created_at))
            }),
            OrderField::CreatedAt => (article::Column::CreatedAt, |a| {
                CursorKey::Time(a.created_at)
            }),
            OrderField::FavoritesCount => (article::Column::FavoritesCount, |a| {
                CursorKey::Int(i64::from(a.favorites_count))
            }),
        };
        Keyset {
            scope: self.scope(),
            key: Some(key),
            rank: None,
            id: article::Column::Id,
            descending: self.descending,
            cursor_key,
            row_id: |a| a.id,
        }
    }
}

pub const DRAFTS_SCOPE: &str = "drafts";

/// An article as lists return it: every column but `body`, which can be long
/// and which list pages rarely show (load bodies with [`bodies`] when a
/// client does ask for them), and what the list read with it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub row: article::Model,
    /// In lists across authors, which nearly always show who wrote each item.
    pub author: Option<user::Model>,
    /// When the list was asked to [`Include`] them.
    pub tags: Option<Vec<String>>,
}

/// What a list reads with its articles in the page's own statement, when
/// the client shows it; anything else comes from a statement per page.
#[derive(Debug, Clone, Copy, Default)]
pub struct Include {
    pub tags: bool,
}

impl From<article::Model> for Listed {
    fn from(row: article::Model) -> Self {
        Self {
            row,
            author: None,
            tags: None,
        }
    }
}

/// A listed article read with its author.
struct Authored(Listed);

impl Row<article::Entity> for Authored {
    fn join(statement: &mut SelectStatement, rows: DynIden) {
        authors::join(statement, rows);
    }

    fn read(row: &QueryResult) -> Result<Self, DbErr> {
        Ok(Self(Listed {
            author: Some(authors::read(row)?),
            ..article::Model::from_query_result(row, "")?.into()
        }))
    }

    fn model(&self) -> &article::Model {
        &self.0.row
    }
}

impl From<Authored> for Listed {
    fn from(Authored(listed): Authored) -> Self {
        listed
    }
}

/// A listed article read with its tags, aggregated per row by the page's
/// statement.
struct Tagged<R>(R, Vec<String>);

/// The column of a row's tags, joined by [`TAG_SEPARATOR`], which no tag
/// name holds (see `TagList`).
const TAGS: &str = "tag_names";
const TAG_SEPARATOR: char = ',';

impl<R: Row<article::Entity>> Row<article::Entity> for Tagged<R> {
    fn join(statement: &mut SelectStatement, rows: DynIden) {
        R::join(statement, rows.clone());
        // string_agg with ORDER BY: Postgres 9.0+ and SQLite 3.44+ alike.
        let names = tag_links()
            .expr(Expr::cust(format!(
                r#"string_agg("tags"."name", '{TAG_SEPARATOR}' ORDER BY "article_tags"."position")"#
            )))
            .and_where(
                Expr::col((article_tag::Entity, article_tag::Column::ArticleId))
                    .equals((rows, article::Column::Id)),
            )
            .to_owned();
        statement.expr_as(
            Expr::SubQuery(None, Box::new(names.into())),
            Alias::new(TAGS),
        );
    }

    fn read(row: &QueryResult) -> Result<Self, DbErr> {
        let names: Option<String> = row.try_get("", TAGS)?;
        let tags = names
            .map(|names| names.split(TAG_SEPARATOR).map(str::to_owned).collect())
            .unwrap_or_default();
        Ok(Self(R::read(row)?, tags))
    }

    fn model(&self) -> &article::Model {
        self.0.model()
    }
}

impl<R: Into<Listed>> From<Tagged<R>> for Listed {
    fn from(Tagged(row, tags): Tagged<R>) -> Self {
        Self {
            tags: Some(tags),
            ..row.into()
        }
    }
}

/// Articles' links to tags, joined to the tags they name.
fn tag_links() -> SelectStatement {
    Query::select()
        .from(article_tag::Entity)
        .inner_join(
            tag::Entity,
            Expr::col((tag::Entity, tag::Column::Id))
                .equals((article_tag::Entity, article_tag::Column::TagId)),
        )
        .to_owned()
}

/// Selects every column of `select` but `body`, which reads as empty.
fn without_body(select: Select<article::Entity>) -> Select<article::Entity> {
    select
        .select_only()
        .columns(article::Column::iter().filter(|column| !matches!(column, article::Column::Body)))
        .expr_as(Expr::val(""), article::Column::Body.as_str())
}

/// A page of `select`, the articles read with their authors when `authored`
/// (lists across authors nearly always show them) and with what `include`
/// asks for.
async fn listed(
    db: &DatabaseConnection,
    select: Select<article::Entity>,
    keyset: &Keyset<article::Entity>,
    request: &PageRequest,
    authored: bool,
    include: Include,
) -> ServiceResult<Page<Listed>> {
    async fn page<R: Row<article::Entity> + Into<Listed>>(
        db: &DatabaseConnection,
        select: Select<article::Entity>,
        keyset: &Keyset<article::Entity>,
        request: &PageRequest,
    ) -> ServiceResult<Page<Listed>> {
        Ok(paginate::<_, R>(db, without_body(select), keyset, request)
            .await?
            .map(Into::into))
    }
    match (authored, include.tags) {
        (false, false) => page::<article::Model>(db, select, keyset, request).await,
        (true, false) => page::<Authored>(db, select, keyset, request).await,
        (false, true) => page::<Tagged<article::Model>>(db, select, keyset, request).await,
        (true, true) => page::<Tagged<Authored>>(db, select, keyset, request).await,
    }
}

/// The bodies of articles, by id.
pub async fn bodies(db: &DatabaseConnection, ids: &[i64]) -> ServiceResult<HashMap<i64, String>> {
    Ok(article::Entity::find()
        .select_only()
        .column(article::Column::Id)
        .column(article::Column::Body)
        .filter(article::Column::Id.is_in(ids.iter().copied()))
        .into_tuple::<(i64, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

#[derive(Debug, Clone, Default)]
pub struct ArticleFilter {
    pub tag: Option<String>,
    pub author: Option<String>,
    pub favorited_by: Option<String>,
    pub search: Option<String>,
}

fn published() -> Select<article::Entity> {
    article::Entity::find().filter(article::Column::Status.eq(article::Status::Published))
}

/// The article with `id`, whatever its status; NOT_FOUND when there is none.
pub async fn load<C: ConnectionTrait>(db: &C, id: i64) -> ServiceResult<article::Model> {
    article::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound("article"))
}

/// The article with `id` if the viewer may read it; NOT_FOUND otherwise, so a
/// draft's existence is not revealed.
pub async fn visible<C: ConnectionTrait>(
    db: &C,
    viewer: Option<&Viewer>,
    id: i64,
) -> ServiceResult<article::Model> {
    let article = load(db, id).await?;
    if policy::can_read_article(viewer, &article) {
        Ok(article)
    } else {
        Err(ServiceError::NotFound("article"))
    }
}

/// The article `slug` names, if the viewer may read it, with its author,
/// read in the same statement: a page showing one article nearly always
/// shows who wrote it.
pub async fn by_slug(
    db: &DatabaseConnection,
    viewer: Option<&Viewer>,
    slug: &str,
) -> ServiceResult<Option<(article::Model, user::Model)>> {
    let mut statement = article::Entity::find()
        .filter(article::Column::Slug.eq(slug))
        .limit(1)
        .into_query();
    authors::join(&mut statement, article::Entity.into_iden());
    let Some(row) = db.query_one(&statement).await? else {
        return Ok(None);
    };
    let (article, author) = (
        article::Model::from_query_result(&row, "")?,
        authors::read(&row)?,
    );
    Ok(policy::can_read_article(viewer, &article).then_some((article, author)))
}

/// Articles by id, with no visibility filter: callers apply the policy.
pub async fn by_ids(
    db: &DatabaseConnection,
    ids: &[i64],
) -> ServiceResult<HashMap<i64, article::Model>> {
    Ok(article::Entity::find()
        .filter(article::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|article| (article.id, article))
        .collect())
}

pub async fn list(
    db: &DatabaseConnection,
    filter: &ArticleFilter,
    order: ArticleOrder,
    request: &PageRequest,
    include: Include,
) -> ServiceResult<Page<Listed>> {
    let mut select = published();
    if let Some(tag) = &filter.tag {
        select = select.filter(
            article::Column::Id.in_subquery(
                tag_links()
                    .column((article_tag::Entity, article_tag::Column::ArticleId))
                    .and_where(
                        Expr::col((tag::Entity, tag::Column::Name)).eq(tag.trim().to_lowercase()),
                    )
                    .to_owned(),
            ),
        );
    }
    if let Some(author) = &filter.author {
        select = select.filter(article::Column::AuthorId.in_subquery(user_id_of(author)));
    }
    if let Some(username) = &filter.favorited_by {
        select = select.filter(
            article::Column::Id.in_subquery(
                Query::select()
                    .column(favorite::Column::ArticleId)
                    .from(favorite::Entity)
                    .and_where(favorite::Column::UserId.in_subquery(user_id_of(username)))
                    .to_owned(),
            ),
        );
    }
    let mut keyset = order.keyset();
    if let Some(search) = &filter.search {
        let Some(search) = SearchText::parse(search) else {
            // Nothing to look for finds nothing.
            return Ok(Page::empty());
        };
        let backend = db.get_database_backend();
        select = select.filter(matching(backend, &search));
        if order.field == OrderField::Relevance {
            keyset = Keyset {
                scope: order.scope(),
                key: None,
                rank: Some(relevance(backend, &search)),
                ..keyset
            };
        }
    }
    listed(db, select, &keyset, request, true, include).await
}

fn user_id_of(username: &str) -> SelectStatement {
    Query::select()
        .column(user::Column::Id)
        .from(user::Entity)
        .and_where(Expr::col(user::Column::Username).eq(username.trim().to_ascii_lowercase()))
        .to_owned()
}

/// The articles `search` finds, through each backend's full-text index
/// (see the `article_search` migration).
fn matching(backend: DatabaseBackend, search: &SearchText) -> SimpleExpr {
    if backend == DatabaseBackend::Postgres {
        return Expr::cust_with_values(
            r#""articles"."search" @@ websearch_to_tsquery('english', $1)"#,
            [search.text()],
        );
    }
    let among = |operator: &str, expression: String| {
        Expr::cust_with_values(
            format!(
                r#""articles"."id" {operator} (SELECT rowid FROM articles_search
                    WHERE articles_search MATCH ?)"#
            ),
            [expression],
        )
    };
    match search.fts5() {
        (Some(required), Some(excluded)) => among("IN", format!("{required} NOT {excluded}")),
        (Some(required), None) => among("IN", required),
        (None, Some(excluded)) => among("NOT IN", excluded),
        (None, None) => Expr::val(false),
    }
}

/// How well each article matches `search`, as an integer (higher is
/// better; cursors hold it): Postgres's cover density rank, which weighs
/// title over description over body through the vector's weights; SQLite's
/// BM25 over the FTS5 table, with the same weighing by column. A search of
/// exclusions alone ranks every article alike.
fn relevance(backend: DatabaseBackend, search: &SearchText) -> SimpleExpr {
    if backend == DatabaseBackend::Postgres {
        return Expr::cust_with_values(
            r#"(ts_rank_cd("articles"."search", websearch_to_tsquery('english', $1)) * 1000000)::bigint"#,
            [search.text()],
        );
    }
    match search.fts5().0 {
        Some(required) => Expr::cust_with_values(
            r#"CAST(-(SELECT bm25(articles_search, 10.0, 4.0, 1.0) FROM articles_search
                WHERE articles_search MATCH ? AND articles_search.rowid = "articles"."id")
                * 1000000 AS INTEGER)"#,
            [required],
        ),
        None => Expr::val(0_i64),
    }
}

/// Published articles by the authors the viewer follows, newest first.
pub async fn feed(
    db: &DatabaseConnection,
    viewer: Option<&Viewer>,
    request: &PageRequest,
    include: Include,
) -> ServiceResult<Page<Listed>> {
    let viewer = require_viewer(viewer)?;
    let select = published().filter(
        article::Column::AuthorId.in_subquery(
            Query::select()
                .column(follow::Column::FolloweeId)
                .from(follow::Entity)
                .and_where(Expr::col(follow::Column::FollowerId).eq(viewer.id))
                .to_owned(),
        ),
    );
    let keyset = ArticleOrder::default().keyset();
    listed(db, select, &keyset, request, true, include).await
}

pub async fn by_author(
    db: &DatabaseConnection,
    author_id: i64,
    order: ArticleOrder,
    request: &PageRequest,
) -> ServiceResult<Page<Listed>> {
    let select = published().filter(article::Column::AuthorId.eq(author_id));
    listed(
        db,
        select,
        &order.keyset(),
        request,
        false,
        Include::default(),
    )
    .await
}

/// The first (or last) page of published articles of each author, in one
/// statement.
pub async fn first_pages_by_authors(
    db: &DatabaseConnection,
    author_ids: &[i64],
    order: ArticleOrder,
    size: u64,
    backward: bool,
) -> ServiceResult<HashMap<i64, Page<Listed>>> {
    let parent = article::Column::AuthorId;
    let select = without_body(published());
    let keyset = order.keyset();
    let pages =
        first_pages::<_, article::Model>(db, select, parent, author_ids, &keyset, size, backward)
            .await?;
    Ok(pages
        .into_iter()
        .map(|(author, page)| (author, page.map(Listed::from)))
        .collect())
}

/// A user's drafts, newest first, for that user only; anyone else sees none.
pub async fn drafts(
    db: &DatabaseConnection,
    viewer: Option<&Viewer>,
    author_id: i64,
    request: &PageRequest,
) -> ServiceResult<Page<Listed>> {
    if !policy::can_list_drafts(viewer, author_id) {
        return Ok(Page::empty());
    }
    let select = article::Entity::find()
        .filter(article::Column::AuthorId.eq(author_id))
        .filter(article::Column::Status.eq(article::Status::Draft));
    let keyset = Keyset {
        scope: DRAFTS_SCOPE,
        ..ArticleOrder {
            field: OrderField::CreatedAt,
            descending: true,
        }
        .keyset()
    };
    listed(db, select, &keyset, request, false, Include::default()).await
}

/// Each article's tags in the author's order.
pub async fn tags_of(
    db: &DatabaseConnection,
    article_ids: &[i64],
) -> ServiceResult<HashMap<i64, Vec<String>>> {
    let rows: Vec<(i64, String)> = article_tag::Entity::find()
        .select_only()
        .column(article_tag::Column::ArticleId)
        .column(tag::Column::Name)
        .inner_join(tag::Entity)
        .filter(article_tag::Column::ArticleId.is_in(article_ids.iter().copied()))
        .order_by_asc(article_tag::Column::ArticleId)
        .order_by_asc(article_tag::Column::Position)
        .into_tuple()
        .all(db)
        .await?;
    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    for (article_id, name) in rows {
        tags.entry(article_id).or_default().push(name);
    }
    Ok(tags)
}

pub async fn create(
    db: &DatabaseConnection,
    viewer: Option<&Viewer>,
    new: NewArticle,
) -> ServiceResult<article::Model> {
    let viewer = require_viewer(viewer)?;
    let now = now();
    let status = if new.publish {
        article::Status::Published
    } else {
        article::Status::Draft
    };
    let txn = db::begin_write(db).await?;
    let base = slugify(&new.title);
    let draft = article::ActiveModel {
        title: Set(new.title.into_inner()),
        description: Set(new.description.into_inner()),
        body: Set(new.body.into_inner()),
        status: Set(status),
        author_id: Set(viewer.id),
        favorites_count: Set(0),
        published_at: Set(new.publish.then_some(now)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let article = insert_with_unique_slug(&txn, draft, &base).await?;
    let tag_ids = attach_tags(&txn, article.id, &new.tags).await?;
    if new.publish {
        adjust_tag_counts(&txn, &tag_ids, 1).await?;
    }
    txn.commit().await?;
    Ok(article)
}

/// Inserts under `base-xxxxxx`, a fresh random suffix on each try. Every
/// slug has the suffix, so a slug never shows whether its title was taken:
/// a bare `base` for the first article would tell anyone that a `base-…`
/// had a hidden draft before it. Each try runs in a savepoint because a
/// failed statement aborts a Postgres transaction; relying on the unique
/// index (not a prior SELECT) keeps two concurrent writers of the same
/// title from both getting one slug.
async fn insert_with_unique_slug(
    txn: &DatabaseTransaction,
    draft: article::ActiveModel,
    base: &str,
) -> ServiceResult<article::Model> {
    const ATTEMPTS: usize = 5;
    for _ in 0..ATTEMPTS {
        let slug = format!("{base}-{}", random_suffix());
        let mut candidate = draft.clone();
        candidate.slug = Set(slug);
        let savepoint = txn.begin().await?;
        match candidate.insert(&savepoint).await {
            Ok(article) => {
                savepoint.commit().await?;
                return Ok(article);
            }
            Err(err) if db::ARTICLES_SLUG.violated_by(&err) => savepoint.rollback().await?,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ServiceError::conflict(
        "title",
        "could not find a free slug for this title",
    ))
}

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 6];
    rand::fill(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// Links the tags (creating unknown ones) and returns their ids.
async fn attach_tags(
    txn: &DatabaseTransaction,
    article_id: i64,
    tags: &TagList,
) -> ServiceResult<Vec<i64>> {
    if tags.as_slice().is_empty() {
        return Ok(Vec::new());
    }
    tag::Entity::insert_many(tags.as_slice().iter().map(|name| tag::ActiveModel {
        name: Set(name.clone()),
        article_count: Set(0),
        ..Default::default()
    }))
    .on_conflict(
        OnConflict::column(tag::Column::Name)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    let ids: HashMap<String, i64> = tag::Entity::find()
        .select_only()
        .column(tag::Column::Name)
        .column(tag::Column::Id)
        .filter(tag::Column::Name.is_in(tags.as_slice().iter().cloned()))
        .into_tuple::<(String, i64)>()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    let mut tag_ids = Vec::with_capacity(ids.len());
    let mut links = Vec::with_capacity(ids.len());
    for (position, name) in tags.as_slice().iter().enumerate() {
        let tag_id = *ids
            .get(name)
            .ok_or_else(|| ServiceError::Database(sea_orm::DbErr::RecordNotFound(name.clone())))?;
        tag_ids.push(tag_id);
        links.push(article_tag::ActiveModel {
            article_id: Set(article_id),
            tag_id: Set(tag_id),
            position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
        });
    }
    article_tag::Entity::insert_many(links)
        .exec_without_returning(txn)
        .await?;
    Ok(tag_ids)
}

/// `tags.article_count` counts published articles; it moves by atomic
/// increments in the writing transaction so concurrent writers cannot lose
/// an update the way read-modify-write would.
async fn adjust_tag_counts(
    txn: &DatabaseTransaction,
    tag_ids: &[i64],
    delta: i32,
) -> ServiceResult<()> {
    if tag_ids.is_empty() {
        return Ok(());
    }
    tag::Entity::update_many()
        .col_expr(
            tag::Column::ArticleCount,
            Expr::col(tag::Column::ArticleCount).add(delta),
        )
        .filter(tag::Column::Id.is_in(tag_ids.iter().copied()))
        .exec(txn)
        .await?;
    Ok(())
}

async fn tag_ids_of(txn: &DatabaseTransaction, article_id: i64) -> ServiceResult<Vec<i64>> {
    Ok(article_tag::Entity::find()
        .select_only()
        .column(article_tag::Column::TagId)
        .filter(article_tag::Column::ArticleId.eq(article_id))
        .into_tuple::<i64>()
        .all(txn)
        .await?)
}

/// Loads the article for a write by the viewer and checks `allowed`. Someone
/// who cannot even read it gets NOT_FOUND, not FORBIDDEN.
async fn for_write(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    id: i64,
    allowed: fn(&Viewer, &article::Model) -> bool,
    refusal: &'static str,
) -> ServiceResult<article::Model> {
    let article = visible(txn, Some(viewer), id).await?;
    if !allowed(viewer, &article) {
        return Err(ServiceError::Forbidden(refusal));
    }
    Ok(article)
}

pub async fn update(
    db: &DatabaseConnection,
    viewer: Option<&Viewer>,
    id: i64,
    changes: ArticleChanges,
) -> ServiceResult<article::Model> {
    let viewer = require_viewer(viewer)?;
    let txn = db::begin_write(db).await?;
    let article = for_write(
        &txn,
        viewer,
        id,
        policy::can_edit_article,
        "only the author may edit this article",
    )
    .await?;
    let is_published = article.status == article::Status::Published;
    let mut model: article::ActiveModel = article.into();
    if let Some(title) = changes.title {
        model.title = Set(title.into_inner());
    }
    if let Some(description) = changes.description {
        model.description = Set(description.into_inner());
    }
    if let Some(body) = changes.body {
        model.body = Set(body.into_inner());
    }
    if let Some(tags) = changes.tags {
        let old: HashSet<i64> = tag_ids_of(&txn, id).await?.into_iter().collect();
        article_tag::Entity::delete_many()
            .filter(article_tag::Column::ArticleId.eq(id))
            .exec(&txn)
            .await?;
        let new: HashSet<i64> = attach_tags(&txn, id, &tags).await?.into_iter().collect();
        if is_published {
            let added: Vec<i64> = new.difference(&old).copied().collect();
            let removed: Vec<i64> = old.difference(&new).copied().collect();
            adjust_tag_counts(&txn, &added, 1).await?;
            adjust_tag_counts(&txn, &removed, -1).await?;
        }
    }
    model.updated_at = Set(now());
    let updated = model.update(&txn).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Publishes a draft; publishing a published article changes nothing. The
/// flag says whether this call published it.
pub async fn publish(
    db: &DatabaseConnection,
    viewer: Option<&Viewer>,
    id: i64,
) -> ServiceResult<(article::Model, bool)> {
    let viewer = require_viewer(viewer)?;
    let txn = db::begin_write(db).await?;
    let article = for_write(
        &txn,
        viewer,
        id,
        policy::can_publish_article,
        "only the author may publish this article",
    )
    .await?;
    if article.status == article::Status::Published {
        txn.rollback().await?;
        return Ok((article, false));
    }
    let now = now();
    let mut model: article::ActiveModel = article.into();
    model.status = Set(article::Status::Published);
    model.published_at = Set(Some(now));
    model.updated_at = Set(now);
    let published = model.update(&txn).await?;
    adjust_tag_counts(&txn, &tag_ids_of(&txn, id).await?, 1).await?;
    txn.commit().await?;
    Ok((published, true))
}

pub async fn delete(
    db: &DatabaseConnection,
    viewer: Option<&Viewer>,
    id: i64,
) -> ServiceResult<()> {
    let viewer = require_viewer(viewer)?;
    let txn = db::begin_write(db).await?;
    let article = for_write(
        &txn,
        viewer,
        id,
        policy::can_edit_article,
        "only the author may delete this article",
    )
    .await?;
    if article.status == article::Status::Published {
        adjust_tag_counts(&txn, &tag_ids_of(&txn, id).await?, -1).await?;
    }
    article::Entity::delete_by_id(id).exec(&txn).await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ordering_has_its_own_cursor_scope() {
        let fields = [
            OrderField::PublishedAt,
            OrderField::CreatedAt,
            OrderField::FavoritesCount,
            OrderField::Relevance,
        ];
        let scopes: HashSet<&str> = fields
            .into_iter()
            .map(|field| {
                ArticleOrder {
                    field,
                    descending: true,
                }
                .scope()
            })
            .chain([DRAFTS_SCOPE])
            .collect();
        assert_eq!(scopes.len(), fields.len() + 1);
    }
}
