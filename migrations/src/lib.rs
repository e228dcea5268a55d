//! Folio's schema migrations. Every migration runs unchanged on SQLite and Postgres.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_core_tables;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261123_000001_create_core_tables::Migration)]
    }
}
