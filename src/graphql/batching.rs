//! Batch loading, and when a batch goes out: once the operation that asked
//! has nothing left to do, so every key it can reach is in the batch, at any
//! page size.
//!
//! async-graphql's `DataLoader` hands its batch to a task that waits out a
//! delay and then takes the keys collected so far. That task races the
//! executor walking the page: the executor gives way every 32 list items
//! (futures-util's `FuturesUnordered` yields to be fair) and another worker
//! runs the task meanwhile, so at 100 items the authors' `followersCount`
//! went out in batches of one or two keys; and with a page of comments
//! loading beside it, whether the commenters' keys joined their author's
//! batch depended on which finished first. A delay long enough to win the
//! race on a busy machine costs every request its length.
//!
//! Instead, an operation runs [`settled`]: while it is polled, [`Batcher`]s
//! queue the batches they open with it, and it takes each batch's keys and
//! starts its load when a poll ends with the operation waiting and nothing
//! having woken it, which is when every resolver that can run has run and
//! the rest wait on loads. That is graphql-js's DataLoader tick, measured
//! on the operation instead of an event loop, and the statements a request
//! sends depend on its shape alone. A batcher's delay (none by default)
//! holds a batch that long after that point, for loaders shared between
//! operations to collect the keys of others.

use std::{
    cell::RefCell,
    collections::{HashMap, HashSet},
    hash::Hash,
    mem,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
    time::Duration,
};

use async_graphql::dataloader::Loader;
use futures_util::{Stream, future::BoxFuture, task::AtomicWaker};
use sea_orm::DbErr;
use tokio::sync::oneshot;

use super::loaders::LoadError;
use crate::{locks::lock, services::ServiceError};

/// Most keys one statement asks for: well inside the bind-parameter limits
/// of Postgres and SQLite.
const MAX_BATCH: usize = 1_000;

/// What a loader may be asked for.
pub trait Key: Send + Sync + Hash + Eq + Clone + 'static {}

impl<K: Send + Sync + Hash + Eq + Clone + 'static> Key for K {}

/// Collects the keys asked of `L` into batches, each loaded with one call.
pub struct Batcher<K: Key, L: Loader<K>> {
    shared: Arc<Shared<K, L>>,
    /// How long a batch waits for more keys (from other operations, when
    /// the loader is shared) once it would go out.
    delay: Duration,
}

type Loaded<K, V> = Result<Arc<HashMap<K, V>>, LoadError>;

struct Shared<K: Key, L: Loader<K>> {
    loader: L,
    open: Mutex<Batch<K, L::Value>>,
}

struct Batch<K, V> {
    keys: HashSet<K>,
    waiting: Vec<oneshot::Sender<Loaded<K, V>>>,
    /// Whether someone will take this batch (see [`schedule`]).
    scheduled: bool,
}

impl<K, V> Default for Batch<K, V> {
    fn default() -> Self {
        Self {
            keys: HashSet::new(),
            waiting: Vec::new(),
            scheduled: false,
        }
    }
}

impl<K: Key, L: Loader<K, Error = LoadError>> Batcher<K, L> {
    pub fn new(loader: L, delay: Duration) -> Self {
        Self {
            shared: Arc::new(Shared {
                loader,
                open: Mutex::new(Batch::default()),
            }),
            delay,
        }
    }

    pub async fn load_one(&self, key: K) -> Result<Option<L::Value>, LoadError> {
        let mut found = self.load_many([key.clone()]).await?;
        Ok(found.remove(&key))
    }

    /// The values of those of `keys` that exist.
    pub async fn load_many(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<HashMap<K, L::Value>, LoadError> {
        let keys: Vec<K> = keys.into_iter().collect();
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let (sender, receiver) = oneshot::channel();
        let full = {
            let mut open = lock(&self.shared.open);
            open.keys.extend(keys.iter().cloned());
            open.waiting.push(sender);
            if !open.scheduled {
                open.scheduled = true;
                let shared = self.shared.clone();
                schedule(self.delay, Box::new(move || shared.start()));
            }
            // A full batch goes now; whoever was to take it takes the
            // next one instead.
            let next = Batch {
                scheduled: true,
                ..Batch::default()
            };
            (open.keys.len() >= MAX_BATCH).then(|| mem::replace(&mut *open, next))
        };
        if let Some(full) = full {
            tokio::spawn(self.shared.clone().run(full));
        }
        let loaded = receiver.await.unwrap_or_else(|_| {
            Err(Arc::new(ServiceError::Database(DbErr::Custom(
                "a batch load stopped before it answered".to_owned(),
            ))))
        })?;
        Ok(keys
            .into_iter()
            .filter_map(|key| Some((key.clone(), loaded.get(&key)?.clone())))
            .collect())
    }
}

impl<K: Key, L: Loader<K, Error = LoadError>> Shared<K, L> {
    /// Takes the open batch: the load of its keys, if it has any.
    fn start(self: Arc<Self>) -> Option<BoxFuture<'static, ()>> {
        let batch = mem::take(&mut *lock(&self.open));
        (!batch.keys.is_empty()).then(|| Box::pin(self.run(batch)) as BoxFuture<'static, ()>)
    }

