//! GraphQL subscriptions over WebSocket, in either protocol a client asks
//! for: `graphql-transport-ws` (the graphql-ws library) or the legacy
//! `graphql-ws` (subscriptions-transport-ws).

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use std::future::ready;

use async_graphql::{Data, http::WebSocketProtocols};
use async_graphql_axum::{GraphQLBatchRequest, GraphQLProtocol, GraphQLWebSocket};
use axum::{
    extract::{
        ConnectInfo, FromRequest, FromRequestParts, Request, State, WebSocketUpgrade,
        ws::{Message, WebSocket},
    },
    http::{HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::{
    SinkExt, StreamExt,
    stream::{self, SplitStream},
};
use serde_json::json;

use crate::locks::lock;
use crate::{
    app::HttpState,
    graphql::{Caller, RequestData},
    http::{
        auth::{self, AuthError, Authority, Lost},
        multiplex::Connection,
        outbox::{self, Closing, Outbox, Writer, close},
        ws_messages::Rules,
    },
};

/// `GET /graphql`: a WebSocket upgrade starts subscriptions, anything else is
/// a GraphQL-over-HTTP query.
pub async fn get_or_upgrade(
    State(state): State<Arc<HttpState>>,
    connect_info: ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let upgrading = request
        .headers()
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
    if !upgrading {
        let headers = request.headers().clone();
        let graphql = GraphQLBatchRequest::from_request(request, &state).await;
        return super::graphql::handle(State(state), connect_info, Method::GET, headers, graphql)
            .await;
    }
    let (mut parts, _) = request.into_parts();
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &state).await {
        Ok(protocol) => protocol,
        Err(rejection) => return rejection.into_response(),
    };
    let headers = parts.headers.clone();
    match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => handle(State(state), connect_info, headers, protocol, upgrade).await,
        Err(rejection) => rejection.into_response(),
    }
}

pub async fn handle(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(kind) = requested_protocol(&headers) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let lifecycle = state.lifecycle.clone();
    upgrade
        .protocols([kind.sec_websocket_protocol()])
        // Most subscription traffic is small; the default 128 KiB read
        // buffer per connection would dominate memory at 10k subscribers.
        .read_buffer_size(READ_BUFFER)
        // A message is a request: it may be as large as a request body,
        // and no larger, before `connection_init` as after it.
        .max_message_size(state.max_body_bytes)
        .max_frame_size(state.max_body_bytes)
        .on_upgrade(move |socket| {
            lifecycle
                .connections
                .track_future(serve(socket, state, protocol, kind, peer))
        })
}

/// The first protocol in the client's list that Folio speaks: the same
/// choice async-graphql's `GraphQLProtocol` makes, so both sides agree.
fn requested_protocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)?
        .to_str()
        .ok()?
        .split(',')
        .find_map(|protocol| protocol.trim().parse().ok())
}

const READ_BUFFER: usize = 4 * 1024;

/// Why a connection ended.
enum Ending {
    /// The session finished (the client closed, or the protocol ended it).
    Finished,
    /// Writing to the socket failed: the client is gone.
    Disconnected,
    /// The client stopped reading and its queue filled.
    Stalled,
    /// The server is shutting down.
    ShuttingDown,
    /// The client sent nothing, not even a pong, for three keep-alives.
    Idle,
    /// The credential it was opened with no longer holds.
    Lost(Lost),
}

