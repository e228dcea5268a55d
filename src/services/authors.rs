//! Rows read together with their author, in the same statement: lists that
//! nearly always show who wrote each item (a discussion, a feed) would
//! otherwise cost a second statement for the authors, and every statement
//! is two round trips (sqlx pings each connection it takes back).

use sea_orm::{
    ColumnTrait, DbErr, FromQueryResult, IdenStatic, Iterable, QueryResult,
    sea_query::{Alias, DynIden, Expr, ExprTrait, SelectStatement},
};

use crate::db::entities::user;

/// The prefix of the author's columns in a row.
const PREFIX: &str = "by_";

/// Joins to `statement` the author of each of its `rows`, named by their
/// `author_id` column, with the author's columns prefixed.
pub fn join(statement: &mut SelectStatement, rows: DynIden) {
    statement.inner_join(
        user::Entity,
        Expr::col((user::Entity, user::Column::Id)).equals((rows, Alias::new("author_id"))),
    );
    for column in user::Column::iter() {
        statement.expr_as(
            column.select_as(Expr::col((user::Entity, column))),
            Alias::new(format!("{PREFIX}{}", column.as_str())),
        );
    }
}

/// The author of a row selected through [`join`].
pub fn read(row: &QueryResult) -> Result<user::Model, DbErr> {
    user::Model::from_query_result(row, PREFIX)
}