    async fn run(self: Arc<Self>, batch: Batch<K, L::Value>) {
        let keys: Vec<K> = batch.keys.into_iter().collect();
        let loaded = self.loader.load(&keys).await.map(Arc::new);
        for waiting in batch.waiting {
            let _ = waiting.send(loaded.clone());
        }
    }
}

/// Takes a batch's keys and gives the load of them, if any.
type Starter = Box<dyn FnOnce() -> Option<BoxFuture<'static, ()>> + Send>;

/// Has `start` called when the operation being polled waits, or at once
/// outside an operation; `delay` later when that is not zero.
fn schedule(delay: Duration, start: Starter) {
    let start = CURRENT.with(|current| match &*current.borrow() {
        Some(queue) => {
            lock(&queue.batches).push((delay, start));
            None
        }
        None => Some(start),
    });
    if let Some(start) = start {
        go(delay, start);
    }
}

fn go(delay: Duration, start: Starter) {
    if delay.is_zero() {
        if let Some(load) = start() {
            tokio::spawn(load);
        }
        return;
    }
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        if let Some(load) = start() {
            load.await;
        }
    });
}

thread_local! {
    /// The queue of the operation being polled on this thread.
    static CURRENT: RefCell<Option<Arc<Queue>>> = const { RefCell::new(None) };
}

/// The batches opened while an operation was polled, to start when it
/// waits.
#[derive(Default)]
struct Queue {
    batches: Mutex<Vec<(Duration, Starter)>>,
}

impl Queue {
    fn start(&self) {
        for (delay, start) in mem::take(&mut *lock(&self.batches)) {
            go(delay, start);
        }
    }
}

/// Whether the operation was woken since its last poll began, and the task
/// to wake for it.
#[derive(Default)]
struct Wakeup {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Wakeup {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// `operation` (a future or a stream), its loads batched as above.
pub fn settled<T>(operation: T) -> Settled<T> {
    let wakeup = Arc::new(Wakeup::default());
    Settled {
        operation: Box::pin(operation),
        queue: Arc::default(),
        waker: Waker::from(wakeup.clone()),
        wakeup,
    }
}

pub struct Settled<T> {
    operation: Pin<Box<T>>,
    queue: Arc<Queue>,
    wakeup: Arc<Wakeup>,
    waker: Waker,
}

impl<T> Settled<T> {
    /// Polls the operation through `poll`, with this operation's queue
    /// current, and starts the queued loads if it is left waiting on them.
    fn step<R>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(Pin<&mut T>, &mut Context<'_>) -> Poll<R>,
    ) -> Poll<R> {
        self.wakeup.task.register(cx.waker());
        self.wakeup.woken.store(false, Ordering::Release);
        let outer = CURRENT.with(|current| current.replace(Some(self.queue.clone())));
        let polled = poll(
            self.operation.as_mut(),
            &mut Context::from_waker(&self.waker),
        );
        CURRENT.with(|current| *current.borrow_mut() = outer);
        // Woken while polled (a list yielding to be fair, a load that just
        // finished), the operation has more to do before it waits: the
        // wake has already scheduled the next poll, and the batch grows.
        if polled.is_pending() && !self.wakeup.woken.load(Ordering::Acquire) {
            self.queue.start();
        }
        polled
    }
}

impl<F: Future> Future for Settled<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.step(cx, |operation, cx| operation.poll(cx))
    }
}

impl<S: Stream> Stream for Settled<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        self.step(cx, |operation, cx| operation.poll_next(cx))
    }
}

impl<T> Drop for Settled<T> {
    /// A batch queued here may hold keys of other operations (shared
    /// loaders), which wait on it: it still goes out.
    fn drop(&mut self) {
        if tokio::runtime::Handle::try_current().is_ok() {
            self.queue.start();
        }
    }
}