/// Runs one connection. The handshake is checked here rather than in
/// async-graphql so the client gets the protocol's close codes: 4408 when
/// `connection_init` does not come in time, 4401 when something else comes
/// first, 4403 for a bad credential. After it, async-graphql speaks the
/// protocol while this function owns the socket's writing side.
async fn serve(
    socket: WebSocket,
    http: Arc<HttpState>,
    protocol: GraphQLProtocol,
    kind: WebSocketProtocols,
    peer: SocketAddr,
) {
    let HttpState {
        app,
        engine,
        websocket: settings,
        lifecycle,
        subscriptions,
        ..
    } = HttpState::clone(&http);
    let (mut sink, mut stream) = socket.split();
    let init_timeout = Duration::from_secs(settings.ws_init_timeout);
    let first = match tokio::time::timeout(init_timeout, next_text(&mut stream)).await {
        Ok(Some(text)) => text,
        Ok(None) => return,
        Err(_) => return close(&mut sink, 4408, "Connection initialisation timeout").await,
    };
    let init: serde_json::Value = serde_json::from_str(&first).unwrap_or_default();
    if init["type"] != "connection_init" {
        return close(&mut sink, 4401, "Unauthorized").await;
    }
    let authorization = ["authorization", "Authorization"]
        .iter()
        .find_map(|key| init["payload"][key].as_str());
    let credential = match authorization {
        None => None,
        Some(value) => match auth::viewer_from_bearer(&app, value).await {
            Ok(credential) => Some(credential),
            Err(AuthError::Internal) => {
                return close(&mut sink, 1011, "Internal server error").await;
            }
            // "Try Again Later": the client may reconnect.
            Err(AuthError::Unavailable) => {
                return close(&mut sink, 1013, "Database unavailable").await;
            }
            Err(_) => {
                let refusal = json!({ "type": "connection_error",
                    "payload": { "message": "Forbidden" } });
                // subscriptions-transport-ws clients expect the error message
                // before the close; graphql-ws clients read the code.
                let _ = sink.send(Message::Text(refusal.to_string().into())).await;
                return close(&mut sink, 4403, "Forbidden").await;
            }
        },
    };
    let caller = Caller {
        viewer: credential.map(|credential| credential.viewer),
        session: credential.map(|credential| credential.session_id),
        client: Some(peer.ip()),
    };
    let authority = Arc::new(Authority::new(app.clone(), credential));
    let mut data = Data::default();
    data.insert(RequestData::sharing(subscriptions.loaders(), caller));
    let keepalive = Duration::from_secs(settings.ws_keepalive.max(1));
    let (outbox, queue) = outbox::channel(settings.ws_buffer);
    let operation_id = Arc::new(Mutex::new(None));
    let executor = subscriptions.executor(Connection {
        engine,
        caller,
        authority: authority.clone(),
        protocol: kind,
        outbox: outbox.clone(),
        operation_id: operation_id.clone(),
        running: Arc::default(),
        max_running: settings.ws_max_operations,
    });
    // async-graphql still answers the `connection_init` it is replayed. It
    // handles each message as soon as it reads it, so noting the id of each
    // `subscribe` here tells the executor which operation it is running.
    let heard = Arc::new(Mutex::new(Instant::now()));
    let last_heard = heard.clone();
    // A message the protocol refuses ends what async-graphql reads, and
    // with it the session, which then closes with the refusal.
    let rules = Arc::new(Rules::new(kind));
    let checking = rules.clone();
    let replayed = stream::once(ready(Ok(Message::Text(first.into()))))
        .chain(stream)
        .inspect(move |_| *lock(&last_heard) = Instant::now())
        .take_while(move |message| {
            ready(match message {
                Ok(Message::Text(text)) => checking.admit(text),
                _ => true,
            })
        })
        .inspect(move |message| {
            if let Ok(Message::Text(text)) = message
                && let Some(id) = operation_id_of(text)
            {
                *lock(&operation_id) = Some(id);
            }
        });
    let max_response_bytes = http.max_response_bytes;
    let sent = rules.clone();
    let protocol_sink = outbox.clone().with(move |message| {
        if let Message::Text(text) = &message {
            sent.sent(text);
        }
        let message = bounded(protocol_close(kind, message), max_response_bytes);
        ready(Ok::<_, outbox::Stalled>(message))
    });
    let session = GraphQLWebSocket::new_with_pair(protocol_sink, replayed, executor, protocol)
        .with_data(data)
        .serve();
    let mut writer = Writer::spawn(sink, queue);
    let ending = tokio::select! {
        () = session => if outbox.stalled() { Ending::Stalled } else { Ending::Finished },
        () = writer.failed() => Ending::Disconnected,
        never = keep_alive(&outbox, kind, keepalive) => match never {},
        () = outbox.until_stalled() => Ending::Stalled,
        () = lifecycle.stopping.cancelled() => Ending::ShuttingDown,
        () = silent_for(&heard, 3 * keepalive) => Ending::Idle,
        lost = authority.lost() => Ending::Lost(lost),
    };
    let closing = match ending {
        Ending::Finished => match rules.refusal() {
            Some((code, reason)) => Closing::Close(code, reason),
            None => Closing::Drain,
        },
        Ending::Disconnected => return,
        Ending::Stalled => {
            tracing::info!(%peer, "dropping a subscriber that stopped reading");
            Closing::Close(1013, "Subscriber too slow".into())
        }
        Ending::ShuttingDown => Closing::Close(1001, "Server shutting down".into()),
        Ending::Idle => Closing::Close(1001, "Idle timeout".into()),
        // graphql-ws's codes: 4401 tells the client to refresh its token,
        // 4403 that this authority is gone.
        Ending::Lost(Lost::Expired) => Closing::Conclude(4401, "Token expired".into()),
        Ending::Lost(Lost::Revoked) => Closing::Conclude(4403, "Forbidden".into()),
    };
    writer.finish(closing).await;
}

