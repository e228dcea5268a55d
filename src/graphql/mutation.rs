use async_graphql::{Context, ID, Object};

use super::{
    context::ContextExt,
    dependencies,
    inputs::{
        CreateArticleInput, LoginInput, RegisterInput, Role, UpdateArticleInput, UpdateViewerInput,
    },
    types::{Article, AuthPayload, Comment, User},
};
use crate::{
    cache::responses::Scope,
    db::entities::article,
    domain::{CommentBody, GlobalId, NodeKind},
    events::Event,
    services::{ServiceError, accounts, articles, comments, social, users},
};

pub struct MutationRoot;

/// Services return only after their transaction committed, so an event
/// published here never announces a write that could still roll back.
async fn publish_event(ctx: &Context<'_>, event: Event) {
    ctx.state().events.publish(event).await;
}

fn article_id(field: &'static str, id: &ID) -> Result<i64, ServiceError> {
    Ok(GlobalId::decode_as(field, id, NodeKind::Article)?)
}

#[Object(name = "Mutation")]
impl MutationRoot {
    /// Creates an account and logs it in.
    async fn register(
        &self,
        ctx: &Context<'_>,
        input: RegisterInput,
    ) -> Result<AuthPayload, ServiceError> {
        let registration = input.try_into()?;
        let state = ctx.state();
        let client = ctx.request().client;
        Ok(
            accounts::register(&state.db, &state.auth, registration, client)
                .await?
                .into(),
        )
    }

    /// Wrong email and wrong password give the same UNAUTHENTICATED error.
    /// Repeated failures for one account or from one address are refused with
    /// RATE_LIMITED until the window closes (`extensions.retryAfter`).
    async fn login(
        &self,
        ctx: &Context<'_>,
        input: LoginInput,
    ) -> Result<AuthPayload, ServiceError> {
        let state = ctx.state();
        let client = ctx.request().client;
        Ok(accounts::login(
            &state.db,
            &state.auth,
            &input.email,
            &input.password,
            client,
        )
        .await?
        .into())
    }

