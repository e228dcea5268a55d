//! Database connection and the storage model.

pub mod entities;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use migrations::{Migrator, MigratorTrait};

use crate::metrics::Metrics;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, RuntimeErr, SqlErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// Opens the pool. SQLite gets WAL so readers never wait for the writer, which
/// matters because the embedded default serves concurrent HTTP requests.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        // A connection in steady use is handed out as it is: pinging it on
        // every checkout cost a round trip per statement. One idle for a
        // while (the database may have restarted meanwhile) is checked
        // first; a busy one that broke fails its statement and is dropped.
        .test_before_acquire_if_idle_for(Duration::from_secs(1))
        // Postgres plans a prepared statement afresh on every execution
        // while its generic plan looks costlier, and a bound `LIMIT` (every
        // page) always makes it look so: 40% of the Postgres CPU of a list
        // page went to planning. Folio's statements walk keyset indexes and
        // primary keys, whose plans do not depend on the values bound, so
        // one generic plan per statement and connection serves every
        // execution. Needs Postgres 12 or later.
        .map_sqlx_postgres_opts(|options| {
            options.options([("plan_cache_mode", "force_generic_plan")])
        })
        .sqlx_logging(false);
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA journal_mode = WAL").await?;
    }
    Ok(db)
}

/// Counts the SQL statements a connection pool executes (each clone of the
/// connection made afterwards shares the count), and records their timing in
/// `metrics`. Tests use the count to prove a page costs a constant number of
/// statements.
#[derive(Clone, Default)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    pub fn attach(db: &mut DatabaseConnection, metrics: Metrics) -> Self {
        let counter = Self::default();
        let count = counter.0.clone();
        db.set_metric_callback(move |info| {
            count.fetch_add(1, Ordering::Relaxed);
            metrics.statement(info.elapsed, info.failed);
        });
        counter
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// A named unique constraint, as Postgres names it and as SQLite reports it
/// (SQLite's message names the columns, not the index).
pub struct UniqueConstraint {
    pub name: &'static str,
    pub sqlite_columns: &'static str,
}

pub const USERS_USERNAME: UniqueConstraint = UniqueConstraint {
    name: "users_username_key",
    sqlite_columns: "users.username",
};
pub const USERS_EMAIL: UniqueConstraint = UniqueConstraint {
    name: "users_email_key",
    sqlite_columns: "users.email",
};
pub const ARTICLES_SLUG: UniqueConstraint = UniqueConstraint {
    name: "articles_slug_key",
    sqlite_columns: "articles.slug",
};
pub const TAGS_NAME: UniqueConstraint = UniqueConstraint {
    name: "tags_name_key",
    sqlite_columns: "tags.name",
};

impl UniqueConstraint {
    /// Whether `err` is a violation of this constraint.
    pub fn violated_by(&self, err: &DbErr) -> bool {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(message)) => {
                message.contains(self.name) || message.contains(self.sqlite_columns)
            }
            _ => false,
        }
    }
}

/// Whether `err` says the database could not be reached or dropped the
/// connection, rather than refusing the statement: a Postgres restarted or
/// its backend terminated (SQLSTATE classes 08 and 57P), a socket that
/// broke, or no connection free within the acquire timeout. Retrying the
/// request may succeed; sqlx drops such connections from the pool itself.
pub fn is_unavailable(err: &DbErr) -> bool {
    let runtime = match err {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(runtime) | DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime,
        _ => return false,
    };
    let RuntimeErr::SqlxError(err) = runtime else {
        return false;
    };
    match err.as_ref() {
        sea_orm::sqlx::Error::Io(_)
        | sea_orm::sqlx::Error::Tls(_)
        | sea_orm::sqlx::Error::Protocol(_)
        | sea_orm::sqlx::Error::PoolTimedOut
        | sea_orm::sqlx::Error::PoolClosed
        | sea_orm::sqlx::Error::WorkerCrashed => true,
        sea_orm::sqlx::Error::Database(err) => err
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

/// Begins a transaction that will write. On SQLite it takes the write lock
/// up front (`BEGIN IMMEDIATE`): a deferred transaction that read first and
/// then writes fails with SQLITE_BUSY at once, without waiting, whenever
/// another connection wrote in between; an immediate one waits its turn.
/// Postgres ignores the mode.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}
