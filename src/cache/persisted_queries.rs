//! The store behind automatic persisted queries: query texts by their
//! SHA-256, in Redis (shared by every instance, expiring) when it is
//! configured and in process otherwise.

use std::{sync::Arc, time::Duration};

use moka::future::Cache;
use redis::{AsyncCommands, aio::ConnectionManager};

/// The most query texts kept in process.
const MEMORY_CAPACITY: u64 = 10_000;

#[derive(Clone)]
pub struct PersistedQueries(Backend);

#[derive(Clone)]
enum Backend {
    Redis {
        connection: ConnectionManager,
        prefix: Arc<str>,
        ttl: Duration,
    },
    Memory(Cache<String, Arc<str>>),
}

impl PersistedQueries {
    pub fn redis(connection: ConnectionManager, prefix: &str, ttl: Duration) -> Self {
        Self(Backend::Redis {
            connection,
            prefix: Arc::from(format!("{prefix}apq:")),
            ttl,
        })
    }

    pub fn memory(ttl: Duration) -> Self {
        Self(Backend::Memory(
            Cache::builder()
                .max_capacity(MEMORY_CAPACITY)
                .time_to_live(ttl)
                .build(),
        ))
    }

    /// The query registered under `hash`. A store that cannot be reached
    /// answers "unknown": the client then sends the query text, so the
    /// request still succeeds.
    pub async fn get(&self, hash: &str) -> Option<Arc<str>> {
        match &self.0 {
            Backend::Memory(cache) => cache.get(hash).await,
            Backend::Redis {
                connection, prefix, ..
            } => {
                let mut connection = connection.clone();
                let found: redis::RedisResult<Option<String>> =
                    connection.get(format!("{prefix}{hash}")).await;
                found
                    .inspect_err(
                        |err| tracing::warn!(error = %err, "reading a persisted query failed"),
                    )
                    .ok()
                    .flatten()
                    .map(Arc::from)
            }
        }
    }

    /// Registers `query` under `hash` (which the caller has checked).
    pub async fn put(&self, hash: &str, query: &str) {
        match &self.0 {
            Backend::Memory(cache) => cache.insert(hash.to_owned(), Arc::from(query)).await,
            Backend::Redis {
                connection,
                prefix,
                ttl,
            } => {
                let mut connection = connection.clone();
                let stored: redis::RedisResult<()> = connection
                    .set_ex(format!("{prefix}{hash}"), query, ttl.as_secs().max(1))
                    .await;
                if let Err(err) = stored {
                    tracing::warn!(error = %err, "storing a persisted query failed");
                }
            }
        }
    }
}
