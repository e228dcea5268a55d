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
//! Some reads are narrower than a whole kind: an article's comments. Such a
//! read records its scope (`Scope`), and a write that names the scope it
//! changed (a comment on article 7) leaves entries scoped elsewhere (the
//! page of article 8) valid: their kind's generation moved, but not the
//! generation of any scope they read. A write of that kind that names no
//! scope bumps the kind's catch-all scope, which every scoped entry reads,
//! so forgetting to name a scope costs hit rate, never correctness. An
//! entry's scope generations are read after it ran, in one snapshot with
//! the kinds' generations; if a write of the kind moved the kind's
//! generation while it ran, the entry keeps no scopes and stays coarse.
//!
//! An increment that does not reach Redis is not dropped: the instance that
//! made the write bypasses the cache until the increment is delivered
//! (retried in the background and before every read), so its own clients
//! never read around their write. Other instances can serve an older entry
//! until then, for at most its max-age; if Redis itself was away, it holds
//! no entries they could be served from.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard, Weak,
        atomic::{AtomicU8, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use moka::{Expiry, future::Cache};
use serde::{Deserialize, Serialize};

use super::{RedisStore, StoreError};
use crate::locks::lock;

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

/// Part of one kind of data that a read can be confined to and a write can
/// name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The comments of one article.
    CommentsOf(i64),
}

impl Scope {
    pub fn kind(self) -> Dependencies {
        match self {
            Self::CommentsOf(_) => Dependencies::COMMENTS,
        }
    }

    fn name(self) -> String {
        match self {
            Self::CommentsOf(article) => format!("Comment:article:{article}"),
        }
    }
}

/// The catch-all scope of the kind at `index`: bumped by writes of the kind
/// that name no scope, read by every entry scoped within the kind.
fn catch_all(index: usize) -> String {
    format!("{}:*", KINDS[index])
}

/// What a response was built from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reads {
    /// Kinds read as a whole.
    pub kinds: Dependencies,
    /// Narrower reads.
    pub scopes: Vec<Scope>,
}

impl Reads {
    /// The kinds the scopes are parts of.
    fn kinds_of_scopes(&self) -> Dependencies {
        self.scopes
            .iter()
            .fold(Dependencies::default(), |all, scope| {
                all.union(scope.kind())
            })
    }

    fn dependencies(&self) -> Dependencies {
        self.kinds.union(self.kinds_of_scopes())
    }

    /// The kinds read only within scopes.
    fn scoped_kinds(&self) -> Dependencies {
        Dependencies(self.kinds_of_scopes().0 & !self.kinds.0)
    }
}

/// The scope counters (catch-alls included) that entries confined to
/// `kinds` within `scopes` check.
fn scope_names(kinds: Dependencies, scopes: &[Scope]) -> Vec<String> {
    let mut names: Vec<String> = kinds.indices().map(catch_all).collect();
    names.extend(
        scopes
            .iter()
            .filter(|scope| kinds.0 & scope.kind().0 != 0)
            .map(|scope| scope.name()),
    );
    names.sort();
    names.dedup();
    names
}

/// The generation of every kind, as read at one moment.
pub type Generations = [u64; 4];

/// Generations as Redis returns them: unset counters are `None` (zero).
type StoredGenerations = Vec<Option<u64>>;

#[derive(Clone, Serialize, Deserialize)]
struct Entry {
    generations: Generations,
    dependencies: Dependencies,
    /// Kinds for which the entry stays valid while `scopes` are unchanged,
    /// even if the kind's generation moved.
    #[serde(default)]
    precise: Dependencies,
    /// Scope counters and their values after the entry was computed.
    #[serde(default)]
    scopes: Vec<(String, u64)>,
    max_age: u32,
    body: String,
}

impl Entry {
    /// Whether the entry is current under the kinds' generations `current`;
    /// `None` when that depends on its scopes.
    fn current_by_kind(&self, current: &Generations) -> Option<bool> {
        let changed = Dependencies(
            self.dependencies
                .indices()
                .filter(|index| self.generations[*index] != current[*index])
                .fold(0, |bits, index| bits | (1 << index)),
        );
        if changed == Dependencies::default() {
            Some(true)
        } else if changed.0 & !self.precise.0 == 0 {
            None
        } else {
            Some(false)
        }
    }

    fn scope_names(&self) -> Vec<String> {
        self.scopes.iter().map(|(name, _)| name.clone()).collect()
    }

