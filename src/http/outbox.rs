//! The bounded queue between a connection's subscriptions and its socket.
//!
//! Subscriptions never wait for a client: they hand each message to the
//! queue and go back to the event bus. A writer drains the queue into the
//! socket. When a client stops reading, its socket fills, the writer stalls,
//! the queue fills, and the next message marks the connection stalled so it
//! can be dropped; a stalled reader therefore holds at most `capacity`
//! messages and never slows anyone else down.

use std::{
    borrow::Cow,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{Sink, SinkExt, stream::SplitSink};
use tokio::{
    sync::{
        Notify,
        mpsc::{self, error::TrySendError},
        oneshot,
    },
    task::JoinHandle,
    time::Duration,
};

/// Where messages for one connection are put. Cloning gives another handle
/// on the same queue.
#[derive(Clone)]
pub struct Outbox {
    sender: mpsc::Sender<Message>,
    stalled: Arc<Stall>,
}

#[derive(Default)]
struct Stall {
    happened: AtomicBool,
    noticed: Notify,
}

/// The reading end, owned by the connection's writer.
pub struct Queue(mpsc::Receiver<Message>);

pub fn channel(capacity: usize) -> (Outbox, Queue) {
    let (sender, receiver) = mpsc::channel(capacity.max(1));
    let outbox = Outbox {
        sender,
        stalled: Arc::default(),
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
                self.stalled.happened.store(true, Ordering::Release);
                self.stalled.noticed.notify_waiters();
                Err(Stalled)
            }
            // The writer is gone, so the connection is ending anyway.
            Err(TrySendError::Closed(_)) => Err(Stalled),
        }
    }

    /// Whether a message was refused because the queue was full.
    pub fn stalled(&self) -> bool {
        self.stalled.happened.load(Ordering::Acquire)
    }

    /// Completes once a message has been refused for a full queue, whoever
    /// offered it.
    pub async fn until_stalled(&self) {
        loop {
            let noticed = self.stalled.noticed.notified();
            if self.stalled() {
                return;
            }
            noticed.await;
        }
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

/// How long closing a connection may take before it is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How a connection's writer should end.
pub enum Closing {
    /// Write what is queued, then stop.
    Drain,
    /// Drop what is queued and send a close frame.
    Close(u16, Cow<'static, str>),
    /// Write what is queued (say, the error telling why), then send a
    /// close frame.
    Conclude(u16, Cow<'static, str>),
}

/// The task that drains a connection's queue into its socket. It runs on
/// its own so that delivering a message wakes nothing but the writer.
pub struct Writer {
    task: JoinHandle<()>,
    closing: oneshot::Sender<Closing>,
}

impl Writer {
    pub fn spawn(socket: Socket, queue: Queue) -> Self {
        let (closing, told) = oneshot::channel();
        Self {
            task: tokio::spawn(write(socket, queue, told)),
            closing,
        }
    }

    /// Completes if the socket fails (the client is gone). Once it has, the
    /// writer is finished: do not call [`Writer::finish`].
    pub async fn failed(&mut self) {
        let _ = (&mut self.task).await;
    }

    /// Ends the writer as `closing` says and waits for it.
    pub async fn finish(self, closing: Closing) {
        let _ = self.closing.send(closing);
        let _ = self.task.await;
    }
}

async fn write(mut socket: Socket, mut queue: Queue, told: oneshot::Receiver<Closing>) {
    let closing = tokio::select! {
        closing = told => closing,
        () = queue.forward(&mut socket) => return,
    };
    match closing {
        Ok(Closing::Drain) => {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, queue.write_queued(&mut socket)).await;
        }
        Ok(Closing::Close(code, reason)) => close(&mut socket, code, reason).await,
        Ok(Closing::Conclude(code, reason)) => {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, queue.write_queued(&mut socket)).await;
            close(&mut socket, code, reason).await;
        }
        Err(_) => {}
    }
}

/// Sends a close frame, giving up after [`CLOSE_TIMEOUT`] when the client
/// is not reading.
pub async fn close(socket: &mut Socket, code: u16, reason: impl Into<Cow<'static, str>>) {
    let reason: String = reason.into().into_owned();
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
}

impl Queue {
    /// Writes messages to `socket` as they come, batching whatever is already
    /// queued into one flush. Returns when the socket fails.
    async fn forward(&mut self, socket: &mut Socket) {
        while let Some(message) = self.0.recv().await {
            if socket.feed(message).await.is_err() || self.write_queued(socket).await.is_err() {
                return;
            }
        }
    }

    /// Writes what is queued now, then flushes.
    async fn write_queued(&mut self, socket: &mut Socket) -> Result<(), axum::Error> {
        while let Ok(message) = self.0.try_recv() {
            socket.feed(message).await?;
        }
        socket.flush().await
    }
}
