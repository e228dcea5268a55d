//! Rows read together with their author, in the same statement: lists that
//! nearly always show who wrote each item (a discussion, a feed) would
//! otherwise cost a second statement for the authors, and every statement
//! is two round trips (sqlx pings each connection it takes back).

use sea_orm::{
    DbErr, EntityTrait, FromQueryResult, IdenStatic, Iterable, JoinType, QueryResult, QuerySelect,
    RelationDef, Select,
};

use crate::db::entities::user;

/// The prefix of the author's columns in a row.
const PREFIX: &str = "by_";

/// `select`, joined through `author` to the author's row.
pub fn join<E: EntityTrait>(select: Select<E>, author: RelationDef) -> Select<E> {
    user::Column::iter().fold(
        select.join(JoinType::InnerJoin, author),
        |select, column| select.column_as(column, format!("{PREFIX}{}", column.as_str())),
    )
}

/// The author of a row selected through [`join`].
pub fn read(row: &QueryResult) -> Result<user::Model, DbErr> {
    user::Model::from_query_result(row, PREFIX)
}