    fn scopes_match(&self, values: &[u64]) -> bool {
        self.scopes.len() == values.len()
            && self
                .scopes
                .iter()
                .zip(values)
                .all(|((_, recorded), now)| recorded == now)
    }
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
        /// The kinds' generation counters' keys, in the order of `KINDS`.
        generation_keys: Arc<[String; 4]>,
        /// Kinds whose increment has not reached Redis yet.
        undelivered: Arc<AtomicU8>,
    },
    Memory {
        entries: Cache<String, Arc<Entry>>,
        counters: Arc<MemoryCounters>,
    },
    Off,
}

#[derive(Default)]
struct MemoryCounters {
    kinds: [AtomicU64; 4],
    /// Scope counters. Writes bump kinds and scopes under this lock, so a
    /// snapshot taken under it is consistent.
    scopes: Mutex<HashMap<String, u64>>,
}

impl MemoryCounters {
    fn kinds(&self) -> Generations {
        std::array::from_fn(|index| self.kinds[index].load(Ordering::Acquire))
    }

    fn scopes(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        lock(&self.scopes)
    }

    fn read(scopes: &HashMap<String, u64>, names: &[String]) -> Vec<u64> {
        names
            .iter()
            .map(|name| scopes.get(name).copied().unwrap_or(0))
            .collect()
    }
}

/// Entries live at most this long (their max-age is capped to it), and a
/// scope counter in Redis at least this long after its last increment: an
/// expired counter reads as 0 again, which no live entry can have recorded
/// from before.
const SCOPE_TTL: Duration = Duration::from_secs(24 * 3600);
const LONGEST_MAX_AGE: u32 = 3600;

/// In process, each entry lives as long as its own max-age.
/// How many bytes of responses the in-process cache holds: bounded in
/// bytes, not entries, since one response can be megabytes.
const MEMORY_CAPACITY_BYTES: u64 = 64 * 1024 * 1024;

/// What an entry costs besides its key and body (generations, scopes).
const ENTRY_OVERHEAD_BYTES: usize = 512;

