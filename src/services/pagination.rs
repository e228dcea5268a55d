//! Keyset pagination shared by every list.
//!
//! Why keyset and not OFFSET: OFFSET makes the database walk and discard every
//! skipped row (page 500 costs 500 pages) and shifts under concurrent inserts,
//! so a client paging forward sees duplicates or gaps. A cursor holds the last
//! row's (order key, id); the next page is "rows strictly beyond that tuple",
//! which an index on (…, key, id) answers with one seek, and rows inserted
//! elsewhere in the list cannot move it.
//!
//! The bound is a row-value comparison `(key, id) < (?, ?)`, which Postgres and
//! SQLite both match against a composite index, unlike the equivalent
//! `key < ? OR (key = ? AND id < ?)` that sea-orm's own cursor generates.

use std::{collections::HashMap, sync::Arc};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult,
    IdenStatic, Order, QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait, Select,
    Value,
    sea_query::{
        Alias, Asterisk, DynIden, Expr, ExprTrait, IntoIden, Query, SelectStatement, SimpleExpr,
        UnionType,
    },
};
use tokio::sync::OnceCell;

use super::{ServiceError, ServiceResult};
use crate::domain::{Cursor, CursorKey, PageRequest, ValidationError};

/// One page of a list, in list order, each item with its cursor.
#[derive(Clone)]
pub struct Page<T> {
    pub items: Vec<(Cursor, T)>,
    /// Rows exist before the first item. When paginating forward this is
    /// "a cursor was given", without a query: the cursor's own row precedes.
    pub has_previous: bool,
    /// Rows exist after the last item (symmetrically for backward pages).
    pub has_next: bool,
    pub total: TotalCount,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        let mut f = f;
        self.filter_map(|item| Some(f(item)))
    }

    /// Maps each item, dropping those for which `f` finds nothing (a row deleted
    /// between the page query and a follow-up read).
    pub fn filter_map<U>(self, mut f: impl FnMut(T) -> Option<U>) -> Page<U> {
        Page {
            items: self
                .items
                .into_iter()
                .filter_map(|(cursor, item)| f(item).map(|item| (cursor, item)))
                .collect(),
            has_previous: self.has_previous,
            has_next: self.has_next,
            total: self.total,
        }
    }

    /// An empty page, for lists the viewer may not see.
    pub fn empty() -> Self {
        Self {
            items: Vec::new(),
            has_previous: false,
            has_next: false,
            total: TotalCount::Known(0),
        }
    }
}

/// The size of the whole list: known already, or counted only when a client
/// asks for it.
#[derive(Clone)]
pub enum TotalCount {
    Known(i64),
    /// Boxed: pages are cloned through loaders, and most carry a known count.
    Deferred(Box<(DatabaseConnection, SelectStatement)>),
    /// One parent's list among those of [`first_pages`].
    Grouped(Arc<GroupCount>, i64),
}

impl TotalCount {
    pub async fn get(&self) -> ServiceResult<i64> {
        let (db, query) = match self {
            Self::Known(count) => return Ok(*count),
            Self::Grouped(group, parent) => return group.of(*parent).await,
            Self::Deferred(deferred) => (&deferred.0, &deferred.1),
        };
        let statement = Query::select()
            .expr(Expr::cust("COUNT(*)"))
            .from_subquery(query.clone(), Alias::new("list"))
            .to_owned();
        let row = db.query_one(&statement).await?;
        Ok(match row {
            Some(row) => row.try_get_by_index::<i64>(0)?,
            None => 0,
        })
    }
}

/// What a list's rows are read as: by default the entity's model; a list
/// can also join rows its items always come with (a comment's author), so
/// they arrive in the page's own statement instead of another one.
pub trait Row<E: EntityTrait>: Sized {
    /// Adds the joins and columns this row reads besides the entity's to
    /// `statement`, whose rows are the list's, named `rows`. They are
    /// joined to the page's rows only, never to the rows a page is chosen
    /// from (which can be many more).
    fn join(statement: &mut SelectStatement, rows: DynIden) {
        let _ = (statement, rows);
    }

    fn read(row: &QueryResult) -> Result<Self, DbErr>;

    fn model(&self) -> &E::Model;
}

impl<E: EntityTrait> Row<E> for E::Model {
    fn read(row: &QueryResult) -> Result<Self, DbErr> {
        Self::from_query_result(row, "")
    }

    fn model(&self) -> &E::Model {
        self
    }
}

/// How a list is ordered: by `key` (when there is one) then `id`, both in the
/// same direction; `scope` names the list in its cursors. Instead of a
/// column, `rank` may compute the key for each row (a search's relevance):
/// an integer, read back from each row for its cursor.
pub struct Keyset<E: EntityTrait> {
    pub scope: &'static str,
    pub key: Option<E::Column>,
    pub rank: Option<SimpleExpr>,
    pub id: E::Column,
    pub descending: bool,
    pub cursor_key: fn(&E::Model) -> CursorKey,
    pub row_id: fn(&E::Model) -> i64,
}