/// Completes once nothing has been heard from the client for `limit`. Both
/// protocols get the same idle limit: graphql-ws clients answer the
/// server's `ping` with `pong`, and every WebSocket client answers the
/// WebSocket-level ping sent beside the legacy `ka`, so a live client
/// always has something to show within three keep-alives.
async fn silent_for(heard: &Mutex<Instant>, limit: Duration) {
    loop {
        let deadline = *lock(heard) + limit;
        if deadline <= Instant::now() {
            return;
        }
        tokio::time::sleep_until(deadline.into()).await;
    }
}

/// Queues the protocol's keep-alive message every `interval`, so proxies
/// keep the connection open and dead peers are noticed. It never ends: a
/// refused message is a full queue, which `until_stalled` reports, or a
/// writer that is gone, which `failed` reports.
async fn keep_alive(
    outbox: &Outbox,
    kind: WebSocketProtocols,
    interval: Duration,
) -> std::convert::Infallible {
    let message = match kind {
        WebSocketProtocols::GraphQLWS => r#"{"type":"ping"}"#,
        WebSocketProtocols::SubscriptionsTransportWS => r#"{"type":"ka"}"#,
    };
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        ticks.tick().await;
        let _ = outbox.offer(Message::Text(message.into()));
        // The legacy protocol has no message a client answers; a
        // WebSocket ping it answers at the transport level.
        if kind == WebSocketProtocols::SubscriptionsTransportWS {
            let _ = outbox.offer(Message::Ping(Default::default()));
        }
    }
}

/// Fixes up async-graphql's close frames. It closes a graphql-transport-ws
/// connection whose message it cannot read with 1002 (a WebSocket protocol
/// error) where the subprotocol names 4400, which graphql-ws clients report
/// as an invalid message rather than a broken connection. And its reason is
/// the parse error, which can exceed the 123 bytes a close frame may carry
/// (clients then fail the connection with a protocol error of their own).
fn protocol_close(kind: WebSocketProtocols, message: Message) -> Message {
    const MAX_REASON: usize = 123;
    let Message::Close(Some(mut frame)) = message else {
        return message;
    };
    if kind == WebSocketProtocols::GraphQLWS && frame.code == 1002 {
        frame.code = 4400;
    }
    if frame.reason.len() > MAX_REASON {
        let mut end = MAX_REASON;
        while !frame.reason.is_char_boundary(end) {
            end -= 1;
        }
        frame.reason = frame.reason.as_str()[..end].to_owned().into();
    }
    Message::Close(Some(frame))
}

/// A message async-graphql wrote for an operation not shared with others
/// (shared results are bounded where they are serialized), with a result
/// over `limit` bytes replaced by the error saying so.
fn bounded(message: Message, limit: usize) -> Message {
    let Message::Text(text) = &message else {
        return message;
    };
    if text.len() <= limit {
        return message;
    }
    #[derive(serde::Deserialize)]
    struct Addressed {
        #[serde(rename = "type")]
        kind: String,
        id: Option<serde_json::Value>,
    }
    let Ok(addressed) = serde_json::from_str::<Addressed>(text) else {
        return message;
    };
    let refusal = async_graphql::Response::from_errors(vec![crate::graphql::errors::too_large(
        text.len(),
        limit,
    )]);
    let replaced = json!({ "type": addressed.kind, "id": addressed.id, "payload": refusal });
    Message::Text(replaced.to_string().into())
}

/// The id of a `subscribe` (or legacy `start`) message.
fn operation_id_of(text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Operation<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        id: String,
    }
    let operation: Operation = serde_json::from_str(text).ok()?;
    matches!(operation.kind, "subscribe" | "start").then_some(operation.id)
}

async fn next_text(stream: &mut SplitStream<WebSocket>) -> Option<String> {
    while let Some(Ok(message)) = stream.next().await {
        match message {
            Message::Text(text) => return Some(text.to_string()),
            Message::Close(_) => return None,
            _ => {}
        }
    }
    None
}
