//! Who may see and do what: every authorization rule of Folio lives here and is
//! called by the services (for writes and reads) and by the GraphQL field
//! resolvers (for field-level visibility). Nothing else decides access.

use crate::db::entities::{article, comment, user::Role};

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Viewer {
    pub id: i64,
    pub role: Role,
}

impl Viewer {
    fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Published articles are public; a draft exists only for its author and ADMIN.
pub fn can_read_article(viewer: Option<&Viewer>, article: &article::Model) -> bool {
    article.status == article::Status::Published
        || viewer.is_some_and(|v| v.id == article.author_id || v.is_admin())
}

/// Updating and deleting: the author, or ADMIN.
pub fn can_edit_article(viewer: &Viewer, article: &article::Model) -> bool {
    viewer.id == article.author_id || viewer.is_admin()
}

/// Publishing is the author's decision alone.
pub fn can_publish_article(viewer: &Viewer, article: &article::Model) -> bool {
    viewer.id == article.author_id
}

/// A comment may be removed by whoever wrote it, by the author of the article
/// it is on, and by MODERATOR and ADMIN.
pub fn can_delete_comment(
    viewer: &Viewer,
    comment: &comment::Model,
    article: &article::Model,
) -> bool {
    viewer.id == comment.author_id
        || viewer.id == article.author_id
        || matches!(viewer.role, Role::Moderator | Role::Admin)
}

/// A user's email and role: the user themself and ADMIN.
pub fn can_read_private_profile(viewer: Option<&Viewer>, user_id: i64) -> bool {
    viewer.is_some_and(|v| v.id == user_id || v.is_admin())
}

/// A user's list of drafts: the user themself only.
pub fn can_list_drafts(viewer: Option<&Viewer>, user_id: i64) -> bool {
    viewer.is_some_and(|v| v.id == user_id)
}

/// Granting and revoking roles: ADMIN only.
pub fn can_set_roles(viewer: &Viewer) -> bool {
    viewer.is_admin()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn article(author_id: i64, status: article::Status) -> article::Model {
        let now = Utc::now();
        article::Model {
            id: 1,
            slug: "s".into(),
            title: "t".into(),
            description: String::new(),
            body: "b".into(),
            status,
            author_id,
            favorites_count: 0,
            published_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    const AUTHOR: Viewer = Viewer {
        id: 1,
        role: Role::User,
    };
    const OTHER: Viewer = Viewer {
        id: 2,
        role: Role::User,
    };
    const MODERATOR: Viewer = Viewer {
        id: 3,
        role: Role::Moderator,
    };
    const ADMIN: Viewer = Viewer {
        id: 4,
        role: Role::Admin,
    };

    #[test]
    fn drafts_are_visible_to_author_and_admin_only() {
        let draft = article(1, article::Status::Draft);
        assert!(can_read_article(Some(&AUTHOR), &draft));
        assert!(can_read_article(Some(&ADMIN), &draft));
        assert!(!can_read_article(Some(&OTHER), &draft));
        assert!(!can_read_article(Some(&MODERATOR), &draft));
        assert!(!can_read_article(None, &draft));
        assert!(can_read_article(
            None,
            &article(1, article::Status::Published)
        ));
    }

    #[test]
    fn comment_deletion_rules() {
        let on = article(1, article::Status::Published);
        let now = Utc::now();
        let comment = comment::Model {
            id: 1,
            article_id: 1,
            author_id: 2,
            body: "c".into(),
            created_at: now,
            updated_at: now,
        };
        assert!(can_delete_comment(&OTHER, &comment, &on));
        assert!(can_delete_comment(&AUTHOR, &comment, &on));
        assert!(can_delete_comment(&MODERATOR, &comment, &on));
        assert!(can_delete_comment(&ADMIN, &comment, &on));
        let stranger = Viewer {
            id: 9,
            role: Role::User,
        };
        assert!(!can_delete_comment(&stranger, &comment, &on));
    }

    #[test]
    fn private_fields_and_roles() {
        assert!(can_read_private_profile(Some(&AUTHOR), 1));
        assert!(can_read_private_profile(Some(&ADMIN), 1));
        assert!(!can_read_private_profile(Some(&MODERATOR), 1));
        assert!(!can_read_private_profile(None, 1));
        assert!(can_list_drafts(Some(&AUTHOR), 1));
        assert!(!can_list_drafts(Some(&ADMIN), 1));
        assert!(can_set_roles(&ADMIN) && !can_set_roles(&MODERATOR));
        assert!(can_edit_article(
            &ADMIN,
            &article(1, article::Status::Draft)
        ));
        assert!(!can_publish_article(
            &ADMIN,
            &article(1, article::Status::Draft)
        ));
    }
}
