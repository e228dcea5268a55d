//! Identical subscriptions share one execution.
//!
//! A subscription's results depend only on its document, variables and
//! viewer, so subscribers who agree on all three (a thousand anonymous
//! readers of one article, say) are served by one running subscription whose
//! results are copied to each of them, instead of each loading and resolving
//! every event again. Queries and mutations sent over the socket run on
//! their own, as do subscriptions nobody else shares.

use std::{
    collections::{HashMap, hash_map::Entry},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use async_graphql::{
    Data, Executor, Request, Response,
    futures_util::stream::BoxStream,
    parser::{
        parse_query,
        types::{DocumentOperations, OperationType},
    },
};
use futures_util::{StreamExt, stream};
use tokio::sync::broadcast::{self, error::RecvError};

use super::FolioSchema;
use crate::policy::Viewer;

/// How many results a member may fall behind its group before it skips some.
/// Members hand results to their connection's bounded queue without waiting,
/// so they only lag when the process itself is starved.
const GROUP_CAPACITY: usize = 256;

/// What makes two subscriptions the same.
#[derive(Clone, PartialEq, Eq, Hash)]
struct GroupKey {
    query: String,
    operation_name: Option<String>,
    variables: String,
    viewer: Option<Viewer>,
}

type Groups = Arc<Mutex<HashMap<GroupKey, broadcast::Sender<Arc<Response>>>>>;

/// The running subscriptions of this process, by what they compute.
#[derive(Clone, Default)]
pub struct SharedSubscriptions {
    groups: Groups,
}

impl SharedSubscriptions {
    /// The executor for one connection, whose viewer is `viewer`.
    pub fn executor(&self, schema: FolioSchema, viewer: Option<Viewer>) -> SharingExecutor {
        SharingExecutor {
            schema,
            groups: self.groups.clone(),
            viewer,
        }
    }

    /// How many distinct subscriptions are running.
    pub fn running(&self) -> usize {
        lock(&self.groups).len()
    }
}

/// Runs a connection's operations, joining subscriptions to an identical
/// running one when there is one.
#[derive(Clone)]
pub struct SharingExecutor {
    schema: FolioSchema,
    groups: Groups,
    viewer: Option<Viewer>,
}

impl Executor for SharingExecutor {
    async fn execute(&self, request: Request) -> Response {
        self.schema.execute(request).await
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let session_data = session_data.unwrap_or_default();
        if !is_subscription(&request) {
            return self
                .schema
                .execute_stream_with_session_data(request, session_data);
        }
        let key = GroupKey {
            query: request.query.clone(),
            operation_name: request.operation_name.clone(),
            variables: serde_json::to_string(&request.variables).unwrap_or_default(),
            viewer: self.viewer,
        };
        let (receiver, mut request) = self.join(key, request, session_data.clone());
        let schema = self.schema.clone();
        let shared = member(receiver);
        // A member that joined just as its group ended (say, with an error
        // for a subscription it may not make) hears nothing from it; it runs
        // its own so it still gets that answer.
        let heard = Arc::new(AtomicBool::new(false));
        let hearing = heard.clone();
        shared
            .inspect(move |_| hearing.store(true, Ordering::Relaxed))
            .chain(
                stream::once(async {}).flat_map(move |()| match request.take() {
                    Some(request) if !heard.load(Ordering::Relaxed) => {
                        schema.execute_stream_with_session_data(request, session_data.clone())
                    }
                    _ => stream::empty().boxed(),
                }),
            )
            .boxed()
    }
}

impl SharingExecutor {
    /// Joins the group for `key`, starting it with `request` if there is
    /// none. Returns the member's receiver, and the request when it was not
    /// needed to start the group.
    fn join(
        &self,
        key: GroupKey,
        request: Request,
        session_data: Arc<Data>,
    ) -> (broadcast::Receiver<Arc<Response>>, Option<Request>) {
        let mut groups = lock(&self.groups);
        match groups.entry(key) {
            Entry::Occupied(group) if group.get().receiver_count() > 0 => {
                (group.get().subscribe(), Some(request))
            }
            entry => {
                let (sender, receiver) = broadcast::channel(GROUP_CAPACITY);
                let key = entry.key().clone();
                match entry {
                    Entry::Occupied(mut stale) => {
                        stale.insert(sender.clone());
                    }
                    Entry::Vacant(vacant) => {
                        vacant.insert(sender.clone());
                    }
                }
                let results = self
                    .schema
                    .execute_stream_with_session_data(request, session_data);
                tokio::spawn(run_group(results, sender, self.groups.clone(), key));
                (receiver, None)
            }
        }
    }
}

/// Feeds a group's results to its members until the subscription ends or
/// the last member leaves.
async fn run_group(
    mut results: BoxStream<'static, Response>,
    sender: broadcast::Sender<Arc<Response>>,
    groups: Groups,
    key: GroupKey,
) {
    while let Some(response) = results.next().await {
        if sender.send(Arc::new(response)).is_err() {
            break;
        }
    }
    let mut groups = lock(&groups);
    if groups
        .get(&key)
        .is_some_and(|current| current.same_channel(&sender))
    {
        groups.remove(&key);
    }
}

/// A member's view of its group's results.
fn member(
    receiver: broadcast::Receiver<Arc<Response>>,
) -> impl futures_util::Stream<Item = Response> {
    stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(response) => return Some((duplicate(&response), receiver)),
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed,
                        "a subscriber fell behind its group and skipped results"
                    );
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}

/// A copy of `response` for one member (async-graphql's `Response` is not
/// `Clone`; HTTP headers do not apply to subscription results).
fn duplicate(response: &Response) -> Response {
    let mut copy = Response::new(response.data.clone());
    copy.errors = response.errors.clone();
    copy.extensions = response.extensions.clone();
    copy
}

/// Whether `request` runs a subscription. A document that does not parse is
/// not one: it runs alone and gets its error.
fn is_subscription(request: &Request) -> bool {
    let Ok(document) = parse_query(&request.query) else {
        return false;
    };
    let operation = match (&document.operations, request.operation_name.as_deref()) {
        (DocumentOperations::Single(operation), _) => Some(operation),
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()
        }
        (DocumentOperations::Multiple(_), None) => None,
    };
    operation.is_some_and(|operation| operation.node.ty == OperationType::Subscription)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this lock leaves the map consistent (every
    // operation on it is a single insert or remove).
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