impl<E: EntityTrait> Keyset<E> {
    fn cursor(&self, model: &E::Model) -> Cursor {
        Cursor::new(self.scope, (self.cursor_key)(model), (self.row_id)(model))
    }

    fn tuple(&self) -> SimpleExpr {
        match (&self.rank, self.key) {
            (Some(rank), _) => Expr::tuple([rank.clone(), self.id.into_expr()]),
            (None, Some(key)) => Expr::tuple([key.into_expr(), self.id.into_expr()]),
            (None, None) => self.id.into_expr(),
        }
    }

    fn value(cursor: &Cursor) -> SimpleExpr {
        let id = Expr::val(cursor.id);
        match cursor.key {
            CursorKey::None => id,
            CursorKey::Int(key) => Expr::tuple([Expr::val(key), id]),
            CursorKey::Time(key) => Expr::tuple([Expr::val(Value::from(key)), id]),
        }
    }

    /// Refuses a cursor whose key is not of the kind this list orders by:
    /// one forged with a number where a time belongs (or the reverse) is
    /// the client's mistake, which the database would otherwise report as
    /// a failed statement.
    fn check(&self, cursor: &Cursor, field: &'static str) -> ServiceResult<()> {
        use sea_orm::{ColumnTrait, ColumnType};
        let column = self.key.map(|key| key.def().get_column_type().clone());
        let fits = match (&self.rank, column) {
            (Some(_), _) => matches!(cursor.key, CursorKey::Int(_)),
            (None, None) => matches!(cursor.key, CursorKey::None),
            (
                None,
                Some(
                    ColumnType::TimestampWithTimeZone
                    | ColumnType::Timestamp
                    | ColumnType::DateTime,
                ),
            ) => matches!(cursor.key, CursorKey::Time(_)),
            (
                None,
                Some(ColumnType::Integer | ColumnType::BigInteger | ColumnType::SmallInteger),
            ) => {
                matches!(cursor.key, CursorKey::Int(_))
            }
            (None, Some(_)) => false,
        };
        if fits {
            Ok(())
        } else {
            Err(ValidationError::new(field, format!("{field} is not a cursor of this list")).into())
        }
    }

    /// Rows strictly after `cursor` in list order (before it when `!after`).
    fn beyond(&self, cursor: &Cursor, after: bool) -> SimpleExpr {
        if after == self.descending {
            self.tuple().lt(Self::value(cursor))
        } else {
            self.tuple().gt(Self::value(cursor))
        }
    }
}

/// The column a ranked list's statement computes its rank into.
const RANK: &str = "list_rank";

