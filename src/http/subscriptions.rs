//! GraphQL subscriptions over WebSocket, in either protocol a client asks
//! for: `graphql-transport-ws` (the graphql-ws library) or the legacy
//! `graphql-ws` (subscriptions-transport-ws).

use std::{net::SocketAddr, time::Duration};

use std::future::ready;

use async_graphql::{Data, http::ALL_WEBSOCKET_PROTOCOLS};
use async_graphql_axum::{GraphQLBatchRequest, GraphQLProtocol, GraphQLWebSocket};
use axum::{
    extract::{
        ConnectInfo, FromRequest, FromRequestParts, Request, State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket},
    },
    http::{Method, header},
    response::{IntoResponse, Response},
};
use futures_util::{
    SinkExt, StreamExt,
    stream::{self, SplitSink, SplitStream},
};
use serde_json::json;

use crate::{
    app::{AppState, HttpState},
    graphql::{FolioSchema, RequestData},
    http::auth::{self, AuthError},
};

/// How often the server pings an idle connection.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// `GET /graphql`: a WebSocket upgrade starts subscriptions, anything else is
/// a GraphQL-over-HTTP query.
pub async fn get_or_upgrade(
    State(state): State<HttpState>,
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
    match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => handle(State(state), connect_info, protocol, upgrade).await,
        Err(rejection) => rejection.into_response(),
    }
}

pub async fn handle(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let HttpState { app, schema, .. } = state;
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve(socket, app, schema, protocol, peer))
}

/// How long a client may take to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs one connection. The handshake is checked here rather than in
/// async-graphql so the client gets the protocol's close codes: 4408 when
/// `connection_init` does not come in time, 4401 when something else comes
/// first, 4403 for a bad credential.
async fn serve(
    socket: WebSocket,
    app: AppState,
    schema: FolioSchema,
    protocol: GraphQLProtocol,
    peer: SocketAddr,
) {
    let (mut sink, mut stream) = socket.split();
    let first = match tokio::time::timeout(INIT_TIMEOUT, next_text(&mut stream)).await {
        Ok(Some(text)) => text,
        Ok(None) => return,
        Err(_) => return close(sink, 4408, "Connection initialisation timeout").await,
    };
    let init: serde_json::Value = serde_json::from_str(&first).unwrap_or_default();
    if init["type"] != "connection_init" {
        return close(sink, 4401, "Unauthorized").await;
    }
    let authorization = ["authorization", "Authorization"]
        .iter()
        .find_map(|key| init["payload"][key].as_str());
    let viewer = match authorization {
        None => None,
        Some(value) => match auth::viewer_from_bearer(&app, value).await {
            Ok(viewer) => Some(viewer),
            Err(AuthError::Internal) => return close(sink, 1011, "Internal server error").await,
            Err(_) => {
                let refusal = json!({ "type": "connection_error",
                    "payload": { "message": "Forbidden" } });
                // subscriptions-transport-ws clients expect the error message
                // before the close; graphql-ws clients read the code.
                let _ = sink.send(Message::Text(refusal.to_string().into())).await;
                return close(sink, 4403, "Forbidden").await;
            }
        },
    };
    let mut data = Data::default();
    data.insert(RequestData::new(&app, viewer, Some(peer.ip())));
    // async-graphql still answers the `connection_init` it is replayed.
    let replayed = stream::once(ready(Ok(Message::Text(first.into())))).chain(stream);
    GraphQLWebSocket::new_with_pair(sink, replayed, schema, protocol)
        .with_data(data)
        .keepalive_timeout(KEEPALIVE)
        .serve()
        .await;
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

async fn close(mut sink: SplitSink<WebSocket, Message>, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = sink.send(Message::Close(Some(frame))).await;
}
