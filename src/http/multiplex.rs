//! Identical subscriptions share one execution, and one serialization.
//!
//! A subscription's results depend only on its document, variables and
//! viewer, so subscribers who agree on all three (a thousand anonymous
//! readers of one article, say) are served by one running subscription. Each
//! result is serialized once and its bytes are framed for every member and
//! put straight into their connection's queue, so an event costs one load,
//! one resolution and one serialization however many subscribers watch.
//! Queries and mutations sent over the socket run on their own.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
};

use async_graphql::{
    Data, Executor, Request, Response, futures_util::stream::BoxStream, http::WebSocketProtocols,
    parser::types::OperationType,
};
use axum::extract::ws::Message;
use futures_util::{StreamExt, future::ready, stream};
use sea_orm::DatabaseConnection;
use tokio::{sync::Notify, task::AbortHandle, time::Duration};

use super::{auth::Authority, outbox::Outbox};
use crate::graphql::{Caller, Engine, PublicLoaders, operation_type};
use crate::locks::lock;
use crate::metrics::Metrics;
use crate::policy::Viewer;

/// What makes two subscriptions the same.
#[derive(Clone, PartialEq, Eq, Hash)]
struct GroupKey {
    query: String,
    operation_name: Option<String>,
    variables: String,
    viewer: Option<Viewer>,
}

type Groups = Arc<Mutex<HashMap<GroupKey, Arc<Group>>>>;

/// One running subscription and the subscribers it serves.
struct Group {
    members: Mutex<HashMap<u64, Member>>,
    next_member: AtomicU64,
    /// Set (under the groups lock, as the group leaves the map) when the
    /// subscription has ended.
    ended: AtomicBool,
    ending: Notify,
    task: Mutex<Option<AbortHandle>>,
}

/// Where one subscriber's copies go.
struct Member {
    outbox: Outbox,
    /// The start of this member's frame, up to the payload.
    prefix: String,
    /// Whether anything has been delivered to it.
    heard: Arc<AtomicBool>,
}

/// The running subscriptions of this process, by what they compute, and
/// the loaders they all batch through.
#[derive(Clone)]
pub struct SharedSubscriptions {
    groups: Groups,
    loaders: Arc<PublicLoaders>,
    metrics: Metrics,
    max_response_bytes: usize,
}

impl SharedSubscriptions {
    pub fn new(
        db: DatabaseConnection,
        loader_delay: Duration,
        metrics: Metrics,
        max_response_bytes: usize,
    ) -> Self {
        Self {
            groups: Groups::default(),
            loaders: Arc::new(PublicLoaders::new(db, loader_delay)),
            metrics,
            max_response_bytes,
        }
    }

    /// How many subscriptions run, and how many subscribers they serve.
    pub fn counts(&self) -> (usize, usize) {
        let groups = lock(&self.groups);
        let subscribers = groups
            .values()
            .map(|group| lock(&group.members).len())
            .sum();
        (groups.len(), subscribers)
    }

    /// Viewer-independent loaders shared by every subscriber.
    pub fn loaders(&self) -> Arc<PublicLoaders> {
        self.loaders.clone()
    }

    /// The executor for one connection: its viewer, its protocol, the queue
    /// its messages go to, and the id of the `subscribe` message being
    /// handled (async-graphql does not pass it to executors).
    pub fn executor(&self, connection: Connection) -> SharingExecutor {
        SharingExecutor {
            groups: self.groups.clone(),
            connection: Arc::new(connection),
            metrics: self.metrics.clone(),
            max_response_bytes: self.max_response_bytes,
        }
    }
}

/// What the executor knows about the connection it serves.
pub struct Connection {
    pub engine: Engine,
    /// Who is connected: subscriptions are shared only between the same
    /// viewer's identical operations.
    pub caller: Caller,
    /// The credential the caller connected with, checked again for every
    /// operation it starts.
    pub authority: Arc<Authority>,
    pub protocol: WebSocketProtocols,
    pub outbox: Outbox,
    /// The id of the operation message async-graphql is handling.
    pub operation_id: Arc<Mutex<Option<String>>>,
    /// How many operations the connection has running, and how many it
    /// may: each running subscription is work on every event, however
    /// its cost was charged when it started.
    pub running: Arc<AtomicUsize>,
    pub max_running: usize,
}

/// One of a connection's running operations, until its stream is dropped.
struct Running(Arc<AtomicUsize>);

