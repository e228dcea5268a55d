//! GraphQL subscriptions over WebSocket, in either protocol a client asks
//! for: `graphql-transport-ws` (the graphql-ws library) or the legacy
//! `graphql-ws` (subscriptions-transport-ws).

use std::{net::SocketAddr, time::Duration};

use async_graphql::{Data, http::ALL_WEBSOCKET_PROTOCOLS};
use async_graphql_axum::{GraphQLBatchRequest, GraphQLProtocol, GraphQLWebSocket};
use axum::{
    extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State, WebSocketUpgrade},
    http::{Method, header},
    response::{IntoResponse, Response},
};

use crate::{app::HttpState, graphql::RequestData, http::auth};

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
