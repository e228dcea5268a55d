//! The shared response cache: anonymous, public query responses, stored in
//! Redis (or in process without it) and invalidated by generation counters.
//!
//! Every cached response depends on some kinds of data (articles, comments,
//! users, tags): the kinds of the objects and lists it resolved. Each kind
//! has a generation counter that every committed write to it increments
//! before the write's response is sent. An entry records the generations it
//! was computed under, read *before* the query ran, and is served only while
//! they are all current. So once a mutation's response has been received,
//! no instance serves an entry computed before it: the entry was computed
//! under an older generation of what the mutation changed.
//!
//! An increment that does not reach Redis is not dropped: the instance that
//! made the write bypasses the cache until the increment is delivered
//! (retried in the background and before every read), so its own clients
//! never read around their write. Other instances can serve an older entry
//! until then, for at most its max-age; if Redis itself was away, it holds
//! no entries they could be served from.

use std::{
    sync::{
        Arc, Weak,
        atomic::{AtomicU8, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use moka::{Expiry, future::Cache};
use serde::{Deserialize, Serialize};

use super::{RedisStore, StoreError};

/// How often undelivered invalidations are retried.
const RETRY_INTERVAL: Duration = Duration::from_millis(200);

/// The kinds of data a response can depend on, as a bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependencies(u8);

const KINDS: [&str; 4] = ["Article", "Comment", "User", "Tag"];

impl Dependencies {
    pub const ARTICLES: Self = Self(1);
    pub const COMMENTS: Self = Self(2);
    pub const USERS: Self = Self(4);
    pub const TAGS: Self = Self(8);
    pub const ALL: Self = Self(15);

    /// What a GraphQL type name stands for: `Article`, `ArticleConnection`
    /// and `ArticleEdge` are articles, and so on; `Node` may be anything.
    pub fn of_type(name: &str) -> Self {
        if name == "Node" {
            return Self::ALL;
        }
        KINDS
            .iter()
            .enumerate()
            .find(|(_, kind)| name.starts_with(*kind))
            .map_or(Self(0), |(index, _)| Self(1 << index))
    }

    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn from_bits(bits: u8) -> Self {
        Self(bits & Self::ALL.0)
    }

    fn indices(self) -> impl Iterator<Item = usize> {
        (0..KINDS.len()).filter(move |index| self.0 & (1 << index) != 0)
    }
}

/// The generation of every kind, as read at one moment.
pub type Generations = [u64; 4];

/// Generations as Redis returns them: unset counters are `None` (zero).
type StoredGenerations = Vec<Option<u64>>;

#[derive(Clone, Serialize, Deserialize)]
struct Entry {
    generations: Generations,
    dependencies: Dependencies,
    max_age: u32,
    body: String,
}

/// What a lookup found.
#[derive(Default)]
pub struct Lookup {
    /// A current entry.
    pub hit: Option<Hit>,
    /// The generations to store a fresh answer under, when the store could
    /// be read.
    pub generations: Option<Generations>,
}

/// A cached response, ready to send.
pub struct Hit {
    pub body: String,
    pub max_age: u32,
}

#[derive(Clone)]
pub struct ResponseCache(Backend);

#[derive(Clone)]
enum Backend {
    Redis {
        store: RedisStore,
        /// The generation counters' keys, in the order of `KINDS`.
        generation_keys: Arc<[String; 4]>,
        /// Kinds whose increment has not reached Redis yet.
        undelivered: Arc<AtomicU8>,
    },
    Memory {
        entries: Cache<String, Arc<Entry>>,
        generations: Arc<[AtomicU64; 4]>,
    },
    Off,
}

/// In process, each entry lives as long as its own max-age.
struct MaxAge;

impl Expiry<String, Arc<Entry>> for MaxAge {
    fn expire_after_create(&self, _: &String, entry: &Arc<Entry>, _: Instant) -> Option<Duration> {
        Some(Duration::from_secs(entry.max_age.into()))
    }
}

impl ResponseCache {
    /// Must be called within a Tokio runtime: it starts the task that
    /// retries undelivered invalidations.
    pub fn redis(store: RedisStore) -> Self {
        let generation_keys =
            Arc::new(KINDS.map(|kind| store.key(&format!("responses:generation:{kind}"))));
        let undelivered = Arc::new(AtomicU8::new(0));
        tokio::spawn(redeliver(
            store.clone(),
            generation_keys.clone(),
            Arc::downgrade(&undelivered),
        ));
        Self(Backend::Redis {
            store,
            generation_keys,
            undelivered,
        })
    }

    pub fn memory() -> Self {
        Self(Backend::Memory {
            entries: Cache::builder()
                .max_capacity(10_000)
                .expire_after(MaxAge)
                .build(),
            generations: Arc::default(),
        })
    }

    /// A cache that stores nothing.
    pub fn off() -> Self {
        Self(Backend::Off)
    }

    /// Whether responses are cached at all.
    pub fn is_on(&self) -> bool {
        !matches!(self.0, Backend::Off)
    }

    /// What is stored under `key`, and the current generations, read
    /// together (one round trip to Redis): the entry is a hit only while
    /// everything it depends on is unchanged, and on a miss the generations
    /// are the ones to store the fresh answer under. When the store cannot
    /// be reached (or the cache is off) there are no generations and the
    /// cache is bypassed.
    pub async fn lookup(&self, key: &str) -> Lookup {
        let (entry, current) = match &self.0 {
            Backend::Off => return Lookup::default(),
            Backend::Memory {
                entries,
                generations,
            } => {
                let entry = entries.get(key).await;
                let current =
                    std::array::from_fn(|index| generations[index].load(Ordering::Acquire));
                (entry, current)
            }
            Backend::Redis {
                store,
                generation_keys,
                undelivered,
            } => {
                // Until this instance's writes are visible to every
                // instance, it must not read what predates them.
                if deliver(store, generation_keys, undelivered, Dependencies::default())
                    .await
                    .is_err()
                {
                    return Lookup::default();
                }
                let read: Result<(Option<Vec<u8>>, StoredGenerations), _> = store
                    .call(
                        redis::pipe()
                            .cmd("GET")
                            .arg(entry_key(store, key))
                            .cmd("MGET")
                            .arg(&generation_keys[..])
                            .query_async(&mut store.connection()),
                    )
                    .await;
                let Ok((stored, values)) = read else {
                    return Lookup::default();
                };
                let entry =
                    stored.and_then(|stored| serde_json::from_slice(&stored).ok().map(Arc::new));
                let current =
                    std::array::from_fn(|index| values.get(index).copied().flatten().unwrap_or(0));
                (entry, current)
            }
        };
        let hit = entry
            .filter(|entry: &Arc<Entry>| {
                entry
                    .dependencies
                    .indices()
                    .all(|index| entry.generations[index] == current[index])
            })
            .map(|entry| Hit {
                body: entry.body.clone(),
                max_age: entry.max_age,
            });
        Lookup {
            hit,
            generations: Some(current),
        }
    }

    /// Stores `body` under `key`, computed under `generations`.
    pub async fn put(
        &self,
        key: &str,
        generations: Generations,
        dependencies: Dependencies,
        max_age: u32,
        body: String,
    ) {
        let entry = Entry {
            generations,
            dependencies,
            max_age,
            body,
        };
        match &self.0 {
            Backend::Off => {}
            Backend::Memory { entries, .. } => {
                entries.insert(key.to_owned(), Arc::new(entry)).await
            }
            Backend::Redis { store, .. } => {
                let Ok(stored) = serde_json::to_vec(&entry) else {
                    return;
                };
                // An answer that cannot be stored is computed again next time.
                let _ = store
                    .call::<()>(
                        redis::cmd("SET")
                            .arg(entry_key(store, key))
                            .arg(stored)
                            .arg("EX")
                            .arg(max_age.max(1))
                            .query_async(&mut store.connection()),
                    )
                    .await;
            }
        }
    }

    /// Marks everything depending on `changed` as stale. Called after a
    /// write commits and before its response is sent.
    pub async fn invalidate(&self, changed: Dependencies) {
        match &self.0 {
            Backend::Off => {}
            Backend::Memory { generations, .. } => {
                for index in changed.indices() {
                    generations[index].fetch_add(1, Ordering::AcqRel);
                }
            }
            Backend::Redis {
                store,
                generation_keys,
                undelivered,
            } => {
                // Failure is remembered in `undelivered` and retried.
                let _ = deliver(store, generation_keys, undelivered, changed).await;
            }
        }
    }
}

fn entry_key(store: &RedisStore, key: &str) -> String {
    store.key(&format!("responses:entry:{key}"))
}

/// Increments the generations of `changed` and of every kind whose earlier
/// increment was not delivered; what fails now stays undelivered.
async fn deliver(
    store: &RedisStore,
    generation_keys: &[String; 4],
    undelivered: &AtomicU8,
    changed: Dependencies,
) -> Result<(), StoreError> {
    if changed == Dependencies::default() && undelivered.load(Ordering::Acquire) == 0 {
        return Ok(());
    }
    let kinds = changed.union(Dependencies::from_bits(
        undelivered.swap(0, Ordering::AcqRel),
    ));
    if kinds == Dependencies::default() {
        return Ok(());
    }
    let mut pipeline = redis::pipe();
    for index in kinds.indices() {
        pipeline.cmd("INCR").arg(&generation_keys[index]).ignore();
    }
    let result = store
        .call(pipeline.query_async::<()>(&mut store.connection()))
        .await;
    if result.is_err() {
        undelivered.fetch_or(kinds.bits(), Ordering::AcqRel);
    }
    result
}

/// Retries undelivered invalidations until the cache is dropped.
async fn redeliver(
    store: RedisStore,
    generation_keys: Arc<[String; 4]>,
    undelivered: Weak<AtomicU8>,
) {
    let mut interval = tokio::time::interval(RETRY_INTERVAL);
    loop {
        interval.tick().await;
        let Some(undelivered) = undelivered.upgrade() else {
            return;
        };
        if undelivered.load(Ordering::Acquire) != 0 {
            let _ = deliver(
                &store,
                &generation_keys,
                &undelivered,
                Dependencies::default(),
            )
            .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_map_to_kinds() {
        assert_eq!(
            Dependencies::of_type("ArticleConnection"),
            Dependencies::ARTICLES
        );
        assert_eq!(Dependencies::of_type("CommentEdge"), Dependencies::COMMENTS);
        assert_eq!(Dependencies::of_type("User"), Dependencies::USERS);
        assert_eq!(Dependencies::of_type("TagConnection"), Dependencies::TAGS);
        assert_eq!(Dependencies::of_type("Node"), Dependencies::ALL);
        assert_eq!(Dependencies::of_type("PageInfo"), Dependencies::default());
    }

    #[tokio::test]
    async fn an_entry_is_served_until_what_it_depends_on_changes() {
        let cache = ResponseCache::memory();
        let miss = cache.lookup("k").await;
        assert!(miss.hit.is_none());
        cache
            .put(
                "k",
                miss.generations.unwrap(),
                Dependencies::ARTICLES,
                30,
                "body".to_owned(),
            )
            .await;
        assert_eq!(cache.lookup("k").await.hit.unwrap().body, "body");
        cache.invalidate(Dependencies::COMMENTS).await;
        assert!(
            cache.lookup("k").await.hit.is_some(),
            "comments do not matter here"
        );
        cache.invalidate(Dependencies::ARTICLES).await;
        assert!(cache.lookup("k").await.hit.is_none());
    }
}