impl Running {
    fn start(connection: &Connection) -> Option<Self> {
        let counter = &connection.running;
        let admitted = counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |running| {
                (running < connection.max_running).then_some(running + 1)
            })
            .is_ok();
        admitted.then(|| Self(counter.clone()))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs a connection's operations, joining subscriptions to an identical
/// running one when there is one.
#[derive(Clone)]
pub struct SharingExecutor {
    groups: Groups,
    connection: Arc<Connection>,
    metrics: Metrics,
    max_response_bytes: usize,
}

impl Executor for SharingExecutor {
    async fn execute(&self, request: Request) -> Response {
        self.connection
            .engine
            .execute(request, self.connection.caller)
            .await
    }

    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let session_data = session_data.unwrap_or_default();
        let engine = &self.connection.engine;
        let attached = engine.attach(&mut request);
        let id = lock(&self.connection.operation_id).take();
        if let Err(refusal) = attached {
            return stream::once(ready(Response::from_errors(vec![refusal]))).boxed();
        }
        let Some(running) = Running::start(&self.connection) else {
            let refusal = crate::graphql::errors::coded(
                format!(
                    "a connection may run at most {} operations at once",
                    self.connection.max_running
                ),
                crate::graphql::errors::RATE_LIMITED,
            );
            return stream::once(ready(Response::from_errors(vec![refusal]))).boxed();
        };
        let executor = self.clone();
        let authority = self.connection.authority.clone();
        // Boxed: the check (a database read) is large, and a stream of one
        // keeps the space of its future for as long as the subscription
        // runs; a box is freed once the check is done.
        stream::once(Box::pin(async move {
            match authority.holds().await {
                Ok(true) => executor.run(request, session_data, id),
                Ok(false) => {
                    // This operation hears why, then the socket closes
                    // (4403) once that answer is queued.
                    let refusal = crate::graphql::errors::coded(
                        "the credential of this connection no longer holds",
                        crate::graphql::errors::UNAUTHENTICATED,
                    );
                    stream::once(ready(Response::from_errors(vec![refusal])))
                        .chain(
                            stream::once(async move { authority.revoke() })
                                .filter_map(|()| ready(None)),
                        )
                        .boxed()
                }
                Err(err) => {
                    let refusal = crate::graphql::errors::coded(
                        err.to_string(),
                        crate::graphql::errors::SERVICE_UNAVAILABLE,
                    );
                    stream::once(ready(Response::from_errors(vec![refusal]))).boxed()
                }
            }
        }))
        .flatten()
        .map(move |response| {
            let _running = &running;
            response
        })
        .boxed()
    }
}

impl SharingExecutor {
    fn run(
        &self,
        mut request: Request,
        session_data: Arc<Data>,
        id: Option<String>,
    ) -> BoxStream<'static, Response> {
        let engine = self.connection.engine.clone();
        let caller = self.connection.caller;
        let subscription = operation_type(&mut request) == Some(OperationType::Subscription);
        let (Some(id), true) = (id, subscription) else {
            return engine.execute_stream(request, session_data, caller);
        };
        let key = GroupKey {
            query: request.query.clone(),
            operation_name: request.operation_name.clone(),
            variables: serde_json::to_string(&request.variables).unwrap_or_default(),
            viewer: self.connection.caller.viewer,
        };
        let kind = match self.connection.protocol {
            WebSocketProtocols::GraphQLWS => "next",
            WebSocketProtocols::SubscriptionsTransportWS => "data",
        };
        let heard = Arc::new(AtomicBool::new(false));
        let member = Member {
            outbox: self.connection.outbox.clone(),
            prefix: format!(
                r#"{{"type":"{kind}","id":{},"payload":"#,
                serde_json::Value::from(id)
            ),
            heard: heard.clone(),
        };
        let (membership, mut request) = self.join(key, request, session_data.clone(), member);
        // Results reach the member through its queue; to async-graphql the
        // member's stream is silent until the group ends, and then ends
        // (which sends `complete`). A member that joined just as its group
        // ended (say, with an error for a subscription it may not make)
        // heard nothing: it runs its own so it still gets that answer.
        stream::once(async move {
            let group = membership.group.clone();
            let ending = group.ending.notified();
            if !group.ended.load(Ordering::Acquire) {
                ending.await;
            }
            drop(membership);
        })
        .flat_map(move |()| match request.take() {
            Some(request) if !heard.load(Ordering::Acquire) => {
                engine.execute_stream(request, session_data.clone(), caller)
            }
            _ => stream::empty().boxed(),
        })
        .boxed()
    }
}

