//! GraphQL subscriptions over WebSocket, in either protocol a client asks
//! for: `graphql-transport-ws` (the graphql-ws library) or the legacy
//! `graphql-ws` (subscriptions-transport-ws).

use std::{net::SocketAddr, time::Duration};

use async_graphql::{Data, http::ALL_WEBSOCKET_PROTOCOLS};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    extract::{ConnectInfo, State, WebSocketUpgrade},
    response::Response,
};

use crate::{app::HttpState, graphql::RequestData, http::auth};

/// How often the server pings an idle connection.
const KEEPALIVE: Duration = Duration::from_secs(15);

pub async fn handle(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let HttpState { app, schema, .. } = state;
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            GraphQLWebSocket::new(socket, schema, protocol)
                // `connection_init` may carry `{ "authorization": "Bearer …" }`;
                // a bad credential refuses the connection (4403).
                .on_connection_init(move |payload| async move {
                    let authorization = payload
                        .get("authorization")
                        .or_else(|| payload.get("Authorization"))
                        .and_then(|value| value.as_str());
                    let viewer = match authorization {
                        Some(value) => Some(
                            auth::viewer_from_bearer(&app, value)
                                .await
                                .map_err(|err| async_graphql::Error::new(err.to_string()))?,
                        ),
                        None => None,
                    };
                    let mut data = Data::default();
                    data.insert(RequestData::new(&app, viewer, Some(peer.ip())));
                    Ok(data)
                })
                .keepalive_timeout(KEEPALIVE)
                .serve()
        })
}