    /// Exchanges a refresh token for new tokens. Each refresh token works once;
    /// presenting a used one again ends the session it belongs to.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> Result<AuthPayload, ServiceError> {
        let state = ctx.state();
        let refreshed = accounts::refresh(&state.db, &state.auth, &refresh_token).await?;
        if let accounts::Refreshed::Reused { user_id } = refreshed {
            // Sockets of the revoked family close now, on every instance.
            publish_event(ctx, Event::AccountChanged { user_id }).await;
        }
        Ok(refreshed.into_session()?.into())
    }

    /// Ends the session of this refresh token; false when there was none.
    async fn logout(&self, ctx: &Context<'_>, refresh_token: String) -> Result<bool, ServiceError> {
        let ended = accounts::logout(ctx.db(), &refresh_token).await?;
        if let Some(user_id) = ended {
            publish_event(ctx, Event::AccountChanged { user_id }).await;
        }
        Ok(ended.is_some())
    }

    /// Changing the password or the email needs `currentPassword`. A new
    /// password ends every other session of the account at once.
    async fn update_viewer(
        &self,
        ctx: &Context<'_>,
        input: UpdateViewerInput,
    ) -> Result<User, ServiceError> {
        let changes: accounts::AccountChanges = input.try_into()?;
        let credentials_changed = changes.password.is_some() || changes.email.is_some();
        let request = ctx.request();
        let updated = accounts::update_viewer(
            ctx.db(),
            &ctx.state().auth,
            ctx.viewer(),
            request.session,
            request.client,
            changes,
        )
        .await?;
        if credentials_changed {
            let user_id = updated.id;
            publish_event(ctx, Event::AccountChanged { user_id }).await;
        }
        Ok(updated.into())
    }

    async fn create_article(
        &self,
        ctx: &Context<'_>,
        input: CreateArticleInput,
    ) -> Result<Article, ServiceError> {
        let new = input.try_into()?;
        let article = articles::create(ctx.db(), ctx.viewer(), new).await?;
        if article.status == article::Status::Published {
            publish_event(ctx, Event::published(&article)).await;
        }
        Ok(article.into())
    }

    async fn update_article(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateArticleInput,
    ) -> Result<Article, ServiceError> {
        let id = article_id("id", &id)?;
        let changes = input.try_into()?;
        Ok(articles::update(ctx.db(), ctx.viewer(), id, changes)
            .await?
            .into())
    }

    async fn publish_article(&self, ctx: &Context<'_>, id: ID) -> Result<Article, ServiceError> {
        let id = article_id("id", &id)?;
        let (article, newly_published) = articles::publish(ctx.db(), ctx.viewer(), id).await?;
        if newly_published {
            publish_event(ctx, Event::published(&article)).await;
        }
        Ok(article.into())
    }

    /// Returns the id of the deleted article.
    async fn delete_article(&self, ctx: &Context<'_>, id: ID) -> Result<ID, ServiceError> {
        let article = article_id("id", &id)?;
        articles::delete(ctx.db(), ctx.viewer(), article).await?;
        dependencies::wrote_within(ctx, Scope::CommentsOf(article));
        Ok(id)
    }

    async fn favorite_article(&self, ctx: &Context<'_>, id: ID) -> Result<Article, ServiceError> {
        let id = article_id("id", &id)?;
        let (article, changed) = social::favorite(ctx.db(), ctx.viewer(), id).await?;
        if changed {
            publish_event(ctx, Event::FavoritesChanged { article_id: id }).await;
        }
        Ok(article.into())
    }

    async fn unfavorite_article(&self, ctx: &Context<'_>, id: ID) -> Result<Article, ServiceError> {
        let id = article_id("id", &id)?;
        let (article, changed) = social::unfavorite(ctx.db(), ctx.viewer(), id).await?;
        if changed {
            publish_event(ctx, Event::FavoritesChanged { article_id: id }).await;
        }
        Ok(article.into())
    }

    async fn follow_user(&self, ctx: &Context<'_>, username: String) -> Result<User, ServiceError> {
        Ok(social::follow(ctx.db(), ctx.viewer(), &username)
            .await?
            .into())
    }

    async fn unfollow_user(
        &self,
        ctx: &Context<'_>,
        username: String,
    ) -> Result<User, ServiceError> {
        Ok(social::unfollow(ctx.db(), ctx.viewer(), &username)
            .await?
            .into())
    }

    async fn add_comment(
        &self,
        ctx: &Context<'_>,
        article_id: ID,
        body: String,
    ) -> Result<Comment, ServiceError> {
        let article = self::article_id("articleId", &article_id)?;
        let body = CommentBody::parse(&body)?;
        let comment = comments::add(ctx.db(), ctx.viewer(), article, body).await?;
        dependencies::wrote_within(ctx, Scope::CommentsOf(comment.article_id));
        publish_event(
            ctx,
            Event::CommentAdded {
                article_id: comment.article_id,
                comment_id: comment.id,
            },
        )
        .await;
        Ok(comment.into())
    }

    /// Allowed to the comment's author, the article's author, MODERATOR and
    /// ADMIN. Returns the id of the deleted comment.
    async fn delete_comment(&self, ctx: &Context<'_>, id: ID) -> Result<ID, ServiceError> {
        let comment = GlobalId::decode_as("id", &id, NodeKind::Comment)?;
        let deleted = comments::delete(ctx.db(), ctx.viewer(), comment).await?;
        dependencies::wrote_within(ctx, Scope::CommentsOf(deleted.article_id));
        Ok(id)
    }

    /// ADMIN only.
    async fn set_user_role(
        &self,
        ctx: &Context<'_>,
        username: String,
        role: Role,
    ) -> Result<User, ServiceError> {
        let user = users::set_role(ctx.db(), ctx.viewer(), &username, role.into()).await?;
        let user_id = user.id;
        publish_event(ctx, Event::AccountChanged { user_id }).await;
        Ok(user.into())
    }
}
