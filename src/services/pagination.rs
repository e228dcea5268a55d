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

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Select, Value,
    sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement, SimpleExpr},
};

use super::ServiceResult;
use crate::domain::{Cursor, CursorKey, PageRequest};

/// One page of a list, in list order, each item with its cursor.
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
    pub fn empty(db: &DatabaseConnection) -> Self {
        Self {
            items: Vec::new(),
            has_previous: false,
            has_next: false,
            total: TotalCount::zero(db),
        }
    }
}

/// The size of the whole list, computed only when a client asks for it.
#[derive(Clone)]
pub struct TotalCount {
    db: DatabaseConnection,
    query: Option<SelectStatement>,
}

impl TotalCount {
    fn zero(db: &DatabaseConnection) -> Self {
        Self {
            db: db.clone(),
            query: None,
        }
    }

    pub async fn get(&self) -> ServiceResult<i64> {
        let Some(query) = &self.query else {
            return Ok(0);
        };
        let statement = Query::select()
            .expr(Expr::cust("COUNT(*)"))
            .from_subquery(query.clone(), Alias::new("list"))
            .to_owned();
        let row = self.db.query_one(&statement).await?;
        Ok(match row {
            Some(row) => row.try_get_by_index::<i64>(0)?,
            None => 0,
        })
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
pub async fn paginate<E>(
    db: &DatabaseConnection,
    select: Select<E>,
    keyset: &Keyset<E>,
    request: &PageRequest,
) -> ServiceResult<Page<E::Model>>
where
    E: EntityTrait,
{
    let total = TotalCount {
        db: db.clone(),
        query: Some(select.clone().into_query()),
    };
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
    let mut rows = select
        .order_by(keyset.id, order)
        .limit(request.size + 1)
        .all(db)
        .await?;
    let has_more = rows.len() as u64 > request.size;
    rows.truncate(request.size as usize);
    if request.backward {
        rows.reverse();
    }
    let items = rows
        .into_iter()
        .map(|row| (keyset.cursor(&row), row))
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
