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

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult,
    IdenStatic, Order, QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait, Select,
    Value,
    sea_query::{
        Alias, Asterisk, DynIden, Expr, ExprTrait, Func, IntoIden, Query, SelectStatement,
        SimpleExpr, WindowStatement,
    },
};

use super::ServiceResult;
use crate::domain::{Cursor, CursorKey, PageRequest};

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
}

impl TotalCount {
    pub async fn get(&self) -> ServiceResult<i64> {
        let (db, query) = match self {
            Self::Known(count) => return Ok(*count),
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
    /// joined to the page's rows only, never to the rows a windowed
    /// statement ranks (which can be many more).
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
/// same direction; `scope` names the list in its cursors.
pub struct Keyset<E: EntityTrait> {
    pub scope: &'static str,
    pub key: Option<E::Column>,
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
        match self.key {
            Some(key) => Expr::tuple([key.into_expr(), self.id.into_expr()]),
            None => self.id.into_expr(),
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

    /// Rows strictly after `cursor` in list order (before it when `!after`).
    fn beyond(&self, cursor: &Cursor, after: bool) -> SimpleExpr {
        if after == self.descending {
            self.tuple().lt(Self::value(cursor))
        } else {
            self.tuple().gt(Self::value(cursor))
        }
    }
}

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
        select = select.filter(keyset.beyond(after, true));
    }
    if let Some(before) = &request.before {
        select = select.filter(keyset.beyond(before, false));
    }
    // A backward page is read in reverse list order, then flipped.
    let order = if keyset.descending != request.backward {
        Order::Desc
    } else {
        Order::Asc
    };
    if let Some(key) = keyset.key {
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
        .map(R::read)
        .collect::<Result<Vec<_>, _>>()?;
    let has_more = rows.len() as u64 > request.size;
    rows.truncate(request.size as usize);
    if request.backward {
        rows.reverse();
    }
    let items = rows
        .into_iter()
        .map(|row| (keyset.cursor(row.model()), row))
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
/// once, in one statement whatever the number of parents: each row is ranked
/// within its parent's list by a window function and only the top of each
/// list is returned, with the list's size alongside. This is what keeps a
/// connection nested inside a list (the comments of each article on a page)
/// from costing one query per parent. Cursors belong to one parent's list, so
/// a request with a cursor takes the single-list path instead.
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
    let mut ranking = WindowStatement::partition_by(parent);
    if let Some(key) = keyset.key {
        ranking.order_by_expr(key.into_expr(), order.clone());
    }
    ranking.order_by_expr(keyset.id.into_expr(), order);
    let mut ranked = select
        .filter(parent.is_in(parents.iter().copied()))
        .into_query();
    ranked
        .expr_window_as(Func::cust("ROW_NUMBER"), ranking, RANK)
        .expr_window_as(
            Func::count(Expr::cust("*")),
            WindowStatement::partition_by(parent),
            TOTAL,
        );
    let rows = Alias::new("ranked").into_iden();
    let mut statement = Query::select()
        .column((rows.clone(), Asterisk))
        .from_subquery(ranked, rows.clone())
        .and_where(Expr::col((rows.clone(), Alias::new(RANK))).lte(size + 1))
        .order_by((rows.clone(), Alias::new(RANK)), Order::Asc)
        .to_owned();
    R::join(&mut statement, rows);
    let mut rows: HashMap<i64, (i64, Vec<R>)> = HashMap::new();
    for row in db.query_all(&statement).await? {
        let parent_id: i64 = row.try_get("", parent.as_str())?;
        let total: i64 = row.try_get("", TOTAL)?;
        let model = R::read(&row)?;
        rows.entry(parent_id)
            .or_insert_with(|| (total, Vec::new()))
            .1
            .push(model);
    }
    Ok(parents
        .iter()
        .map(|parent_id| {
            let (total, mut models) = rows.remove(parent_id).unwrap_or_default();
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
                total: TotalCount::Known(total),
            };
            (*parent_id, page)
        })
        .collect())
}

const RANK: &str = "page_rank";
const TOTAL: &str = "page_total";
