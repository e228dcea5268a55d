//! Domain events for live updates, published after the write that caused
//! them has committed.
//!
//! Without Redis an in-process broadcast carries them to this instance's
//! subscribers. With Redis they are published once to a pub/sub channel that
//! every instance (this one included) listens on and rebroadcasts locally,
//! so an event reaches the subscribers of every instance exactly once.
//! While Redis is unreachable, an instance delivers its own events to its
//! own subscribers, and resubscribes to the channel once Redis is back;
//! subscriptions stay open throughout.

use std::{sync::Arc, time::Duration};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::{cache::RedisStore, metrics::Metrics};

/// What happened, by id: subscribers load what they may see themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Event {
    #[serde(rename_all = "camelCase")]
    CommentAdded { article_id: i64, comment_id: i64 },
    #[serde(rename_all = "camelCase")]
    ArticlePublished { article_id: i64, author_id: i64 },
    #[serde(rename_all = "camelCase")]
    FavoritesChanged { article_id: i64 },
    /// What a user may do changed (a logout, a new password or email, a
    /// new role): their open sockets check their authority again. Not a
    /// live update: it goes to `account_changes`, not to subscriptions.
    #[serde(rename_all = "camelCase")]
    AccountChanged { user_id: i64 },
}

impl Event {
    /// The event's name, as metrics label it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::CommentAdded { .. } => "commentAdded",
            Self::ArticlePublished { .. } => "articlePublished",
            Self::FavoritesChanged { .. } => "favoritesChanged",
            Self::AccountChanged { .. } => "accountChanged",
        }
    }

    /// The announcement that `article` was published.
    pub fn published(article: &crate::db::entities::article::Model) -> Self {
        Self::ArticlePublished {
            article_id: article.id,
            author_id: article.author_id,
        }
    }
}

/// How many events a local receiver may lag behind before it misses some.
const LOCAL_CAPACITY: usize = 4_096;

/// Where a received event goes in this process: live updates to
/// subscriptions, account changes to the sockets that watch them (so a
/// comment does not wake every socket, nor a logout every subscription).
#[derive(Clone)]
struct Local {
    events: broadcast::Sender<Arc<Event>>,
    accounts: broadcast::Sender<i64>,
}

impl Local {
    fn new() -> Self {
        Self {
            events: broadcast::channel(LOCAL_CAPACITY).0,
            accounts: broadcast::channel(LOCAL_CAPACITY).0,
        }
    }

    /// No receivers is not an error: nobody is listening yet.
    fn deliver(&self, event: Event) {
        match event {
            Event::AccountChanged { user_id } => {
                let _ = self.accounts.send(user_id);
            }
            event => {
                let _ = self.events.send(Arc::new(event));
            }
        }
    }

    fn receivers(&self) -> usize {
        self.events.receiver_count() + self.accounts.receiver_count()
    }
}

#[derive(Clone)]
pub struct EventBus {
    local: Local,
    redis: Option<(RedisStore, Arc<str>)>,
    metrics: Metrics,
}

impl EventBus {
    /// Events stay within this process.
    pub fn in_process(metrics: Metrics) -> Self {
        Self {
            local: Local::new(),
            redis: None,
            metrics,
        }
    }

    /// Events go through `channel` on Redis; a background task relays what
    /// arrives there to this process's subscribers, resubscribing after a
    /// lost connection.
    pub fn redis(client: redis::Client, publisher: RedisStore, metrics: Metrics) -> Self {
        let local = Local::new();
        let channel: Arc<str> = Arc::from(publisher.key("events"));
        tokio::spawn(relay(
            client,
            channel.clone(),
            local.clone(),
            metrics.clone(),
        ));
        Self {
            local,
            redis: Some((publisher, channel)),
            metrics,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.local.events.subscribe()
    }

    /// The ids of users whose authority changed, on any instance.
    pub fn account_changes(&self) -> broadcast::Receiver<i64> {
        self.local.accounts.subscribe()
    }

    /// Publishes `event`. Delivery is best effort: a failed publish is logged,
    /// never turned into an error for the write that already committed.
    pub async fn publish(&self, event: Event) {
        self.metrics.event_published(event.name());
        match &self.redis {
            None => self.local.deliver(event),
            Some((publisher, channel)) => {
                let payload = match serde_json::to_string(&event) {
                    Ok(payload) => payload,
                    Err(err) => {
                        tracing::error!(error = %err, "serialising an event failed");
                        return;
                    }
                };
                let published = publisher
                    .call::<i64>(
                        redis::cmd("PUBLISH")
                            .arg(channel.as_ref())
                            .arg(payload)
                            .query_async(&mut publisher.connection()),
                    )
                    .await;
                // While Redis is away this instance's subscribers still hear
                // of its own writes; other instances' subscribers miss them
                // (pub/sub keeps nothing), which the outage log and the
                // failure count record.
                if published.is_err() {
                    self.local.deliver(event);
                }
            }
        }
    }
}

/// Publishes `event` once on the Redis at `url`, to the channel of the
/// deployment whose keys start with `prefix`: for a process that serves
/// nothing (`folio user promote`), so the instances that do hear of it.
pub async fn publish_once(url: &str, prefix: &str, event: Event) -> redis::RedisResult<()> {
    let client = redis::Client::open(url)?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    let payload = serde_json::to_string(&event).map_err(|err| {
        redis::RedisError::from((
            redis::ErrorKind::Client,
            "serialising the event",
            err.to_string(),
        ))
    })?;
    redis::cmd("PUBLISH")
        .arg(format!("{prefix}events"))
        .arg(payload)
        .query_async::<i64>(&mut connection)
        .await?;
    Ok(())
}

async fn relay(client: redis::Client, channel: Arc<str>, local: Local, metrics: Metrics) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match listen(&client, &channel, &local, &metrics).await {
            Ok(()) => tracing::warn!("Redis event subscription ended; resubscribing"),
            Err(err) => tracing::warn!(error = %err, "Redis event subscription failed; retrying"),
        }
        if local.receivers() == 0 && Arc::strong_count(&channel) == 1 {
            // The bus is gone; nobody can publish or subscribe any more.
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn listen(
    client: &redis::Client,
    channel: &str,
    local: &Local,
    metrics: &Metrics,
) -> redis::RedisResult<()> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    let mut messages = pubsub.into_on_message();
    while let Some(message) = messages.next().await {
        let payload: String = message.get_payload()?;
        match serde_json::from_str::<Event>(&payload) {
            Ok(event) => {
                metrics.event_received();
                local.deliver(event);
            }
            Err(err) => tracing::warn!(error = %err, "ignoring a malformed event"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_process_events_reach_every_subscriber() {
        let bus = EventBus::in_process(Metrics::default());
        let mut first = bus.subscribe();
        let mut second = bus.subscribe();
        let event = Event::CommentAdded {
            article_id: 1,
            comment_id: 2,
        };
        bus.publish(event).await;
        assert_eq!(*first.recv().await.unwrap(), event);
        assert_eq!(*second.recv().await.unwrap(), event);
    }

    #[test]
    fn events_have_a_stable_wire_format() {
        let json = serde_json::to_string(&Event::FavoritesChanged { article_id: 3 }).unwrap();
        assert_eq!(json, r#"{"type":"favoritesChanged","articleId":3}"#);
    }
}
