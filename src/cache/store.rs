//! The Redis connection that caches, counters, persisted queries and events
//! share, and what Folio does when Redis stops answering: every caller goes
//! on without it (bypassing caches, failing rate limits open), the outage is
//! logged once rather than once per request, and failures are counted.
//!
//! After a failure, Redis is left alone for a moment instead of every
//! request waiting on its own reconnection attempt; the first command after
//! that moment tries again.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use redis::{RedisResult, aio::ConnectionManager};
use tokio::time::Instant;

/// How long commands skip Redis after one failed.
const BACKOFF: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("Redis failed: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("Redis is unavailable; not retrying yet")]
    BackingOff,
}

#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: Arc<str>,
    health: Arc<Health>,
}

struct Health {
    down: AtomicBool,
    failures: AtomicU64,
    /// When the last failure happened, in milliseconds after `started`.
    failed_at: AtomicU64,
    started: Instant,
}

impl RedisStore {
    /// `prefix` starts every key, so several deployments (or test runs) can
    /// share one Redis.
    pub fn new(connection: ConnectionManager, prefix: &str) -> Self {
        Self {
            connection,
            prefix: Arc::from(prefix),
            health: Arc::new(Health {
                down: AtomicBool::new(false),
                failures: AtomicU64::new(0),
                failed_at: AtomicU64::new(0),
                started: Instant::now(),
            }),
        }
    }

    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// A handle to the shared, multiplexed connection.
    pub fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// Runs `command` (a Redis future, not yet polled), unless Redis failed
    /// within the last moment, and notes whether it answered.
    pub async fn call<T>(
        &self,
        command: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, StoreError> {
        let health = &self.health;
        if health.down.load(Ordering::Relaxed) {
            let since = health.started.elapsed().as_millis();
            let failed_at = u128::from(health.failed_at.load(Ordering::Relaxed));
            if since.saturating_sub(failed_at) < BACKOFF.as_millis() {
                health.failures.fetch_add(1, Ordering::Relaxed);
                return Err(StoreError::BackingOff);
            }
        }
        match command.await {
            Ok(value) => {
                if health.down.load(Ordering::Relaxed) && health.down.swap(false, Ordering::Relaxed)
                {
                    tracing::info!("Redis answers again: caches and rate limits are back");
                }
                Ok(value)
            }
            Err(err) => {
                health.failures.fetch_add(1, Ordering::Relaxed);
                let now = u64::try_from(health.started.elapsed().as_millis()).unwrap_or(u64::MAX);
                health.failed_at.store(now, Ordering::Relaxed);
                if !health.down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        error = %err,
                        "Redis is unavailable: serving from the database, caches bypassed and rate limits open until it returns"
                    );
                }
                Err(StoreError::Redis(err))
            }
        }
    }

    /// Commands that failed or were skipped since the process started.
    pub fn failures(&self) -> u64 {
        self.health.failures.load(Ordering::Relaxed)
    }
}
