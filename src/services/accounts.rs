//! Registration, login and refresh-token sessions.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, Set, sea_query::Expr,
};

use super::{ServiceError, ServiceResult, now, require_viewer, throttle::AccountThrottle};
use crate::{
    auth::{
        password,
        tokens::{self, TokenKeys},
    },
    db::{
        self,
        entities::{session, user},
    },
    domain::{Bio, Email, ImageUrl, Password, Username, ValidationError},
    policy::Viewer,
};

/// What authenticating people and issuing credentials needs.
#[derive(Clone)]
pub struct AuthSettings {
    pub keys: TokenKeys,
    pub refresh_ttl: Duration,
    pub throttle: AccountThrottle,
}

/// A logged-in session handed to the client.
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: DateTime<Utc>,
    pub user: user::Model,
}

pub struct Registration {
    pub username: Username,
    pub email: Email,
    pub password: Password,
}

const BAD_CREDENTIALS: &str = "invalid email or password";
const BAD_REFRESH_TOKEN: &str = "the refresh token is invalid, expired or revoked";

/// A registration from `address` (the client's IP, when known).
pub async fn register(
    db: &DatabaseConnection,
    auth: &AuthSettings,
    registration: Registration,
    address: Option<IpAddr>,
) -> ServiceResult<Session> {
    auth.throttle.begin_registration(address).await?;
    let password_hash = password::hash(&registration.password).await?;
    let now = now();
    let txn = db::begin_write(db).await?;
    let user = user::ActiveModel {
        username: Set(registration.username.into_inner()),
        email: Set(registration.email.into_inner()),
        password_hash: Set(password_hash),
        role: Set(user::Role::User),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(account_conflict)?;
    let session = start_session(&txn, auth, user).await?;
    txn.commit().await?;
    Ok(session)
}

/// A login attempt from `address` (the client's IP, when known).
pub async fn login(
    db: &DatabaseConnection,
    auth: &AuthSettings,
    email: &str,
    password: &str,
    address: Option<IpAddr>,
) -> ServiceResult<Session> {
    // An unparseable email cannot belong to an account; treat it like an
    // unknown one (same error, same hashing work) rather than as bad input.
    // The throttle counts the address as stored, so variants of one (case,
    // full-width forms) share its budget.
    let parsed = Email::parse(email);
    let counted = parsed.as_ref().map_or(email, Email::as_str);
    auth.throttle.begin_login(counted, address).await?;
    let found = match &parsed {
        Ok(email) => {
            user::Entity::find()
                .filter(user::Column::Email.eq(email.as_str()))
                .one(db)
                .await?
        }
        Err(_) => None,
    };
    let stored = found.as_ref().map(|user| user.password_hash.clone());
    let verified = password::verify(password, stored).await?;
    let Some(user) = found.filter(|_| verified) else {
        return Err(ServiceError::Unauthenticated(BAD_CREDENTIALS));
    };
    auth.throttle.login_succeeded(counted, address).await;
    let txn = db::begin_write(db).await?;
    let session = start_session(&txn, auth, user).await?;
    txn.commit().await?;
    Ok(session)
}

/// Exchanges a refresh token for a new one in the same family. A token that
/// was already exchanged is proof that it leaked (the legitimate client holds
/// the newer one), so presenting it again revokes the whole family.
pub async fn refresh(
    db: &DatabaseConnection,
    auth: &AuthSettings,
    refresh_token: &str,
) -> ServiceResult<Refreshed> {
    let hash = tokens::hash_refresh_token(refresh_token);
    let Some(current) = session::Entity::find()
        .filter(session::Column::TokenHash.eq(hash))
        .one(db)
        .await?
    else {
        return Err(ServiceError::Unauthenticated(BAD_REFRESH_TOKEN));
    };
    let now = now();
    if current.revoked_at.is_some() || current.expires_at <= now {
        return Err(ServiceError::Unauthenticated(BAD_REFRESH_TOKEN));
    }
    let txn = db::begin_write(db).await?;
    // Compare-and-set: of two concurrent uses of one token exactly one wins;
    // the loser is treated as reuse.
    let rotated = session::Entity::update_many()
        .col_expr(session::Column::RotatedAt, Expr::val(now))
        .filter(session::Column::Id.eq(current.id))
        .filter(session::Column::RotatedAt.is_null())
        .filter(session::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if rotated.rows_affected != 1 {
        txn.rollback().await?;
        revoke_family(db, &current.family_id).await?;
        tracing::warn!(
            user_id = current.user_id,
            "refresh token reuse: session family revoked"
        );
        return Ok(Refreshed::Reused {
            user_id: current.user_id,
        });
    }
    let user = user::Entity::find_by_id(current.user_id)
        .one(&txn)
        .await?
        .ok_or(ServiceError::Unauthenticated(BAD_REFRESH_TOKEN))?;
    let session = issue(&txn, auth, user, current.family_id).await?;
    txn.commit().await?;
    Ok(Refreshed::Session(Box::new(session)))
}

/// What presenting a refresh token came to.
pub enum Refreshed {
    /// The token was current: here is the next one.
    Session(Box<Session>),
    /// The token had been used before, so it leaked: its whole session
    /// family is revoked, and the client is refused.
    Reused { user_id: i64 },
}

impl Refreshed {
    /// The new session, or the refusal a reused token gets.
    pub fn into_session(self) -> ServiceResult<Session> {
        match self {
            Self::Session(session) => Ok(*session),
            Self::Reused { .. } => Err(ServiceError::Unauthenticated(BAD_REFRESH_TOKEN)),
        }
    }
}

/// Ends the session (the whole family) that `refresh_token` belongs to.
/// Answers whose session ended, if a live one did.
pub async fn logout(db: &DatabaseConnection, refresh_token: &str) -> ServiceResult<Option<i64>> {
    let hash = tokens::hash_refresh_token(refresh_token);
    let Some(current) = session::Entity::find()
        .filter(session::Column::TokenHash.eq(hash))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let ended = revoke_family(db, &current.family_id).await? > 0;
    Ok(ended.then_some(current.user_id))
}

/// Changes to the viewer's own account; `None` leaves a field as it is.
#[derive(Default)]
pub struct AccountChanges {
    pub username: Option<Username>,
    pub email: Option<Email>,
    pub password: Option<Password>,
    pub bio: Option<Bio>,
    pub image: Option<ImageUrl>,
    /// The password the account has now: needed to change the password or
    /// the email, so a stolen access token cannot take the account over.
    pub current_password: Option<String>,
}

/// Changes the viewer's account. `session` is the one the request came
/// with: a new password ends every other session, not the one that set
/// it. Checking the current password counts as a login attempt.
pub async fn update_viewer(
    db: &DatabaseConnection,
    auth: &AuthSettings,
    viewer: Option<&Viewer>,
    session: Option<i64>,
    address: Option<IpAddr>,
    changes: AccountChanges,
) -> ServiceResult<user::Model> {
    let viewer = require_viewer(viewer)?;
    if changes.password.is_some() || changes.email.is_some() {
        let stored = user::Entity::find_by_id(viewer.id)
            .one(db)
            .await?
            .ok_or(ServiceError::NotFound("user"))?;
        let Some(current_password) = &changes.current_password else {
            return Err(ValidationError::new(
                "currentPassword",
                "changing the password or the email needs the current password",
            )
            .into());
        };
        auth.throttle.begin_login(&stored.email, address).await?;
        if !password::verify(current_password, Some(stored.password_hash.clone())).await? {
            return Err(
                ValidationError::new("currentPassword", "the current password is wrong").into(),
            );
        }
        auth.throttle.login_succeeded(&stored.email, address).await;
    }
    let password_hash = match &changes.password {
        Some(password) => Some(password::hash(password).await?),
        None => None,
    };
    let txn = db::begin_write(db).await?;
    let current = user::Entity::find_by_id(viewer.id)
        .one(&txn)
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    let mut model: user::ActiveModel = current.into();
    if let Some(username) = changes.username {
        model.username = Set(username.into_inner());
    }
    if let Some(email) = changes.email {
        model.email = Set(email.into_inner());
    }
    if let Some(bio) = changes.bio {
        model.bio = Set(bio.into_inner());
    }
    if let Some(image) = changes.image {
        model.image = Set(image.into_inner());
    }
    if let Some(hash) = password_hash {
        model.password_hash = Set(hash);
        // A new password ends every other login, including a thief's, and
        // their access tokens with them; the session that changed it goes
        // on.
        let keep = match session {
            Some(session) => session::Entity::find_by_id(session)
                .one(&txn)
                .await?
                .map(|session| session.family_id),
            None => None,
        };
        let mut others = session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::val(now()))
            .filter(session::Column::UserId.eq(viewer.id))
            .filter(session::Column::RevokedAt.is_null());
        if let Some(family) = keep {
            others = others.filter(session::Column::FamilyId.ne(family));
        }
        others.exec(&txn).await?;
    }
    model.updated_at = Set(now());
    let updated = model.update(&txn).await.map_err(account_conflict)?;
    txn.commit().await?;
    Ok(updated)
}

fn account_conflict(err: DbErr) -> ServiceError {
    if db::USERS_USERNAME.violated_by(&err) {
        ServiceError::conflict("username", "that username is taken")
    } else if db::USERS_EMAIL.violated_by(&err) {
        ServiceError::conflict("email", "an account with that email already exists")
    } else {
        err.into()
    }
}

async fn start_session<C: ConnectionTrait>(
    db: &C,
    auth: &AuthSettings,
    user: user::Model,
) -> ServiceResult<Session> {
    issue(db, auth, user, tokens::new_family_id()).await
}

async fn issue<C: ConnectionTrait>(
    db: &C,
    auth: &AuthSettings,
    user: user::Model,
    family_id: String,
) -> ServiceResult<Session> {
    let (refresh_token, token_hash) = tokens::new_refresh_token();
    let now = now();
    let session = session::ActiveModel {
        user_id: Set(user.id),
        family_id: Set(family_id),
        token_hash: Set(token_hash),
        expires_at: Set(now + auth.refresh_ttl),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let (access_token, expires_at) = auth.keys.issue_access(user.id, session.id)?;
    Ok(Session {
        access_token,
        refresh_token,
        expires_at,
        user,
    })
}

async fn revoke_family<C: ConnectionTrait>(db: &C, family_id: &str) -> Result<u64, DbErr> {
    let result = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::val(now()))
        .filter(session::Column::FamilyId.eq(family_id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
