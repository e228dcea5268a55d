//! Shared, expiring counters: in Redis when it is configured, so every
//! instance sees the same numbers, and in process otherwise.

pub mod persisted_queries;
pub mod responses;

use std::{sync::Arc, time::Duration};

use moka::{future::Cache, ops::compute::Op};
use redis::{Script, aio::ConnectionManager};
use tokio::time::Instant;

/// A fixed window's count and how long until the window closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub count: u64,
    pub resets_in: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("counter store unavailable: {0}")]
pub struct StoreError(#[from] redis::RedisError);

#[derive(Clone)]
pub struct Counters(Backend);

#[derive(Clone)]
enum Backend {
    Redis {
        connection: ConnectionManager,
        prefix: Arc<str>,
    },
    Memory(Cache<String, (u64, Instant)>),
}

/// INCR with the expiry set when the window opens, in one atomic step; a key
/// that somehow lost its expiry gets one again instead of living forever.
const INCREMENT: &str = r"
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
";

impl Counters {
    pub fn redis(connection: ConnectionManager, prefix: &str) -> Self {
        Self(Backend::Redis {
            connection,
            prefix: Arc::from(prefix),
        })
    }

    /// In-process counters; `longest_window` bounds how long an entry lives.
    pub fn memory(longest_window: Duration) -> Self {
        Self(Backend::Memory(
            Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(longest_window)
                .build(),
        ))
    }

    /// Counts one more event in the window of `key`, opening a window of
    /// length `window` if none is open.
    pub async fn increment(&self, key: &str, window: Duration) -> Result<Window, StoreError> {
        match &self.0 {
            Backend::Redis { connection, prefix } => {
                let mut connection = connection.clone();
                let (count, ttl): (u64, i64) = Script::new(INCREMENT)
                    .key(format!("{prefix}{key}"))
                    .arg(u64::try_from(window.as_millis()).unwrap_or(u64::MAX))
                    .invoke_async(&mut connection)
                    .await?;
                Ok(Window {
                    count,
                    resets_in: Duration::from_millis(ttl.max(0).unsigned_abs()),
                })
            }
            Backend::Memory(cache) => {
                let now = Instant::now();
                let result = cache
                    .entry(key.to_owned())
                    .and_compute_with(|entry| {
                        let next = match entry.map(|entry| entry.into_value()) {
                            Some((count, ends)) if ends > now => (count + 1, ends),
                            _ => (1, now + window),
                        };
                        std::future::ready(Op::Put(next))
                    })
                    .await;
                let (count, ends) = result
                    .into_entry()
                    .map(|entry| entry.into_value())
                    .unwrap_or((1, now + window));
                Ok(Window {
                    count,
                    resets_in: ends.saturating_duration_since(now),
                })
            }
        }
    }

    /// The open window of `key`, if any.
    pub async fn current(&self, key: &str) -> Result<Option<Window>, StoreError> {
        match &self.0 {
            Backend::Redis { connection, prefix } => {
                let mut connection = connection.clone();
                let key = format!("{prefix}{key}");
                let (count, ttl): (Option<u64>, i64) = redis::pipe()
                    .get(&key)
                    .pttl(&key)
                    .query_async(&mut connection)
                    .await?;
                Ok(count.filter(|_| ttl > 0).map(|count| Window {
                    count,
                    resets_in: Duration::from_millis(ttl.unsigned_abs()),
                }))
            }
            Backend::Memory(cache) => {
                let now = Instant::now();
                Ok(cache
                    .get(key)
                    .await
                    .filter(|(_, ends)| *ends > now)
                    .map(|(count, ends)| Window {
                        count,
                        resets_in: ends.saturating_duration_since(now),
                    }))
            }
        }
    }

    pub async fn reset(&self, key: &str) -> Result<(), StoreError> {
        match &self.0 {
            Backend::Redis { connection, prefix } => {
                let mut connection = connection.clone();
                redis::cmd("DEL")
                    .arg(format!("{prefix}{key}"))
                    .query_async::<()>(&mut connection)
                    .await?;
            }
            Backend::Memory(cache) => cache.invalidate(key).await,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_windows_count_and_reset() {
        let counters = Counters::memory(Duration::from_secs(60));
        let window = Duration::from_secs(30);
        assert_eq!(counters.current("k").await.unwrap(), None);
        assert_eq!(counters.increment("k", window).await.unwrap().count, 1);
        let second = counters.increment("k", window).await.unwrap();
        assert_eq!(second.count, 2);
        assert!(second.resets_in <= window && second.resets_in > Duration::from_secs(29));
        assert_eq!(counters.current("k").await.unwrap().unwrap().count, 2);
        counters.reset("k").await.unwrap();
        assert_eq!(counters.current("k").await.unwrap(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn memory_windows_close() {
        let counters = Counters::memory(Duration::from_secs(60));
        counters
            .increment("k", Duration::from_secs(1))
            .await
            .unwrap();
        tokio::time::advance(Duration::from_millis(1100)).await;
        assert_eq!(counters.current("k").await.unwrap(), None);
        assert_eq!(
            counters
                .increment("k", Duration::from_secs(1))
                .await
                .unwrap()
                .count,
            1
        );
    }
}
