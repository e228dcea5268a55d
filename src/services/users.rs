//! Reading users and managing roles.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
    QueryTrait, Set, sea_query::Expr,
};

use super::{ServiceError, ServiceResult, now, require_viewer};
use crate::{
    db::entities::{
        session,
        user::{self, Role},
    },
    domain::Username,
    policy::{self, Viewer},
};

/// The viewer with user id `id`, if that user still exists and session
/// `session_id` of theirs is still live (not logged out, not ended by a
/// password change or a reused refresh token). Runs on every authenticated
/// request, so it is one statement reading two columns.
pub async fn viewer(
    db: &DatabaseConnection,
    id: i64,
    session_id: i64,
) -> ServiceResult<Option<Viewer>> {
    let live_session = session::Entity::find()
        .select_only()
        .expr(Expr::val(1))
        .filter(session::Column::Id.eq(session_id))
        .filter(session::Column::UserId.eq(id))
        .filter(session::Column::RevokedAt.is_null())
        .into_query();
    Ok(user::Entity::find_by_id(id)
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::Role)
        .filter(Expr::exists(live_session))
        .into_tuple::<(i64, Role)>()
        .one(db)
        .await?
        .map(|(id, role)| Viewer { id, role }))
}

pub async fn by_username(
    db: &DatabaseConnection,
    username: &str,
) -> ServiceResult<Option<user::Model>> {
    // Usernames are stored lowercase; a lookup with other casing still finds them.
    Ok(user::Entity::find()
        .filter(user::Column::Username.eq(username.trim().to_ascii_lowercase()))
        .one(db)
        .await?)
}

pub async fn by_ids(
    db: &DatabaseConnection,
    ids: &[i64],
) -> ServiceResult<HashMap<i64, user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|user| (user.id, user))
        .collect())
}

pub async fn set_role(
    db: &DatabaseConnection,
    viewer: Option<&Viewer>,
    username: &str,
    role: Role,
) -> ServiceResult<user::Model> {
    let viewer = require_viewer(viewer)?;
    if !policy::can_set_roles(viewer) {
        return Err(ServiceError::Forbidden("only an ADMIN may change roles"));
    }
    assign_role(db, username, role).await
}

/// Gives `username` a role with no viewer check: for the operator's CLI, which
/// is how the first ADMIN comes to exist.
pub async fn assign_role(
    db: &DatabaseConnection,
    username: &str,
    role: Role,
) -> ServiceResult<user::Model> {
    let username = Username::parse(username)?;
    let user = by_username(db, username.as_str())
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    let mut model: user::ActiveModel = user.into();
    model.role = Set(role);
    model.updated_at = Set(now());
    Ok(model.update(db).await?)
}
