use async_graphql::SimpleObject;

use crate::db::entities::tag;

#[derive(SimpleObject)]
#[graphql(cache_control(max_age = 30))]
pub struct Tag {
    pub name: String,
    /// How many published articles carry the tag.
    pub article_count: i32,
}

impl From<tag::Model> for Tag {
    fn from(tag: tag::Model) -> Self {
        Self {
            name: tag.name,
            article_count: tag.article_count,
        }
    }
}