/// Fetches one page of `select` (already filtered to the list's rows).
pub async fn paginate<E, R>(
    db: &DatabaseConnection,
    select: Select<E>,
    keyset: &Keyset<E>,
    request: &PageRequest,
) -> ServiceResult<Page<R>>
where
    E: EntityTrait,
    R: Row<E>,
{
    let total = TotalCount::Deferred(Box::new((db.clone(), select.clone().into_query())));
    let mut select = select;
    if let Some(after) = &request.after {
        keyset.check(after, "after")?;
        select = select.filter(keyset.beyond(after, true));
    }
    if let Some(before) = &request.before {
        keyset.check(before, "before")?;
        select = select.filter(keyset.beyond(before, false));
    }
    // A backward page is read in reverse list order, then flipped.
    let order = if keyset.descending != request.backward {
        Order::Desc
    } else {
        Order::Asc
    };
    if let Some(rank) = &keyset.rank {
        select = select
            .expr_as(rank.clone(), RANK)
            .order_by(rank.clone(), order.clone());
    } else if let Some(key) = keyset.key {
        select = select.order_by(key, order.clone());
    }
    let mut statement = select
        .order_by(keyset.id, order)
        .limit(request.size + 1)
        .into_query();
    R::join(&mut statement, E::default().into_iden());
    let mut rows = db
        .query_all(&statement)
        .await?
        .iter()
        .map(|row| {
            let rank = match keyset.rank {
                Some(_) => Some(row.try_get::<i64>("", RANK)?),
                None => None,
            };
            Ok((rank, R::read(row)?))
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    let has_more = rows.len() as u64 > request.size;
    rows.truncate(request.size as usize);
    if request.backward {
        rows.reverse();
    }
    let items = rows
        .into_iter()
        .map(|(rank, row)| {
            let cursor = match rank {
                Some(rank) => Cursor::new(
                    keyset.scope,
                    CursorKey::Int(rank),
                    (keyset.row_id)(row.model()),
                ),
                None => keyset.cursor(row.model()),
            };
            (cursor, row)
        })
        .collect();
    let (has_previous, has_next) = if request.backward {
        (has_more, request.before.is_some())
    } else {
        (request.after.is_some(), has_more)
    };
    Ok(Page {
        items,
        has_previous,
        has_next,
        total,
    })
}

/// The first (or, `backward`, last) page of the same list for many parents at
/// once, in one statement whatever the number of parents (up to
/// [`PARENTS_PER_STATEMENT`]): each parent's page is its own `ORDER BY …
/// LIMIT` read through the list's index, and the pages are combined with
/// `UNION ALL`. This is what keeps a connection nested inside a list (the
/// comments of each article on a page) from costing one query per parent,
/// without reading more than a page of rows per parent (ranking every
/// child row with a window function read and sorted all of them, and made
/// Postgres join authors to a guess of how many there were). The sizes of
/// the lists are counted, for all parents in one statement, only when a
/// client asks for one. Cursors belong to one parent's list, so a request
/// with a cursor takes the single-list path instead.
pub async fn first_pages<E, R>(
    db: &DatabaseConnection,
    select: Select<E>,
    parent: E::Column,
    parents: &[i64],
    keyset: &Keyset<E>,
    size: u64,
    backward: bool,
) -> ServiceResult<HashMap<i64, Page<R>>>
where
    E: EntityTrait,
    R: Row<E>,
{
    let order = if keyset.descending != backward {
        Order::Desc
    } else {
        Order::Asc
    };
    let totals = Arc::new(GroupCount {
        db: db.clone(),
        statement: Query::select()
            .column(Alias::new(parent.as_str()))
            .expr(Expr::cust("COUNT(*)"))
            .from_subquery(
                select
                    .clone()
                    .filter(parent.is_in(parents.iter().copied()))
                    .into_query(),
                Alias::new("list"),
            )
            .group_by_col(Alias::new(parent.as_str()))
            .to_owned(),
        counts: OnceCell::new(),
    });
    let mut rows: HashMap<i64, Vec<R>> = HashMap::new();
    for chunk in parents.chunks(PARENTS_PER_STATEMENT) {
        let pages = chunk.iter().enumerate().map(|(index, parent_id)| {
            let mut page = select.clone().filter(parent.eq(*parent_id));
            if let Some(key) = keyset.key {
                page = page.order_by(key, order.clone());
            }
            let page = page
                .order_by(keyset.id, order.clone())
                .limit(size + 1)
                .into_query();
            // SQLite takes ORDER BY and LIMIT in a compound SELECT's
            // terms only inside a subquery.
            Query::select()
                .column(Asterisk)
                .from_subquery(page, Alias::new(format!("page{index}")))
                .to_owned()
        });
        let mut pages = pages.collect::<Vec<_>>().into_iter();
        let Some(mut union) = pages.next() else {
            continue;
        };
        union.unions(pages.map(|page| (UnionType::All, page)));
        let paged = Alias::new("paged").into_iden();
        let mut statement = Query::select()
            .column((paged.clone(), Asterisk))
            .from_subquery(union, paged.clone())
            .to_owned();
        R::join(&mut statement, paged.clone());
        statement.order_by((paged.clone(), Alias::new(parent.as_str())), Order::Asc);
        if let Some(key) = keyset.key {
            statement.order_by((paged.clone(), Alias::new(key.as_str())), order.clone());
        }
        statement.order_by((paged, Alias::new(keyset.id.as_str())), order.clone());
        for row in db.query_all(&statement).await? {
            let parent_id: i64 = row.try_get("", parent.as_str())?;
            rows.entry(parent_id).or_default().push(R::read(&row)?);
        }
    }
    Ok(parents
        .iter()
        .map(|parent_id| {
            let mut models = rows.remove(parent_id).unwrap_or_default();
            let has_more = models.len() as u64 > size;
            models.truncate(usize::try_from(size).unwrap_or(usize::MAX));
            if backward {
                models.reverse();
            }
            let page = Page {
                items: models
                    .into_iter()
                    .map(|row| (keyset.cursor(row.model()), row))
                    .collect(),
                has_previous: backward && has_more,
                has_next: !backward && has_more,
                total: TotalCount::Grouped(totals.clone(), *parent_id),
            };
            (*parent_id, page)
        })
        .collect())
}

/// Bounds a first-pages statement: SQLite allows 500 terms in a compound
/// SELECT, and a page of a list holds at most 100 items (so 100 parents).
const PARENTS_PER_STATEMENT: usize = 100;

/// The sizes of several parents' lists, counted in one statement the first
/// time any of them is asked for.
pub struct GroupCount {
    db: DatabaseConnection,
    /// `SELECT parent, COUNT(*) … GROUP BY parent`.
    statement: SelectStatement,
    counts: OnceCell<HashMap<i64, i64>>,
}

impl GroupCount {
    async fn of(&self, parent: i64) -> ServiceResult<i64> {
        let counts = self
            .counts
            .get_or_try_init(|| async {
                let mut counts = HashMap::new();
                for row in self.db.query_all(&self.statement).await? {
                    counts.insert(row.try_get_by_index(0)?, row.try_get_by_index(1)?);
                }
                Ok::<_, ServiceError>(counts)
            })
            .await?;
        Ok(counts.get(&parent).copied().unwrap_or(0))
    }
}
