//! Full-text search over articles, kept in step with them by the database.
//!
//! Postgres: a stored, generated `tsvector` over title (weight A),
//! description (B) and body (C) with a GIN index; adding the column computes
//! it for every existing row. SQLite: an FTS5 table over the same columns
//! whose content is the articles table itself (so nothing is stored twice),
//! kept current by triggers and rebuilt here for the rows already present.
//! Both stem English words (Postgres's `english` configuration, FTS5's
//! porter tokenizer), so "caching" finds "cache".

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000001_article_search"
    }
}

const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE articles ADD COLUMN search tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A')
        || setweight(to_tsvector('english', description), 'B')
        || setweight(to_tsvector('english', body), 'C')) STORED",
    "CREATE INDEX articles_search_idx ON articles USING GIN (search)",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS articles_search_idx",
    "ALTER TABLE articles DROP COLUMN IF EXISTS search",
];

const SQLITE_UP: &[&str] = &[
    "CREATE VIRTUAL TABLE articles_search USING fts5(
        title, description, body,
        content = 'articles', content_rowid = 'id',
        tokenize = 'porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER articles_search_insert AFTER INSERT ON articles BEGIN
        INSERT INTO articles_search (rowid, title, description, body)
        VALUES (new.id, new.title, new.description, new.body);
    END",
    "CREATE TRIGGER articles_search_delete AFTER DELETE ON articles BEGIN
        INSERT INTO articles_search (articles_search, rowid, title, description, body)
        VALUES ('delete', old.id, old.title, old.description, old.body);
    END",
    "CREATE TRIGGER articles_search_update AFTER UPDATE OF title, description, body ON articles
    BEGIN
        INSERT INTO articles_search (articles_search, rowid, title, description, body)
        VALUES ('delete', old.id, old.title, old.description, old.body);
        INSERT INTO articles_search (rowid, title, description, body)
        VALUES (new.id, new.title, new.description, new.body);
    END",
    "INSERT INTO articles_search (articles_search) VALUES ('rebuild')",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS articles_search_update",
    "DROP TRIGGER IF EXISTS articles_search_delete",
    "DROP TRIGGER IF EXISTS articles_search_insert",
    "DROP TABLE IF EXISTS articles_search",
];

async fn run(manager: &SchemaManager<'_>, postgres: &[&str], sqlite: &[&str]) -> Result<(), DbErr> {
    let statements = match manager.get_database_backend() {
        DatabaseBackend::Postgres => postgres,
        DatabaseBackend::Sqlite => sqlite,
        other => {
            return Err(DbErr::Migration(format!(
                "article search supports Postgres and SQLite, not {other:?}"
            )));
        }
    };
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, POSTGRES_UP, SQLITE_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, POSTGRES_DOWN, SQLITE_DOWN).await
    }
}
