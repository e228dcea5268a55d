//! Output types: each wraps a storage row and resolves fields through the
//! services, the loaders and the policy.

mod article;
mod auth;
mod comment;
mod node;
mod tag;
mod user;

pub use article::Article;
pub use auth::AuthPayload;
pub use comment::Comment;
pub use node::Node;
pub use tag::Tag;
pub use user::User;

use async_graphql::ID;

use crate::domain::{GlobalId, NodeKind};

fn global_id(kind: NodeKind, id: i64) -> ID {
    ID(GlobalId::new(kind, id).encode())
}
