//! sea-orm entities: the storage model. Nothing above the service layer sees these
//! except the GraphQL object wrappers, which read their columns.

pub mod article;
pub mod article_tag;
pub mod comment;
pub mod favorite;
pub mod follow;
pub mod session;
pub mod tag;
pub mod user;
