//! Input objects and enums, and their parsing into domain values.

use async_graphql::{Enum, InputObject};

use crate::{
    db::entities::user,
    domain::{Bio, Body, Description, Email, ImageUrl, Password, TagList, Title, Username},
    services::{
        ServiceError,
        accounts::{AccountChanges, Registration},
        articles::{self, ArticleChanges, NewArticle},
    },
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "user::Role")]
pub enum Role {
    User,
    Moderator,
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum ArticleStatus {
    Draft,
    Published,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum ArticleOrderField {
    PublishedAt,
    CreatedAt,
    FavoritesCount,
    /// Best matches of `filter.search` first (with `DESC`): words in the
    /// title count more than in the description, and those more than in
    /// the body. Cursors stay stable while the articles do not change.
    /// Without a search, as `PUBLISHED_AT`.
    Relevance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum OrderDirection {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Copy, InputObject)]
pub struct ArticleOrder {
    #[graphql(default_with = "ArticleOrderField::PublishedAt")]
    pub field: ArticleOrderField,
    #[graphql(default_with = "OrderDirection::Desc")]
    pub direction: OrderDirection,
}

impl From<Option<ArticleOrder>> for articles::ArticleOrder {
    fn from(order: Option<ArticleOrder>) -> Self {
        let Some(order) = order else {
            return Self::default();
        };
        Self {
            field: match order.field {
                ArticleOrderField::PublishedAt => articles::OrderField::PublishedAt,
                ArticleOrderField::CreatedAt => articles::OrderField::CreatedAt,
                ArticleOrderField::FavoritesCount => articles::OrderField::FavoritesCount,
                ArticleOrderField::Relevance => articles::OrderField::Relevance,
            },
            descending: order.direction == OrderDirection::Desc,
        }
    }
}

/// Narrows `articles`; all given conditions must hold.
#[derive(Debug, Clone, Default, InputObject)]
pub struct ArticleFilter {
    /// Carrying this tag.
    pub tag: Option<String>,
    /// Written by this username.
    pub author: Option<String>,
    /// Favorited by this username.
    pub favorited_by: Option<String>,
    /// Case-insensitive text in the title, description or body.
    pub search: Option<String>,
}

impl From<ArticleFilter> for articles::ArticleFilter {
    fn from(filter: ArticleFilter) -> Self {
        Self {
            tag: filter.tag,
            author: filter.author,
            favorited_by: filter.favorited_by,
            search: filter.search,
        }
    }
}

#[derive(InputObject)]
pub struct RegisterInput {
    pub username: String,
    pub email: String,
    pub password: String,
}

impl TryFrom<RegisterInput> for Registration {
    type Error = ServiceError;

    fn try_from(input: RegisterInput) -> Result<Self, ServiceError> {
        Ok(Self {
            username: Username::parse(&input.username)?,
            email: Email::parse(&input.email)?,
            password: Password::parse(&input.password)?,
        })
    }
}

#[derive(InputObject)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

/// Fields left out stay as they are; an empty `bio` or `image` clears it.
#[derive(InputObject)]
pub struct UpdateViewerInput {
    pub email: Option<String>,
    pub username: Option<String>,
    pub bio: Option<String>,
    pub image: Option<String>,
    pub password: Option<String>,
    /// Required to change `password` or `email`.
    pub current_password: Option<String>,
}

impl TryFrom<UpdateViewerInput> for AccountChanges {
    type Error = ServiceError;

    fn try_from(input: UpdateViewerInput) -> Result<Self, ServiceError> {
        Ok(Self {
            username: input.username.as_deref().map(Username::parse).transpose()?,
            email: input.email.as_deref().map(Email::parse).transpose()?,
            password: input.password.as_deref().map(Password::parse).transpose()?,
            bio: input.bio.as_deref().map(Bio::parse).transpose()?,
            image: input.image.as_deref().map(ImageUrl::parse).transpose()?,
            current_password: input.current_password,
        })
    }
}

#[derive(InputObject)]
pub struct CreateArticleInput {
    pub title: String,
    #[graphql(default)]
    pub description: String,
    pub body: String,
    #[graphql(default)]
    pub tags: Vec<String>,
    /// Publish at once instead of saving a draft.
    #[graphql(default)]
    pub publish: bool,
}

impl TryFrom<CreateArticleInput> for NewArticle {
    type Error = ServiceError;

    fn try_from(input: CreateArticleInput) -> Result<Self, ServiceError> {
        Ok(Self {
            title: Title::parse(&input.title)?,
            description: Description::parse(&input.description)?,
            body: Body::parse(&input.body)?,
            tags: TagList::parse(&input.tags)?,
            publish: input.publish,
        })
    }
}

/// Fields left out stay as they are; `tags` replaces the whole list.
#[derive(InputObject)]
pub struct UpdateArticleInput {
    pub title: Option<String>,
    pub description: Option<String>,
    pub body: Option<String>,
    pub tags: Option<Vec<String>>,
}

impl TryFrom<UpdateArticleInput> for ArticleChanges {
    type Error = ServiceError;

    fn try_from(input: UpdateArticleInput) -> Result<Self, ServiceError> {
        Ok(Self {
            title: input.title.as_deref().map(Title::parse).transpose()?,
            description: input
                .description
                .as_deref()
                .map(Description::parse)
                .transpose()?,
            body: input.body.as_deref().map(Body::parse).transpose()?,
            tags: input.tags.as_deref().map(TagList::parse).transpose()?,
        })
    }
}
