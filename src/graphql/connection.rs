//! Relay connections over service pages.

use std::convert::Infallible;

use async_graphql::{
    Context, Object, OutputType,
    connection::{Connection, CursorType, Edge},
};

use crate::{
    domain::PageRequest,
    services::{Page, ServiceError, TotalCount},
};

/// A cursor the service layer already encoded; the GraphQL layer only passes
/// it through.
pub struct PageCursor(String);

impl CursorType for PageCursor {
    type Error = Infallible;

    fn decode_cursor(s: &str) -> Result<Self, Infallible> {
        Ok(Self(s.to_owned()))
    }

    fn encode_cursor(&self) -> String {
        self.0.clone()
    }
}

/// The `totalCount` field every connection has, counted only when selected.
pub struct ListTotal(TotalCount);

#[Object]
impl ListTotal {
    /// The number of items in the whole list, across all pages.
    async fn total_count(&self) -> Result<i64, ServiceError> {
        self.0.get().await
    }
}

pub type ListConnection<N> = Connection<PageCursor, N, ListTotal>;

/// Validated pagination arguments, or BAD_USER_INPUT.
pub fn page_request(
    scope: &'static str,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> Result<PageRequest, ServiceError> {
    Ok(PageRequest::parse(
        scope,
        first,
        after.as_deref(),
        last,
        before.as_deref(),
    )?)
}

/// Whether the connection's items select `field`, through `nodes` or
/// `edges { node }`.
pub fn selects(ctx: &Context<'_>, field: &str) -> bool {
    let selection = ctx.look_ahead();
    selection.field("nodes").field(field).exists()
        || selection.field("edges").field("node").field(field).exists()
}

pub fn connection<T, N: OutputType>(page: Page<T>, wrap: impl Fn(T) -> N) -> ListConnection<N> {
    let mut connection =
        Connection::with_additional_fields(page.has_previous, page.has_next, ListTotal(page.total));
    connection.edges = page
        .items
        .into_iter()
        .map(|(cursor, item)| Edge::new(PageCursor(cursor.encode()), wrap(item)))
        .collect();
    connection
}
