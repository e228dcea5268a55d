//! Subscriptions over real WebSocket connections, in both protocols.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

use crate::helpers::{Session, TestApp, data, spawn_app, spawn_app_with};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A subscriber speaking `protocol`, initialised with `token` if given.
async fn connect(app: &TestApp, protocol: &str, token: Option<&str>) -> Socket {
    connect_to(app, "/graphql/ws", protocol, token).await
}

async fn connect_to(app: &TestApp, path: &str, protocol: &str, token: Option<&str>) -> Socket {
    open(&app.address, path, protocol, token, None).await
}

/// Opens a connection, optionally with a small receive buffer so that a
/// client that stops reading is felt by the server after little data.
pub async fn open(
    address: &str,
    path: &str,
    protocol: &str,
    token: Option<&str>,
    receive_buffer: Option<u32>,
) -> Socket {
    let tcp = TcpSocket::new_v4().unwrap();
    if let Some(size) = receive_buffer {
        tcp.set_recv_buffer_size(size).unwrap();
    }
    let stream = tcp
        .connect(address.trim_start_matches("http://").parse().unwrap())
        .await
        .unwrap();
    let url = format!("{address}{path}").replace("http://", "ws://");
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_str(protocol).unwrap(),
    );
    let (mut socket, response) =
        tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
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