/// A member's place in a group; leaving it (when async-graphql drops the
/// member's stream on `complete` or disconnect) removes the member, and the
/// last one out stops the subscription.
struct Membership {
    group: Arc<Group>,
    id: u64,
    groups: Groups,
    key: GroupKey,
}

impl Drop for Membership {
    fn drop(&mut self) {
        let empty = {
            let mut members = lock(&self.group.members);
            members.remove(&self.id);
            members.is_empty()
        };
        if !empty {
            return;
        }
        // Lock order everywhere: groups, then members.
        let mut groups = lock(&self.groups);
        if lock(&self.group.members).is_empty()
            && retire(&mut groups, &self.key, &self.group)
            && let Some(task) = lock(&self.group.task).take()
        {
            task.abort();
        }
    }
}

impl SharingExecutor {
    /// Adds `member` to the group for `key`, starting the group with
    /// `request` if there is none. Returns the membership, and the request
    /// when it was not needed to start the group.
    fn join(
        &self,
        key: GroupKey,
        request: Request,
        session_data: Arc<Data>,
        member: Member,
    ) -> (Membership, Option<Request>) {
        let mut groups = lock(&self.groups);
        let (group, request) = match groups.get(&key) {
            Some(group) => (group.clone(), Some(request)),
            None => {
                let group = Arc::new(Group {
                    members: Mutex::default(),
                    next_member: AtomicU64::new(0),
                    ended: AtomicBool::new(false),
                    ending: Notify::new(),
                    task: Mutex::default(),
                });
                groups.insert(key.clone(), group.clone());
                let results = self.connection.engine.execute_stream(
                    request,
                    session_data,
                    self.connection.caller,
                );
                let task = tokio::spawn(run_group(
                    results,
                    group.clone(),
                    self.groups.clone(),
                    key.clone(),
                    (self.metrics.clone(), self.max_response_bytes),
                ));
                *lock(&group.task) = Some(task.abort_handle());
                (group, None)
            }
        };
        let id = group.next_member.fetch_add(1, Ordering::Relaxed);
        lock(&group.members).insert(id, member);
        drop(groups);
        let membership = Membership {
            group,
            id,
            groups: self.groups.clone(),
            key,
        };
        (membership, request)
    }
}

/// Delivers a group's results to its members until the subscription ends.
async fn run_group(
    mut results: BoxStream<'static, Response>,
    group: Arc<Group>,
    groups: Groups,
    key: GroupKey,
    (metrics, max_response_bytes): (Metrics, usize),
) {
    while let Some(response) = results.next().await {
        let payload = match serde_json::to_string(&response) {
            Ok(payload) if payload.len() > max_response_bytes => {
                let refusal = Response::from_errors(vec![crate::graphql::errors::too_large(
                    payload.len(),
                    max_response_bytes,
                )]);
                serde_json::to_string(&refusal).unwrap_or_default()
            }
            Ok(payload) => payload,
            Err(err) => {
                tracing::error!(error = %err, "serialising a subscription result failed");
                continue;
            }
        };
        for member in lock(&group.members).values() {
            let mut frame = String::with_capacity(member.prefix.len() + payload.len() + 1);
            frame.push_str(&member.prefix);
            frame.push_str(&payload);
            frame.push('}');
            member.heard.store(true, Ordering::Release);
            // A full queue marks that connection stalled; it is closed
            // by its own task, never waited for here.
            let delivered = member.outbox.offer(Message::Text(frame.into())).is_ok();
            metrics.subscription_message(delivered);
        }
    }
    retire(&mut lock(&groups), &key, &group);
    group.ending.notify_waiters();
}

/// Takes `group` out of the running ones, if it is still the one running
/// under `key` (a new group may have replaced it), and marks it ended, so no
/// one joins it any more. Returns whether it was still running.
fn retire(groups: &mut HashMap<GroupKey, Arc<Group>>, key: &GroupKey, group: &Arc<Group>) -> bool {
    let current = groups
        .get(key)
        .is_some_and(|running| Arc::ptr_eq(running, group));
    if current {
        groups.remove(key);
    }
    group.ended.store(true, Ordering::Release);
    current
}
