//! The store behind automatic persisted queries: query texts by their
//! SHA-256, in Redis (shared by every instance, expiring) when it is
//! configured and in process otherwise.

use std::{sync::Arc, time::Duration};

use moka::future::Cache;
use redis::AsyncCommands;

use super::RedisStore;

/// How many bytes of query text are kept in process.
const MEMORY_CAPACITY_BYTES: u64 = 16 * 1024 * 1024;

/// The longest query text that may be registered: far above any real
/// operation (the playground's largest is a few KiB), far below the body
/// limit, so registrations cannot fill the store (or Redis, for a day)
/// with megabytes each. A longer text still runs; it is just not kept.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct PersistedQueries(Backend);

#[derive(Clone)]
enum Backend {
    Redis { store: RedisStore, ttl: Duration },
    Memory(Cache<String, Arc<str>>),
}

impl PersistedQueries {
    pub fn redis(store: RedisStore, ttl: Duration) -> Self {
        Self(Backend::Redis { store, ttl })
    }

    pub fn memory(ttl: Duration) -> Self {
        Self(Backend::Memory(
            Cache::builder()
                .max_capacity(MEMORY_CAPACITY_BYTES)
                .weigher(|hash: &String, query: &Arc<str>| {
                    u32::try_from(hash.len() + query.len()).unwrap_or(u32::MAX)
                })
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
            Backend::Redis { store, .. } => {
                let key = store.key(&format!("apq:{hash}"));
                let found: Option<String> =
                    store.call(store.connection().get(key)).await.ok().flatten();
                found.map(Arc::from)
            }
        }
    }

    /// Registers `query` under `hash` (which the caller has checked), unless
    /// it is longer than [`MAX_QUERY_BYTES`].
    pub async fn put(&self, hash: &str, query: &str) {
        if query.len() > MAX_QUERY_BYTES {
            return;
        }
        match &self.0 {
            Backend::Memory(cache) => cache.insert(hash.to_owned(), Arc::from(query)).await,
            Backend::Redis { store, ttl } => {
                let key = store.key(&format!("apq:{hash}"));
                // A registration that cannot be stored is asked for again.
                let _ = store
                    .call::<()>(store.connection().set_ex(key, query, ttl.as_secs().max(1)))
                    .await;
            }
        }
    }
}
