//! Shared, expiring counters: fixed windows that count events (failed
//! logins) or sum costs (query cost budgets).

use std::{
    sync::{Arc, LazyLock},
    time::Duration,
};

use moka::{future::Cache, ops::compute::Op};
use redis::Script;
use tokio::{sync::Mutex, time::Instant};

use super::{RedisStore, StoreError};

/// A fixed window's count and how long until the window closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub count: u64,
    pub resets_in: Duration,
}

/// What charging several budgets at once came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// Whether the cost fit every budget (and was added to each); otherwise
    /// nothing was added anywhere.
    pub accepted: bool,
    /// Each budget's window after the charge, in the order given.
    pub windows: Vec<Window>,
}

#[derive(Clone)]
pub struct Counters(Backend);

#[derive(Clone)]
enum Backend {
    Redis(RedisStore),
    Memory {
        windows: Cache<String, (u64, Instant)>,
        /// Charging reads several windows and then writes them all; in
        /// process, this makes that one step, as the Lua script does in Redis.
        charging: Arc<Mutex<()>>,
    },
}

/// INCR with the expiry set when the window opens, in one atomic step; a key
/// that somehow lost its expiry gets one again instead of living forever.
static INCREMENT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
",
    )
});

/// Adds ARGV[2] to every key if it fits under each key's limit (ARGV[3..]),
/// or to none; windows open with length ARGV[1] ms. Answers whether it was
/// added, then each key's count and milliseconds left.
static CHARGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local window = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local fits = 1
local used = {}
for i, key in ipairs(KEYS) do
  used[i] = tonumber(redis.call('GET', key) or '0')
  if used[i] + cost > tonumber(ARGV[2 + i]) then fits = 0 end
end
local result = {fits}
for i, key in ipairs(KEYS) do
  if fits == 1 then used[i] = redis.call('INCRBY', key, cost) end
  local ttl = redis.call('PTTL', key)
  if ttl < 0 and used[i] > 0 then
    redis.call('PEXPIRE', key, window)
    ttl = window
  elseif ttl < 0 then
    ttl = window
  end
  table.insert(result, used[i])
  table.insert(result, ttl)
end
return result
",
    )
});

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Counters {
    pub fn redis(store: RedisStore) -> Self {
        Self(Backend::Redis(store))
    }

    /// In-process counters; `longest_window` bounds how long an entry lives.
    pub fn memory(longest_window: Duration) -> Self {
        Self(Backend::Memory {
            windows: Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(longest_window)
                .build(),
            charging: Arc::default(),
        })
    }

    /// Counts one more event in the window of `key`, opening a window of
    /// length `window` if none is open.
    pub async fn increment(&self, key: &str, window: Duration) -> Result<Window, StoreError> {
        match &self.0 {
            Backend::Redis(store) => {
                let (count, ttl): (u64, i64) = store
                    .call(
                        INCREMENT
                            .key(store.key(key))
                            .arg(millis(window))
                            .invoke_async(&mut store.connection()),
                    )
                    .await?;
                Ok(Window {
                    count,
                    resets_in: Duration::from_millis(ttl.max(0).unsigned_abs()),
                })
            }
            Backend::Memory { windows, .. } => {
                let now = Instant::now();
                let result = windows
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

    /// Adds `cost` to the window of each `(key, limit)` if it fits under
    /// every limit, and to none otherwise, so a refused request spends
    /// nothing. Windows open with length `window`.
    pub async fn charge(
        &self,
        budgets: &[(String, u64)],
        cost: u64,
        window: Duration,
    ) -> Result<Charge, StoreError> {
        match &self.0 {
            Backend::Redis(store) => {
                let mut script = CHARGE.prepare_invoke();
                script.arg(millis(window)).arg(cost);
                for (key, limit) in budgets {
                    script.key(store.key(key)).arg(limit);
                }
                let reply: Vec<i64> = store
                    .call(script.invoke_async(&mut store.connection()))
                    .await?;
                let windows = reply[1..]
                    .chunks_exact(2)
                    .map(|pair| Window {
                        count: pair[0].unsigned_abs(),
                        resets_in: Duration::from_millis(pair[1].unsigned_abs()),
                    })
                    .collect();
                Ok(Charge {
                    accepted: reply.first() == Some(&1),
                    windows,
                })
            }
            Backend::Memory { windows, charging } => {
                let _one_at_a_time = charging.lock().await;
                let now = Instant::now();
                let mut current = Vec::with_capacity(budgets.len());
                for (key, _) in budgets {
                    let open = windows.get(key).await.filter(|(_, ends)| *ends > now);
                    current.push(open.unwrap_or((0, now + window)));
                }
                let accepted = budgets
                    .iter()
                    .zip(&current)
                    .all(|((_, limit), (used, _))| used.saturating_add(cost) <= *limit);
                if accepted {
                    for ((key, _), (used, ends)) in budgets.iter().zip(&mut current) {
                        *used += cost;
                        windows.insert(key.clone(), (*used, *ends)).await;
                    }
                }
                Ok(Charge {
                    accepted,
                    windows: current
                        .into_iter()
                        .map(|(count, ends)| Window {
                            count,
                            resets_in: ends.saturating_duration_since(now),
                        })
                        .collect(),
                })
            }
        }
    }

    /// The open window of `key`, if any.
    pub async fn current(&self, key: &str) -> Result<Option<Window>, StoreError> {
        match &self.0 {
            Backend::Redis(store) => {
                let key = store.key(key);
                let (count, ttl): (Option<u64>, i64) = store
                    .call(
                        redis::pipe()
                            .get(&key)
                            .pttl(&key)
                            .query_async(&mut store.connection()),
                    )
                    .await?;
                Ok(count.filter(|_| ttl > 0).map(|count| Window {
                    count,
                    resets_in: Duration::from_millis(ttl.unsigned_abs()),
                }))
            }
            Backend::Memory { windows, .. } => {
                let now = Instant::now();
                Ok(windows
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
            Backend::Redis(store) => {
                store
                    .call(
                        redis::cmd("DEL")
                            .arg(store.key(key))
                            .query_async::<()>(&mut store.connection()),
                    )
                    .await?;
            }
            Backend::Memory { windows, .. } => windows.invalidate(key).await,
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

    #[tokio::test]
    async fn a_charge_fits_every_budget_or_spends_nothing() {
        let counters = Counters::memory(Duration::from_secs(60));
        let window = Duration::from_secs(60);
        let budgets = [("a".to_owned(), 100), ("b".to_owned(), 50)];
        let first = counters.charge(&budgets, 40, window).await.unwrap();
        assert!(first.accepted);
        assert_eq!(
            first.windows.iter().map(|w| w.count).collect::<Vec<_>>(),
            [40, 40]
        );
        // 80 would fit "a" but not "b": neither is charged.
        let refused = counters.charge(&budgets, 40, window).await.unwrap();
        assert!(!refused.accepted);
        assert_eq!(
            refused.windows.iter().map(|w| w.count).collect::<Vec<_>>(),
            [40, 40]
        );
        assert!(
            counters
                .charge(&budgets, 10, window)
                .await
                .unwrap()
                .accepted
        );
        assert_eq!(counters.current("b").await.unwrap().unwrap().count, 50);
    }
}
