//! Shared, expiring counters: fixed windows that count events (failed
//! logins) or sum costs (query cost budgets).

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex},
    time::Duration,
};

use redis::Script;
use tokio::time::Instant;

use super::{RedisStore, StoreError};
use crate::locks::lock;

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
    /// Every request of a process goes through here, so a plain map under a
    /// lock held for a few hash operations, never across an await.
    Memory(Arc<Mutex<Windows>>),
}

/// In-process windows, each with its count and when it closes.
struct Windows {
    open: HashMap<String, (u64, Instant)>,
    /// Closed windows are swept out once the map reaches this size.
    sweep_at: usize,
}

impl Windows {
    fn current(&self, key: &str, now: Instant) -> Option<(u64, Instant)> {
        self.open.get(key).copied().filter(|(_, ends)| *ends > now)
    }

    fn set(&mut self, key: &str, window: (u64, Instant), now: Instant) {
        if self.open.len() >= self.sweep_at {
            self.open.retain(|_, (_, ends)| *ends > now);
            self.sweep_at = (self.open.len() * 2).max(MIN_SWEEP);
        }
        match self.open.get_mut(key) {
            Some(open) => *open = window,
            None => {
                self.open.insert(key.to_owned(), window);
            }
        }
    }
}

const MIN_SWEEP: usize = 1024;

fn window_of((count, ends): (u64, Instant), now: Instant) -> Window {
    Window {
        count,
        resets_in: ends.saturating_duration_since(now),
    }
}

/// Adds ARGV[2] to every key if it fits under each key's limit (ARGV[3..]),
/// or to none; windows open with length ARGV[1] ms, and a key that somehow
/// lost its expiry gets one again instead of living forever. Answers whether
/// it was added, then each key's count and milliseconds left.
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

/// Subtracts ARGV[1] from KEYS[1] if it holds more, keeping its expiry,
/// and removes it otherwise (DECRBY alone would create a key without one).
static REFUND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used > tonumber(ARGV[1]) then
  redis.call('DECRBY', KEYS[1], ARGV[1])
else
  redis.call('DEL', KEYS[1])
end
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

    pub fn memory() -> Self {
        Self(Backend::Memory(Arc::new(Mutex::new(Windows {
            open: HashMap::new(),
            sweep_at: MIN_SWEEP,
        }))))
    }

    /// Counts one more event in the window of `key`, opening a window of
    /// length `window` if none is open.
    pub async fn increment(&self, key: &str, window: Duration) -> Result<Window, StoreError> {
        // A charge of 1 against no limit, which always fits.
        let charge = self
            .charge(&[(key.to_owned(), u64::MAX)], 1, window)
            .await?;
        Ok(charge.windows[0])
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
            Backend::Memory(windows) => {
                let now = Instant::now();
                let mut windows = lock(windows);
                let mut current: Vec<(u64, Instant)> = budgets
                    .iter()
                    .map(|(key, _)| windows.current(key, now).unwrap_or((0, now + window)))
                    .collect();
                let accepted = budgets
                    .iter()
                    .zip(&current)
                    .all(|((_, limit), (used, _))| used.saturating_add(cost) <= *limit);
                if accepted {
                    for ((key, _), open) in budgets.iter().zip(&mut current) {
                        open.0 += cost;
                        windows.set(key, *open, now);
                    }
                }
                Ok(Charge {
                    accepted,
                    windows: current
                        .into_iter()
                        .map(|open| window_of(open, now))
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
            Backend::Memory(windows) => {
                let now = Instant::now();
                let open = lock(windows).current(key, now);
                Ok(open.map(|open| window_of(open, now)))
            }
        }
    }

    /// Takes `amount` back from the window of `key` (never below zero).
    pub async fn refund(&self, key: &str, amount: u64) -> Result<(), StoreError> {
        match &self.0 {
            Backend::Redis(store) => {
                store
                    .call(
                        REFUND
                            .key(store.key(key))
                            .arg(amount)
                            .invoke_async::<()>(&mut store.connection()),
                    )
                    .await?;
            }
            Backend::Memory(windows) => {
                let now = Instant::now();
                let mut windows = lock(windows);
                if let Some((count, ends)) = windows.current(key, now) {
                    windows.set(key, (count.saturating_sub(amount), ends), now);
                }
            }
        }
        Ok(())
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
            Backend::Memory(windows) => {
                lock(windows).open.remove(key);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_windows_count_and_reset() {
        let counters = Counters::memory();
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
        let counters = Counters::memory();
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
        let counters = Counters::memory();
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