/// Responses larger than this are not kept, in process or in Redis: one
/// would push out hundreds of small ones, and a client that asks for
/// megabytes can pay for them.
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;

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
        let generation_keys = Arc::new(KINDS.map(|kind| generation_key(&store, kind)));
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
                .max_capacity(MEMORY_CAPACITY_BYTES)
                .weigher(|key: &String, entry: &Arc<Entry>| {
                    u32::try_from(key.len() + entry.body.len() + ENTRY_OVERHEAD_BYTES)
                        .unwrap_or(u32::MAX)
                })
                .expire_after(MaxAge)
                .build(),
            counters: Arc::default(),
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
    /// together (one round trip to Redis; a second one only for a scoped
    /// entry whose kind has moved on): the entry is a hit only while
    /// everything it depends on is unchanged, and on a miss the generations
    /// are the ones to store the fresh answer under. When the store cannot
    /// be reached (or the cache is off) there are no generations and the
    /// cache is bypassed.
    pub async fn lookup(&self, key: &str) -> Lookup {
        let (entry, current) = match &self.0 {
            Backend::Off => return Lookup::default(),
            Backend::Memory { entries, counters } => (entries.get(key).await, counters.kinds()),
            Backend::Redis {
                store,
                generation_keys,
                undelivered,
            } => {
                // Until this instance's writes are visible to every
                // instance, it must not read what predates them.
                if deliver(
                    store,
                    generation_keys,
                    undelivered,
                    Dependencies::default(),
                    &[],
                )
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
                (entry, counts(&values))
            }
        };
        let hit = match entry {
            Some(entry) => match entry.current_by_kind(&current) {
                Some(current) => current.then_some(entry),
                None => {
                    let values = self.scope_values(&entry.scope_names()).await;
                    values
                        .is_some_and(|values| entry.scopes_match(&values))
                        .then_some(entry)
                }
            },
            None => None,
        };
        Lookup {
            hit: hit.map(|entry| Hit {
                body: entry.body.clone(),
                max_age: entry.max_age,
            }),
            generations: Some(current),
        }
    }

    /// The current values of the scope counters `names`.
    async fn scope_values(&self, names: &[String]) -> Option<Vec<u64>> {
        match &self.0 {
            Backend::Off => None,
            Backend::Memory { counters, .. } => {
                Some(MemoryCounters::read(&counters.scopes(), names))
            }
            Backend::Redis { store, .. } => {
                let keys: Vec<String> = names.iter().map(|n| generation_key(store, n)).collect();
                let values: StoredGenerations = store
                    .call(
                        redis::cmd("MGET")
                            .arg(&keys)
                            .query_async(&mut store.connection()),
                    )
                    .await
                    .ok()?;
                Some(values.iter().map(|value| value.unwrap_or(0)).collect())
            }
        }
    }

    /// The kinds' generations and the scope counters `names`, read at one
    /// moment.
    async fn snapshot(&self, names: &[String]) -> Option<(Generations, Vec<u64>)> {
        match &self.0 {
            Backend::Off => None,
            Backend::Memory { counters, .. } => {
                let scopes = counters.scopes();
                Some((counters.kinds(), MemoryCounters::read(&scopes, names)))
            }
            Backend::Redis {
                store,
                generation_keys,
                ..
            } => {
                let keys = generation_keys
                    .iter()
                    .cloned()
                    .chain(names.iter().map(|name| generation_key(store, name)));
                let values: StoredGenerations = store
                    .call(
                        redis::cmd("MGET")
                            .arg(keys.collect::<Vec<_>>())
                            .query_async(&mut store.connection()),
                    )
                    .await
                    .ok()?;
                let (kinds, scopes) = values.split_at(KINDS.len().min(values.len()));
                Some((
                    counts(kinds),
                    scopes.iter().map(|value| value.unwrap_or(0)).collect(),
                ))
            }
        }
    }

    /// Stores `body` under `key`: computed under `generations` (read before
    /// it ran) from `reads`.
    pub async fn put(
        &self,
        key: &str,
        generations: Generations,
        reads: &Reads,
        max_age: u32,
        body: String,
    ) {
        if body.len() > MAX_ENTRY_BYTES {
            return;
        }
        let scoped = reads.scoped_kinds();
        let mut precise = Dependencies::default();
        let mut scopes = Vec::new();
        if scoped != Dependencies::default() {
            let names = scope_names(scoped, &reads.scopes);
            // Scopes are only trusted if no write of their kinds happened
            // while the response was computed.
            if let Some((now, values)) = self.snapshot(&names).await
                && scoped
                    .indices()
                    .all(|index| now[index] == generations[index])
            {
                precise = scoped;
                scopes = names.into_iter().zip(values).collect();
            }
        }
        let entry = Entry {
            generations,
            dependencies: reads.dependencies(),
            precise,
            scopes,
            max_age: max_age.min(LONGEST_MAX_AGE),
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
                            .arg(entry.max_age.max(1))
                            .query_async(&mut store.connection()),
                    )
                    .await;
            }
        }
    }

    /// Marks everything depending on `changed` as stale, except entries
    /// confined to other scopes than `scopes` (the parts of `changed` that
    /// were written). Called after a write commits and before its response
    /// is sent.
    pub async fn invalidate(&self, changed: Dependencies, scopes: &[Scope]) {
        match &self.0 {
            Backend::Off => {}
            Backend::Memory { counters, .. } => {
                let mut scope_counters = counters.scopes();
                for index in changed.indices() {
                    counters.kinds[index].fetch_add(1, Ordering::AcqRel);
                }
                for name in written_scopes(changed, scopes) {
                    *scope_counters.entry(name).or_default() += 1;
                }
            }
            Backend::Redis {
                store,
                generation_keys,
                undelivered,
            } => {
                // Failure is remembered in `undelivered` and retried.
                let _ = deliver(store, generation_keys, undelivered, changed, scopes).await;
            }
        }
    }
}

/// The scope counters a write of `changed` within `scopes` bumps: the named
/// scopes, and the catch-all of each kind written without naming one.
fn written_scopes(changed: Dependencies, scopes: &[Scope]) -> Vec<String> {
    changed
        .indices()
        .flat_map(|index| {
            let named: Vec<String> = scopes
                .iter()
                .filter(|scope| scope.kind().0 & (1 << index) != 0)
                .map(|scope| scope.name())
                .collect();
            if named.is_empty() {
                vec![catch_all(index)]
            } else {
                named
            }
        })
        .collect()
}

fn counts(values: &[Option<u64>]) -> Generations {
    std::array::from_fn(|index| values.get(index).copied().flatten().unwrap_or(0))
}

fn entry_key(store: &RedisStore, key: &str) -> String {
    store.key(&format!("responses:entry:{key}"))
}