/// The code of the close frame `socket` gets within `within`, skipping
/// messages before it; `None` when the connection broke instead (a reset,
/// or a late pong that met a closed socket), which is a refusal too.
pub async fn closed_with(socket: &mut Socket, within: Duration) -> Option<u16> {
    tokio::time::timeout(within, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .expect("the socket is closed in time")
}

/// The code the server closes the connection with, skipping messages
/// before the close.
pub async fn close_code(socket: &mut Socket) -> u16 {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
    .expect("closed within 10 s")
}

pub async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// The next protocol message that is not a keep-alive.
pub async fn receive(socket: &mut Socket) -> Value {
    loop {
        let value = receive_raw(socket).await;
        if !matches!(value["type"].as_str(), Some("ka" | "ping" | "pong")) {
            return value;
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

pub async fn comment(app: &TestApp, who: &Session, article: &Value, body: &str) {
    let response = app
        .query_as(
            who,
            "mutation($id: ID!, $body: String!) { addComment(articleId: $id, body: $body) { id } }",
            json!({ "id": article["id"], "body": body }),
        )
        .await;
    data(&response);
}

/// A subscriber to new comments on `article`.
pub async fn watch_comments(
    app: &TestApp,
    protocol: &str,
    token: Option<&str>,
    article: &Value,
) -> Socket {
    let mut socket = connect(app, protocol, token).await;
    let variables = json!({ "id": article["id"] });
    subscribe(&mut socket, protocol, COMMENTS, variables).await;
    socket
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
        let mut socket = watch_comments(&app, protocol, Some(&author.token), &article).await;

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
    let mut socket = watch_comments(&app, "graphql-transport-ws", Some(&other.token), &draft).await;
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
    assert_eq!(close_code(&mut socket).await, 4403);
}

/// A graphql-transport-ws connection that has sent nothing yet.
async fn uninitialised(app: &TestApp) -> Socket {
    let url = app.url("/graphql/ws").replace("http://", "ws://");
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

#[tokio::test]
async fn subscribing_before_connection_init_is_refused() {
    let app = spawn_app().await;
    let mut socket = uninitialised(&app).await;
    let query = json!({ "query": "subscription { articlePublished { id } }" });
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": query }),
    )
    .await;
    assert_eq!(close_code(&mut socket).await, 4401);
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

#[tokio::test]
async fn a_connection_without_init_is_closed_after_the_timeout() {
    let app = spawn_app_with(|s| s.websocket.ws_init_timeout = 1).await;
    let mut socket = uninitialised(&app).await;
    assert_eq!(close_code(&mut socket).await, 4408);
}

/// The next text message, keep-alives included.
pub async fn receive_raw(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a message within 5 s")
            .expect("the connection is open")
            .unwrap();
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn idle_connections_get_keep_alives_and_stay_open() {
    let app = spawn_app_with(|s| s.websocket.ws_keepalive = 1).await;
    for (protocol, keep_alive) in [("graphql-transport-ws", "ping"), ("graphql-ws", "ka")] {
        let mut socket = connect(&app, protocol, None).await;
        assert_eq!(receive_raw(&mut socket).await["type"], "connection_ack");
        // Well past the 3 s idle limit: a client that answers pings (as
        // graphql-ws clients do) is never timed out.
        for _ in 0..5 {
            let message = receive_raw(&mut socket).await;
            assert_eq!(message["type"], keep_alive, "{message}");
            if keep_alive == "ping" {
                send(&mut socket, json!({ "type": "pong" })).await;
            }
        }
    }
}

#[tokio::test]
async fn a_subscriber_that_stops_reading_is_dropped_and_delays_no_one() {
    const PROTOCOL: &str = "graphql-transport-ws";
    const EVENTS: usize = 60;
    let app = spawn_app_with(|s| s.websocket.ws_buffer = 8).await;
    let author = app.register("popular").await;
    let article = app.create_article(&author, "Crowded", &[], true).await;
    // Large payloads fill a client's socket after a few unread events.
    let update = app
        .query_as(
            &author,
            "mutation($id: ID!, $body: String!) {
                updateArticle(id: $id, input: { body: $body }) { id } }",
            json!({ "id": article["id"], "body": "x".repeat(60_000) }),
        )
        .await;
    data(&update);
    let variables = json!({ "id": article["id"] });

    let mut stalled = open(&app.address, "/graphql/ws", PROTOCOL, None, Some(4096)).await;
    subscribe(
        &mut stalled,
        PROTOCOL,
        "subscription($id: ID!) { commentAdded(articleId: $id) {
            article { a: body b: body c: body d: body } } }",
        variables.clone(),
    )
    .await;
    let mut reader = connect(&app, PROTOCOL, None).await;
    subscribe(
        &mut reader,
        PROTOCOL,
        "subscription($id: ID!) { commentAdded(articleId: $id) { body } }",
        variables,
    )
    .await;

    let writing = async {
        for n in 0..EVENTS {
            comment(&app, &author, &article, &format!("comment {n}")).await;
        }
    };
    let reading = async {
        for n in 0..EVENTS {
            let message = receive(&mut reader).await;
            let body = &message["payload"]["data"]["commentAdded"]["body"];
            assert_eq!(body, &json!(format!("comment {n}")), "{message}");
        }
    };
    tokio::join!(writing, reading);

    // Only now does the stalled client read: what was in flight, then the
    // close that dropped it.
    let mut delivered = 0;
    let code = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stalled.next().await {
                Some(Ok(Message::Text(_))) => delivered += 1,
                Some(Ok(Message::Close(frame))) => return frame.map(|frame| u16::from(frame.code)),
                Some(Ok(_)) => {}
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
    .expect("the stalled connection is closed");
    assert_eq!(code, Some(1013), "closed with try-again-later");
    assert!(delivered < EVENTS, "the stalled client was cut off");
}

#[tokio::test]
async fn subscribers_on_one_instance_see_writes_on_another() {
    const PROTOCOL: &str = "graphql-transport-ws";
    let prefix = format!("folio-test:{}:", uuid::Uuid::new_v4().simple());
    let configure = |s: &mut folio::config::ServeSettings| s.redis_prefix = prefix.clone();
    let writer = spawn_app_with(configure).await;
    let watcher = writer.another_instance(configure).await;
    let author = writer.register("elsewhere").await;
    let article = writer.create_article(&author, "Shared", &[], true).await;
    let mut socket = watch_comments(&watcher, PROTOCOL, None, &article).await;

    comment(&writer, &author, &article, "from the other instance").await;
    let redis = std::env::var("FOLIO_TEST_REDIS_URL").is_ok_and(|url| !url.is_empty());
    if redis {
        let message = receive(&mut socket).await;
        let comment = &message["payload"]["data"]["commentAdded"];
        assert_eq!(comment["body"], "from the other instance", "{message}");
        assert_eq!(comment["author"]["username"], "elsewhere");
    } else {
        let silent = tokio::time::timeout(Duration::from_millis(500), socket.next()).await;
        assert!(
            silent.is_err(),
            "without Redis, events stay in their process"
        );
    }
}

/// SQL statements the server runs for one comment while `subscribers`
/// watch with the same query: all anonymous, or each logged in as a
/// different user.
async fn statements_per_event(subscribers: usize, logged_in: bool) -> u64 {
    const PROTOCOL: &str = "graphql-transport-ws";
    // Long enough that every subscriber's loads land in one batch even on a
    // busy machine.
    let app = spawn_app_with(|s| s.dataloader_delay_us = 100_000).await;
    let author = app.register("watched").await;
    let article = app.create_article(&author, "Shared", &[], true).await;
    let mut sockets = Vec::new();
    for n in 0..subscribers {
        let reader = match logged_in {
            true => Some(app.register(&format!("reader{n}")).await),
            false => None,
        };
        let token = reader.as_ref().map(|reader| reader.token.as_str());
        let socket = watch_comments(&app, PROTOCOL, token, &article).await;
        sockets.push(socket);
    }
    let before = app.statements.get();
    comment(&app, &author, &article, "for everyone").await;
    for socket in &mut sockets {
        let message = receive(socket).await;
        assert_eq!(
            message["payload"]["data"]["commentAdded"]["body"],
            "for everyone"
        );
    }
    app.statements.get() - before
}

#[tokio::test]
async fn identical_subscriptions_share_one_execution() {
    let one = statements_per_event(1, false).await;
    let many = statements_per_event(12, false).await;
    assert_eq!(
        one, many,
        "an event costs the same for 1 and 12 subscribers"
    );
}

#[tokio::test]
async fn subscribers_with_different_viewers_share_their_loads() {
    let one = statements_per_event(1, true).await;
    let many = statements_per_event(12, true).await;
    assert_eq!(one, many, "an event costs the same for 1 and 12 viewers");
}

#[tokio::test]
async fn subscribers_with_different_viewers_never_share_results() {
    const PROTOCOL: &str = "graphql-transport-ws";
    let app = spawn_app().await;
    let author = app.register("owner").await;
    let article = app.create_article(&author, "Mine", &[], true).await;
    let mut own = watch_comments(&app, PROTOCOL, Some(&author.token), &article).await;
    let mut anonymous = watch_comments(&app, PROTOCOL, None, &article).await;

    comment(&app, &author, &article, "note to self").await;
    let mine = receive(&mut own).await;
    let email = &mine["payload"]["data"]["commentAdded"]["author"]["email"];
    assert_eq!(email, "owner@example.com", "{mine}");
    let theirs = receive(&mut anonymous).await;
    let payload = &theirs["payload"];
    assert!(payload["data"]["commentAdded"]["author"]["email"].is_null());
    assert_eq!(payload["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

#[tokio::test]
async fn every_identical_subscriber_hears_a_refusal() {
    const PROTOCOL: &str = "graphql-transport-ws";
    let app = spawn_app().await;
    let author = app.register("private").await;
    let draft = app.create_article(&author, "Not yet", &[], false).await;
    let mut sockets = Vec::new();
    for _ in 0..3 {
        sockets.push(connect(&app, PROTOCOL, None).await);
    }
    for socket in &mut sockets {
        subscribe(socket, PROTOCOL, COMMENTS, json!({ "id": draft["id"] })).await;
    }
    for socket in &mut sockets {
        let message = receive(socket).await;
        let code = &message["payload"]["errors"][0]["extensions"]["code"];
        assert_eq!(code, "NOT_FOUND", "{message}");
    }
}

#[tokio::test]
async fn starting_a_subscription_spends_the_same_cost_budget() {
    let app = spawn_app_with(|s| {
        s.max_complexity = 100;
        s.cost_per_user = Some(100);
        s.response_cache = false;
    })
    .await;
    let author = app.register("budgeted").await;
    let article = app.create_article(&author, "Counted", &[], true).await;
    // Spent to the last unit, one unit at a time.
    for _ in 0..100 {
        if app.query_as(&author, "{ __typename }", json!({})).await["errors"].is_array() {
            break;
        }
    }
    let mut socket =
        watch_comments(&app, "graphql-transport-ws", Some(&author.token), &article).await;
    let message = receive(&mut socket).await;
    let error = &message["payload"]["errors"][0];
    assert_eq!(error["extensions"]["code"], "RATE_LIMITED", "{message}");
    assert!(error["extensions"]["retryAfter"].as_u64() > Some(0));
    assert!(message["payload"]["data"].is_null());
    assert_eq!(receive(&mut socket).await["type"], "complete");
}
