//! The core tables: users, follows, articles, tags, favorites, comments, sessions.
//!
//! ON DELETE choices: everything a user owns (articles, comments, follows,
//! favorites, sessions) goes with the user, and everything hanging off an
//! article (its tag links, favorites, comments) goes with the article. Tags are
//! shared vocabulary and are never deleted through an article.
//!
//! Unique indexes carry explicit names because the service layer maps a
//! violation of a named constraint to a CONFLICT on the matching input field.
//! The other indexes exist for keyset pagination: each list is ordered by
//! (order key, id), and an index with exactly that suffix lets the database
//! seek to a cursor instead of scanning.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000001_create_core_tables"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(big_pk_auto(Users::Id))
                    .col(string_len(Users::Username, 32))
                    .col(string_len(Users::Email, 254))
                    .col(string_len(Users::PasswordHash, 255))
                    .col(text_null(Users::Bio))
                    .col(string_len_null(Users::Image, 2048))
                    .col(string_len(Users::Role, 16).default("USER"))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "users_username_key",
            Users::Table,
            &[Users::Username],
        )
        .await?;
        unique(manager, "users_email_key", Users::Table, &[Users::Email]).await?;

        manager
            .create_table(
                Table::create()
                    .table(Follows::Table)
                    .col(big_pk_auto(Follows::Id))
                    .col(big_integer(Follows::FollowerId))
                    .col(big_integer(Follows::FolloweeId))
                    .col(timestamp_with_time_zone(Follows::CreatedAt))
                    .foreign_key(&mut cascade(
                        "follows_follower_fk",
                        Follows::Table,
                        Follows::FollowerId,
                        Users::Table,
                        Users::Id,
                    ))
                    .foreign_key(&mut cascade(
                        "follows_followee_fk",
                        Follows::Table,
                        Follows::FolloweeId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "follows_pair_key",
            Follows::Table,
            &[Follows::FollowerId, Follows::FolloweeId],
        )
        .await?;
        index(
            manager,
            "follows_follower_idx",
            Follows::Table,
            &[Follows::FollowerId, Follows::Id],
        )
        .await?;
        index(
            manager,
            "follows_followee_idx",
            Follows::Table,
            &[Follows::FolloweeId, Follows::Id],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Articles::Table)
                    .col(big_pk_auto(Articles::Id))
                    .col(string_len(Articles::Slug, 255))
                    .col(string_len(Articles::Title, 200))
                    .col(text(Articles::Description))
                    .col(text(Articles::Body))
                    .col(string_len(Articles::Status, 16))
                    .col(big_integer(Articles::AuthorId))
                    .col(integer(Articles::FavoritesCount).default(0))
                    .col(timestamp_with_time_zone_null(Articles::PublishedAt))
                    .col(timestamp_with_time_zone(Articles::CreatedAt))
                    .col(timestamp_with_time_zone(Articles::UpdatedAt))
                    .foreign_key(&mut cascade(
                        "articles_author_fk",
                        Articles::Table,
                        Articles::AuthorId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "articles_slug_key",
            Articles::Table,
            &[Articles::Slug],
        )
        .await?;
        for (name, columns) in [
            (
                "articles_published_idx",
                &[Articles::Status, Articles::PublishedAt, Articles::Id][..],
            ),
            (
                "articles_created_idx",
                &[Articles::Status, Articles::CreatedAt, Articles::Id],
            ),
            (
                "articles_favorites_idx",
                &[Articles::Status, Articles::FavoritesCount, Articles::Id],
            ),
            (
                "articles_author_published_idx",
                &[
                    Articles::AuthorId,
                    Articles::Status,
                    Articles::PublishedAt,
                    Articles::Id,
                ],
            ),
            (
                "articles_author_created_idx",
                &[
                    Articles::AuthorId,
                    Articles::Status,
                    Articles::CreatedAt,
                    Articles::Id,
                ],
            ),
        ] {
            index(manager, name, Articles::Table, columns).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Tags::Table)
                    .col(big_pk_auto(Tags::Id))
                    .col(string_len(Tags::Name, 64))
                    .col(integer(Tags::ArticleCount).default(0))
                    .to_owned(),
            )
            .await?;
        unique(manager, "tags_name_key", Tags::Table, &[Tags::Name]).await?;
        index(
            manager,
            "tags_popularity_idx",
            Tags::Table,
            &[Tags::ArticleCount, Tags::Id],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(ArticleTags::Table)
                    .col(big_integer(ArticleTags::ArticleId))
                    .col(big_integer(ArticleTags::TagId))
                    .col(integer(ArticleTags::Position))
                    .primary_key(
                        Index::create()
                            .col(ArticleTags::ArticleId)
                            .col(ArticleTags::TagId),
                    )
                    .foreign_key(&mut cascade(
                        "article_tags_article_fk",
                        ArticleTags::Table,
                        ArticleTags::ArticleId,
                        Articles::Table,
                        Articles::Id,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("article_tags_tag_fk")
                            .from(ArticleTags::Table, ArticleTags::TagId)
                            .to(Tags::Table, Tags::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "article_tags_tag_idx",
            ArticleTags::Table,
            &[ArticleTags::TagId, ArticleTags::ArticleId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Favorites::Table)
                    .col(big_pk_auto(Favorites::Id))
                    .col(big_integer(Favorites::UserId))
                    .col(big_integer(Favorites::ArticleId))
                    .col(timestamp_with_time_zone(Favorites::CreatedAt))
                    .foreign_key(&mut cascade(
                        "favorites_user_fk",
                        Favorites::Table,
                        Favorites::UserId,
                        Users::Table,
                        Users::Id,
                    ))
                    .foreign_key(&mut cascade(
                        "favorites_article_fk",
                        Favorites::Table,
                        Favorites::ArticleId,
                        Articles::Table,
                        Articles::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "favorites_pair_key",
            Favorites::Table,
            &[Favorites::UserId, Favorites::ArticleId],
        )
        .await?;
        index(
            manager,
            "favorites_user_idx",
            Favorites::Table,
            &[Favorites::UserId, Favorites::Id],
        )
        .await?;
        index(
            manager,
            "favorites_article_idx",
            Favorites::Table,
            &[Favorites::ArticleId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Comments::Table)
                    .col(big_pk_auto(Comments::Id))
                    .col(big_integer(Comments::ArticleId))
                    .col(big_integer(Comments::AuthorId))
                    .col(text(Comments::Body))
                    .col(timestamp_with_time_zone(Comments::CreatedAt))
                    .col(timestamp_with_time_zone(Comments::UpdatedAt))
                    .foreign_key(&mut cascade(
                        "comments_article_fk",
                        Comments::Table,
                        Comments::ArticleId,
                        Articles::Table,
                        Articles::Id,
                    ))
                    .foreign_key(&mut cascade(
                        "comments_author_fk",
                        Comments::Table,
                        Comments::AuthorId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "comments_article_idx",
            Comments::Table,
            &[Comments::ArticleId, Comments::CreatedAt, Comments::Id],
        )
        .await?;
        index(
            manager,
            "comments_author_idx",
            Comments::Table,
            &[Comments::AuthorId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(big_pk_auto(Sessions::Id))
                    .col(big_integer(Sessions::UserId))
                    .col(string_len(Sessions::FamilyId, 64))
                    .col(string_len(Sessions::TokenHash, 64))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone_null(Sessions::RotatedAt))
                    .col(timestamp_with_time_zone_null(Sessions::RevokedAt))
                    .foreign_key(&mut cascade(
                        "sessions_user_fk",
                        Sessions::Table,
                        Sessions::UserId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "sessions_token_hash_key",
            Sessions::Table,
            &[Sessions::TokenHash],
        )
        .await?;
        index(
            manager,
            "sessions_family_idx",
            Sessions::Table,
            &[Sessions::FamilyId],
        )
        .await?;
        index(
            manager,
            "sessions_user_idx",
            Sessions::Table,
            &[Sessions::UserId],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents, so foreign keys never block a drop.
        for table in [
            Sessions::Table.into_iden(),
            Comments::Table.into_iden(),
            Favorites::Table.into_iden(),
            ArticleTags::Table.into_iden(),
            Tags::Table.into_iden(),
            Articles::Table.into_iden(),
            Follows::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

fn cascade<T: IntoIden + Copy, C: IntoIden, R: IntoIden, RC: IntoIden>(
    name: &str,
    table: T,
    column: C,
    referenced: R,
    referenced_column: RC,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(referenced, referenced_column)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

async fn unique<T: IntoIden + Copy, C: IntoIden + Copy>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    columns: &[C],
) -> Result<(), DbErr> {
    let mut statement = Index::create().name(name).table(table).unique().to_owned();
    for column in columns {
        statement.col(*column);
    }
    manager.create_index(statement).await
}

async fn index<T: IntoIden + Copy, C: IntoIden + Copy>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    columns: &[C],
) -> Result<(), DbErr> {
    let mut statement = Index::create().name(name).table(table).to_owned();
    for column in columns {
        statement.col(*column);
    }
    manager.create_index(statement).await
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
    Username,
    Email,
    PasswordHash,
    Bio,
    Image,
    Role,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Follows {
    Table,
    Id,
    FollowerId,
    FolloweeId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Articles {
    Table,
    Id,
    Slug,
    Title,
    Description,
    Body,
    Status,
    AuthorId,
    FavoritesCount,
    PublishedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Tags {
    Table,
    Id,
    Name,
    ArticleCount,
}

#[derive(DeriveIden, Clone, Copy)]
enum ArticleTags {
    Table,
    ArticleId,
    TagId,
    Position,
}

#[derive(DeriveIden, Clone, Copy)]
enum Favorites {
    Table,
    Id,
    UserId,
    ArticleId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Comments {
    Table,
    Id,
    ArticleId,
    AuthorId,
    Body,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Sessions {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    ExpiresAt,
    CreatedAt,
    RotatedAt,
    RevokedAt,
}