fn generation_key(store: &RedisStore, name: &str) -> String {
    store.key(&format!("responses:generation:{name}"))
}

/// Increments the generations of `changed` (and its written scopes), and of
/// every kind whose earlier increment was not delivered (with its
/// catch-all); what fails now stays undelivered. One transaction, so no
/// snapshot sees a kind moved without its scopes.
async fn deliver(
    store: &RedisStore,
    generation_keys: &[String; 4],
    undelivered: &AtomicU8,
    changed: Dependencies,
    scopes: &[Scope],
) -> Result<(), StoreError> {
    if changed == Dependencies::default() && undelivered.load(Ordering::Acquire) == 0 {
        return Ok(());
    }
    let retried = Dependencies::from_bits(undelivered.swap(0, Ordering::AcqRel));
    let kinds = changed.union(retried);
    let mut names = written_scopes(changed, scopes);
    names.extend(written_scopes(retried, &[]));
    let mut transaction = redis::pipe();
    transaction.atomic();
    for index in kinds.indices() {
        transaction
            .cmd("INCR")
            .arg(&generation_keys[index])
            .ignore();
    }
    for name in names {
        let key = generation_key(store, &name);
        transaction.cmd("INCR").arg(&key).ignore();
        transaction
            .cmd("EXPIRE")
            .arg(&key)
            .arg(SCOPE_TTL.as_secs())
            .ignore();
    }
    let result = store
        .call(transaction.query_async::<()>(&mut store.connection()))
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
                &[],
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
                &Reads {
                    kinds: Dependencies::ARTICLES,
                    scopes: Vec::new(),
                },
                30,
                "body".to_owned(),
            )
            .await;
        assert_eq!(cache.lookup("k").await.hit.unwrap().body, "body");
        cache.invalidate(Dependencies::COMMENTS, &[]).await;
        assert!(
            cache.lookup("k").await.hit.is_some(),
            "comments do not matter here"
        );
        cache.invalidate(Dependencies::ARTICLES, &[]).await;
        assert!(cache.lookup("k").await.hit.is_none());
    }

    async fn cache_scoped_to(cache: &ResponseCache, key: &str, article: i64) {
        let miss = cache.lookup(key).await;
        assert!(miss.hit.is_none());
        let reads = Reads {
            kinds: Dependencies::ARTICLES,
            scopes: vec![Scope::CommentsOf(article)],
        };
        cache
            .put(key, miss.generations.unwrap(), &reads, 30, key.to_owned())
            .await;
        assert!(cache.lookup(key).await.hit.is_some());
    }

    #[tokio::test]
    async fn a_write_to_one_scope_leaves_entries_of_other_scopes_valid() {
        let cache = ResponseCache::memory();
        cache_scoped_to(&cache, "seven", 7).await;
        cache_scoped_to(&cache, "eight", 8).await;
        cache
            .invalidate(Dependencies::COMMENTS, &[Scope::CommentsOf(7)])
            .await;
        assert!(cache.lookup("seven").await.hit.is_none());
        assert!(cache.lookup("eight").await.hit.is_some());
        // A write of the kind that names no scope reaches every scope.
        cache_scoped_to(&cache, "seven", 7).await;
        cache.invalidate(Dependencies::COMMENTS, &[]).await;
        assert!(cache.lookup("seven").await.hit.is_none());
        assert!(cache.lookup("eight").await.hit.is_none());
        // And kinds read as a whole are not scoped.
        cache_scoped_to(&cache, "eight", 8).await;
        cache.invalidate(Dependencies::ARTICLES, &[]).await;
        assert!(cache.lookup("eight").await.hit.is_none());
    }

    #[tokio::test]
    async fn scopes_are_not_trusted_if_their_kind_was_written_while_computing() {
        let cache = ResponseCache::memory();
        let miss = cache.lookup("k").await;
        // A write of the kind commits between the entry's reads.
        cache
            .invalidate(Dependencies::COMMENTS, &[Scope::CommentsOf(1)])
            .await;
        let reads = Reads {
            kinds: Dependencies::default(),
            scopes: vec![Scope::CommentsOf(2)],
        };
        cache
            .put(
                "k",
                miss.generations.unwrap(),
                &reads,
                30,
                "body".to_owned(),
            )
            .await;
        assert!(
            cache.lookup("k").await.hit.is_none(),
            "computed under an older generation, with no scopes to vouch for it"
        );
    }
}
