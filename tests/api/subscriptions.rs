//! Subscriptions over real WebSocket connections, in both protocols.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

use crate::helpers::{Session, TestApp, data, spawn_app};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A subscriber speaking `protocol`, initialised with `token` if given.
async fn connect(app: &TestApp, protocol: &str, token: Option<&str>) -> Socket {
    connect_to(app, "/graphql/ws", protocol, token).await
}

async fn connect_to(app: &TestApp, path: &str, protocol: &str, token: Option<&str>) -> Socket {
    let url = app.url(path).replace("http://", "ws://");
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_str(protocol).unwrap(),
    );
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
    let payload = match token {
        Some(token) => json!({ "authorization": format!("Bearer {token}") }),
        None => json!({}),
    };
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await;
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// The next protocol message that is not a keep-alive.
async fn receive(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a message within 5 s")
            .expect("the connection is open")
            .unwrap();
        match message {
            Message::Text(text) => {
                let value: Value = serde_json::from_str(&text).unwrap();
                if !matches!(value["type"].as_str(), Some("ka" | "ping" | "pong")) {
                    return value;
                }
            }
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => {}
        }
    }
}

async fn subscribe(socket: &mut Socket, protocol: &str, query: &str, variables: Value) {
    let ack = receive(socket).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    let kind = if protocol == "graphql-ws" {
        "start"
    } else {
        "subscribe"
    };
    send(
        socket,
        json!({ "id": "1", "type": kind, "payload": { "query": query, "variables": variables } }),
    )
    .await;
    // Let the server register the subscription before the event happens.
    tokio::time::sleep(Duration::from_millis(200)).await;
}

async fn comment(app: &TestApp, who: &Session, article: &Value, body: &str) {
    let response = app
        .query_as(
            who,
            "mutation($id: ID!, $body: String!) { addComment(articleId: $id, body: $body) { id } }",
            json!({ "id": article["id"], "body": body }),
        )
        .await;
    data(&response);
}

const COMMENTS: &str =
    "subscription($id: ID!) { commentAdded(articleId: $id) { body author { username email } } }";

#[tokio::test]
async fn comments_arrive_live_in_both_protocols() {
    for (protocol, data_type) in [("graphql-transport-ws", "next"), ("graphql-ws", "data")] {
        let app = spawn_app().await;
        let author = app.register("host").await;
        let reader = app.register("reader").await;
        let article = app.create_article(&author, "Live", &[], true).await;
        let mut socket = connect(&app, protocol, Some(&author.token)).await;
        subscribe(
            &mut socket,
            protocol,
            COMMENTS,
            json!({ "id": article["id"] }),
        )
        .await;

        comment(&app, &reader, &article, "First!").await;
        let message = receive(&mut socket).await;
        assert_eq!(message["type"], data_type, "{message}");
        let payload = &message["payload"];
        assert_eq!(payload["data"]["commentAdded"]["body"], "First!");
        assert_eq!(
            payload["data"]["commentAdded"]["author"]["username"],
            "reader"
        );
        // Field rules hold inside payloads: the host may not read the
        // reader's email.
        assert!(payload["data"]["commentAdded"]["author"]["email"].is_null());
        assert_eq!(payload["errors"][0]["extensions"]["code"], "FORBIDDEN");
    }
}

#[tokio::test]
async fn get_graphql_upgrades_to_the_same_endpoint() {
    let app = spawn_app().await;
    let author = app.register("upgrader").await;
    let article = app.create_article(&author, "Either door", &[], true).await;
    let mut socket = connect_to(&app, "/graphql", "graphql-transport-ws", None).await;
    subscribe(
        &mut socket,
        "graphql-transport-ws",
        COMMENTS,
        json!({ "id": article["id"] }),
    )
    .await;
    comment(&app, &author, &article, "via GET /graphql").await;
    let message = receive(&mut socket).await;
    assert_eq!(
        message["payload"]["data"]["commentAdded"]["body"],
        "via GET /graphql"
    );
}

#[tokio::test]
async fn drafts_cannot_be_watched_by_others() {
    let app = spawn_app().await;
    let author = app.register("secretive").await;
    let other = app.register("curious").await;
    let draft = app.create_article(&author, "Hidden", &[], false).await;
    let mut socket = connect(&app, "graphql-transport-ws", Some(&other.token)).await;
    subscribe(
        &mut socket,
        "graphql-transport-ws",
        COMMENTS,
        json!({ "id": draft["id"] }),
    )
    .await;
    let message = receive(&mut socket).await;
    assert_eq!(
        message["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{message}"
    );
    assert!(message["payload"]["data"].is_null());
}

#[tokio::test]
async fn a_bad_token_refuses_the_connection() {
    let app = spawn_app().await;
    let mut socket = connect(&app, "graphql-transport-ws", Some("not-a-token")).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("closed within 5 s");
    let code: u16 = closed.expect("a close frame").code.into();
    assert_eq!(code, 4403);
}

#[tokio::test]
async fn subscribing_before_connection_init_is_refused() {
    let app = spawn_app().await;
    let url = app.url("/graphql/ws").replace("http://", "ws://");
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let query = json!({ "query": "subscription { articlePublished { id } }" });
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": query }),
    )
    .await;
    let frame = loop {
        match socket.next().await {
            Some(Ok(Message::Close(frame))) => break frame.expect("a close frame"),
            Some(Ok(_)) => continue,
            other => panic!("expected a close, got {other:?}"),
        }
    };
    assert_eq!(u16::from(frame.code), 4401);
}

#[tokio::test]
async fn the_feed_subscription_needs_a_viewer_and_follows() {
    let app = spawn_app().await;
    let followed = app.register("followed").await;
    let ignored = app.register("ignored").await;
    let reader = app.register("reader").await;
    app.query_as(
        &reader,
        "mutation { followUser(username: \"followed\") { id } }",
        json!({}),
    )
    .await;
    let query = "subscription { articlePublished(feed: true) { title author { username } } }";

    let mut anonymous = connect(&app, "graphql-transport-ws", None).await;
    subscribe(&mut anonymous, "graphql-transport-ws", query, json!({})).await;
    let refused = receive(&mut anonymous).await;
    let code = &refused["payload"]["errors"][0]["extensions"]["code"];
    assert_eq!(code, "UNAUTHENTICATED", "{refused}");

    let mut socket = connect(&app, "graphql-transport-ws", Some(&reader.token)).await;
    subscribe(&mut socket, "graphql-transport-ws", query, json!({})).await;
    app.create_article(&ignored, "Not for you", &[], true).await;
    app.create_article(&followed, "For you", &[], true).await;
    let message = receive(&mut socket).await;
    assert_eq!(
        message["payload"]["data"]["articlePublished"]["title"], "For you",
        "{message}"
    );
}
