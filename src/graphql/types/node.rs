use async_graphql::{ID, Interface};

use super::{Article, Comment, User};

/// An object with a global id, refetchable with `node(id:)`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "A global, opaque identifier."))]
pub enum Node {
    User(User),
    Article(Article),
    Comment(Comment),
}
