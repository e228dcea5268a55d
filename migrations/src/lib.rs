//! Folio's schema migrations. Every migration runs on SQLite and Postgres;
//! where the two differ (full-text search), each gets its own statements.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_core_tables;
mod m20261202_000001_article_search;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_core_tables::Migration),
            Box::new(m20261202_000001_article_search::Migration),
        ]
    }
}
