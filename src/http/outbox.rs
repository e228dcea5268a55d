//! The bounded queue between a connection's subscriptions and its socket.
//!
//! Subscriptions never wait for a client: they hand each message to the
//! queue and go back to the event bus. A writer drains the queue into the
//! socket. When a client stops reading, its socket fills, the writer stalls,
//! the queue fills, and the next message marks the connection stalled so it
//! can be dropped; a stalled reader therefore holds at most `capacity`
//! messages and never slows anyone else down.

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use axum::extract::ws::{Message, WebSocket};
use futures_util::{Sink, SinkExt, stream::SplitSink};
use tokio::sync::mpsc::{self, error::TrySendError};

/// Where messages for one connection are put. Cloning gives another handle
/// on the same queue.
#[derive(Clone)]
pub struct Outbox {
    sender: mpsc::Sender<Message>,
    stalled: Arc<AtomicBool>,
}

/// The reading end, owned by the connection's writer.
pub struct Queue(mpsc::Receiver<Message>);

pub fn channel(capacity: usize) -> (Outbox, Queue) {
    let (sender, receiver) = mpsc::channel(capacity.max(1));
    let outbox = Outbox {
        sender,
        stalled: Arc::new(AtomicBool::new(false)),
    };
    (outbox, Queue(receiver))
}

/// The queue was full: the client has stopped reading.
#[derive(Debug, thiserror::Error)]
#[error("the subscriber is not reading its messages")]
pub struct Stalled;

impl Outbox {
    /// Queues `message` without waiting.
    pub fn offer(&self, message: Message) -> Result<(), Stalled> {
        match self.sender.try_send(message) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.stalled.store(true, Ordering::Relaxed);
                Err(Stalled)
            }
            // The writer is gone, so the connection is ending anyway.
            Err(TrySendError::Closed(_)) => Err(Stalled),
        }
    }

    /// Whether a message was refused because the queue was full.
    pub fn stalled(&self) -> bool {
        self.stalled.load(Ordering::Relaxed)
    }
}

/// Lets async-graphql's protocol handler write into the queue as if it were
/// the socket; a full queue fails the send, which ends the session.
impl Sink<Message> for Outbox {
    type Error = Stalled;

    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Stalled>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Stalled> {
        self.offer(message)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Stalled>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Stalled>> {
        Poll::Ready(Ok(()))
    }
}

type Socket = SplitSink<WebSocket, Message>;

impl Queue {
    /// Writes messages to `socket` as they come, batching whatever is already
    /// queued into one flush. Returns when the socket fails.
    pub async fn forward(&mut self, socket: &mut Socket) {
        while let Some(message) = self.0.recv().await {
            if socket.feed(message).await.is_err() || self.write_queued(socket).await.is_err() {
                return;
            }
        }
    }

    /// Writes what is queued now, then flushes.
    pub async fn write_queued(&mut self, socket: &mut Socket) -> Result<(), axum::Error> {
        while let Ok(message) = self.0.try_recv() {
            socket.feed(message).await?;
        }
        socket.flush().await
    }
}
