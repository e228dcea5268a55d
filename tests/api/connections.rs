//! Connections are bounded in time and size: a request head must arrive in
//! time and fit, an idle keep-alive connection is closed, connections past
//! the limit are refused while the others are served, and WebSocket
//! messages and operations are capped like HTTP bodies.

use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    helpers::{TestApp, spawn_app_with},
    subscriptions::{closed_with, open, receive, send},
};

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection; what it sent, and how
/// long it took. Gives up after 10 s.
async fn until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
            Err(_) => panic!("still open after 10 s"),
        }
    }
    (
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    )
}

const REQUEST: &[u8] = b"GET /health/live HTTP/1.1\r\nhost: folio\r\n\r\n";

#[tokio::test]
async fn a_connection_that_sends_nothing_or_trickles_its_head_is_closed() {
    let app = spawn_app_with(|s| s.header_timeout = 1).await;
    let mut silent = connect(&app).await;
    let (_, waited) = until_closed(&mut silent).await;
    assert!(waited < Duration::from_secs(3), "silent: {waited:?}");

    let mut trickling = connect(&app).await;
    trickling
        .write_all(b"GET /health/live HTTP/1.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    for i in 0..20 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let line = format!("x-trickle-{i}: 1\r\n");
        if trickling.write_all(line.as_bytes()).await.is_err() {
            break;
        }
    }
    let (_, _) = until_closed(&mut trickling).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "trickling: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = spawn_app_with(|s| s.keep_alive_timeout = 1).await;
    let mut stream = connect(&app).await;
    stream.write_all(REQUEST).await.unwrap();
    let (answered, waited) = until_closed(&mut stream).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    assert!(waited < Duration::from_secs(3), "idle: {waited:?}");
}

#[tokio::test]
async fn headers_past_the_limit_are_refused_with_431() {
    let app = spawn_app_with(|s| s.max_header_bytes = 16 * 1024).await;
    let mut stream = connect(&app).await;
    let request = format!(
        "GET /health/live HTTP/1.1\r\nhost: folio\r\nx-padding: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let _ = stream.write_all(request.as_bytes()).await;
    let (answered, _) = until_closed(&mut stream).await;
    assert!(answered.starts_with("HTTP/1.1 431"), "{answered}");
    // Within the limit is fine.
    let fine = app
        .client
        .get(app.url("/health/live"))
        .header("x-padding", "a".repeat(8 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), 200);
}

#[tokio::test]
async fn connections_past_the_limit_are_refused_and_the_others_served() {
    let app = spawn_app_with(|s| {
        s.max_connections = Some(20);
        s.header_timeout = 2;
    })
    .await;
    // One client holds a keep-alive connection; 19 others hold the rest
    // and send nothing.
    assert_eq!(app.get("/health/live").await.status(), 200);
    let mut idle = Vec::new();
    for _ in 0..19 {
        idle.push(connect(&app).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut over = connect(&app).await;
    let (refused, waited) = until_closed(&mut over).await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(waited < Duration::from_secs(1), "refused after {waited:?}");
    // The connection already open is served as before.
    let started = Instant::now();
    assert_eq!(app.get("/health/live").await.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(1));
    // Once the silent ones time out, new clients get in again.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let fresh = reqwest::Client::new();
    let answered = fresh.get(app.url("/health/live")).send().await.unwrap();
    assert_eq!(answered.status(), 200);
    drop(idle);
}

#[tokio::test]
async fn a_websocket_message_larger_than_a_request_body_is_refused_even_before_init() {
    let app = spawn_app_with(|s| s.max_body_bytes = 64 * 1024).await;
    let url = format!("{}/graphql/ws", app.address).replace("http://", "ws://");
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
            .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let huge = "x".repeat(1024 * 1024);
    let _ = socket.send(Message::Text(huge.into())).await;
    let closed = closed_with(&mut socket, Duration::from_secs(5)).await;
    assert!(matches!(closed, None | Some(1009)), "{closed:?}");
}

#[tokio::test]
async fn a_legacy_client_that_answers_nothing_is_closed_like_a_graphql_ws_one() {
    let app = spawn_app_with(|s| s.websocket.ws_keepalive = 1).await;
    for protocol in ["graphql-ws", "graphql-transport-ws"] {
        let mut socket = open(&app.address, "/graphql/ws", protocol, None, None).await;
        assert_eq!(receive(&mut socket).await["type"], "connection_ack");
        // Not reading means not answering pings at any level.
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(4)).await;
        let closed = closed_with(&mut socket, Duration::from_secs(5)).await;
        assert!(
            matches!(closed, None | Some(1001)),
            "{protocol}: {closed:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(8), "{protocol}");
    }
}

#[tokio::test]
async fn one_connection_runs_a_bounded_number_of_operations() {
    let app = spawn_app_with(|s| s.websocket.ws_max_operations = 3).await;
    let mut socket = open(
        &app.address,
        "/graphql/ws",
        "graphql-transport-ws",
        None,
        None,
    )
    .await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    for i in 0..4 {
        send(
            &mut socket,
            json!({ "id": i.to_string(), "type": "subscribe", "payload": {
                "query": format!("subscription S{i} {{ articlePublished {{ id }} }}") } }),
        )
        .await;
    }
    let refusal: Value = receive(&mut socket).await;
    assert_eq!(refusal["id"], "3", "{refusal}");
    assert_eq!(
        refusal["payload"]["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{refusal}"
    );
    // Ending one frees its place.
    send(&mut socket, json!({ "id": "0", "type": "complete" })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    send(
        &mut socket,
        json!({ "id": "4", "type": "subscribe", "payload": {
            "query": "{ __typename }" } }),
    )
    .await;
    let answer = loop {
        let message = receive(&mut socket).await;
        if message["type"] == "next" {
            break message;
        }
    };
    assert_eq!(answer["id"], "4", "{answer}");
    assert_eq!(answer["payload"]["data"]["__typename"], "Query", "{answer}");
}
