//! Accepting connections, with the bounds a public server needs (nginx and
//! Node have the same three): a request head must arrive within
//! `header_timeout` and fit in `max_header_bytes`, a keep-alive connection
//! that sends nothing after its last response is closed after
//! `keep_alive_timeout`, and at most `max_connections` are open at once
//! (WebSockets included). A connection past the limit is answered `503`
//! and closed at once, so the process never runs out of file descriptors
//! and keeps serving the connections it has.

use std::{
    net::SocketAddr,
    pin::pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, extract::ConnectInfo};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{Notify, OwnedSemaphorePermit, Semaphore},
    time::Instant,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt as _;

use crate::locks::lock;

/// The bounds on connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub max_header_bytes: usize,
}

/// hyper reads a request head into a buffer of at most this many bytes
/// and cannot be given less.
const MIN_HEAD_BUFFER: usize = 8 * 1024;

/// What a connection past the limit is told before it is closed.
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n";

/// Serves `router` on `listener` until `stopping` is cancelled, then lets
/// every connection finish the request it is on and waits for them.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stopping: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes.max(MIN_HEAD_BUFFER));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    let builder = Arc::new(builder);
    let connections = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors or memory: wait for some to
                    // free up rather than spin on a listener that fails.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stopping.cancelled() => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            shed(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(connection(
            stream,
            slot,
            peer,
            router.clone(),
            builder.clone(),
            (limits.header_timeout, limits.keep_alive_timeout),
            stopping.clone(),
        ));
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// Refuses a connection over the limit without waiting on it.
fn shed(stream: TcpStream) {
    let _ = stream.try_write(OVER_CAPACITY);
    tracing::debug!("refused a connection over FOLIO_MAX_CONNECTIONS");
}

/// A connection's stream and its place under the limit, which it keeps
/// after an upgrade to WebSocket, for as long as the socket is open.
struct Held {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
}

impl tokio::io::AsyncRead for Held {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Held {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Whether a connection is between requests, and since when.
struct Activity {
    in_flight: AtomicUsize,
    /// When the last response was handed over with none left in flight,
    /// or the connection was accepted.
    idle_since: Mutex<Instant>,
    /// Whether a response has been handed over yet: before the first,
    /// the header timeout applies (hyper's own starts only once it knows
    /// the HTTP version, which a client sending nothing never tells it).
    served: AtomicBool,
    /// Wakes the idle watch when a response is handed over.
    changed: Notify,
}

/// Marks a request in flight until it is dropped with its response.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            *lock(&self.0.idle_since) = Instant::now();
            self.0.served.store(true, Ordering::Release);
            self.0.changed.notify_one();
        }
    }
}

async fn connection(
    stream: TcpStream,
    slot: OwnedSemaphorePermit,
    peer: SocketAddr,
    router: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    timeouts: (Duration, Duration),
    stopping: CancellationToken,
) {
    let activity = Arc::new(Activity {
        in_flight: AtomicUsize::new(0),
        idle_since: Mutex::new(Instant::now()),
        served: AtomicBool::new(false),
        changed: Notify::new(),
    });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let in_flight = InFlight::start(&activity);
            let router = router.clone();
            async move {
                let response = router.oneshot(request).await;
                drop(in_flight);
                response
            }
        })
    };
    let io = TokioIo::new(Held {
        stream,
        _slot: slot,
    });
    let mut served = pin!(builder.serve_connection_with_upgrades(io, service));
    let closing = async {
        tokio::select! {
            () = stopping.cancelled() => {},
            () = idle_for(&activity, timeouts) => {},
        }
    };
    tokio::select! {
        _ = served.as_mut() => return,
        () = closing => {},
    }
    // Stop taking requests; the one in flight, if any, still finishes.
    served.as_mut().graceful_shutdown();
    let _ = served.await;
}

/// Completes once the connection has waited for a request too long: the
/// header timeout for its first, the keep-alive timeout after that.
async fn idle_for(activity: &Activity, (header, keep_alive): (Duration, Duration)) {
    loop {
        let timeout = if activity.served.load(Ordering::Acquire) {
            keep_alive
        } else {
            header
        };
        let deadline = *lock(&activity.idle_since) + timeout;
        let busy = activity.in_flight.load(Ordering::Acquire) > 0;
        if !busy && deadline <= Instant::now() {
            return;
        }
        // A request in flight waits for its response; an idle connection
        // for its deadline, or for a response that moves it.
        tokio::select! {
            () = activity.changed.notified() => {},
            () = tokio::time::sleep_until(deadline), if !busy => {},
        }
    }
}
