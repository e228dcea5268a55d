//! Stopping the real binary with SIGTERM.

use std::{process::Stdio, time::Duration};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use crate::{
    helpers::TestDatabase,
    subscriptions::{close_code, open, receive_raw},
};

/// Starts `folio serve` on a free port and returns it with its address.
/// Batch loaders wait `loader_delay` so a request can be caught in flight.
async fn start_folio(database: &TestDatabase, loader_delay: Duration) -> (Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_folio"));
    command
        .env("DATABASE_URL", &database.url)
        .env("FOLIO_BIND", "127.0.0.1:0")
        .env("FOLIO_LOG_FORMAT", "json")
        .env(
            "FOLIO_DATALOADER_DELAY_US",
            loader_delay.as_micros().to_string(),
        )
        .env(
            "FOLIO_REDIS_PREFIX",
            format!("folio-test:{}:", uuid::Uuid::new_v4().simple()),
        )
        .env(
            "REDIS_URL",
            std::env::var("FOLIO_TEST_REDIS_URL").unwrap_or_default(),
        )
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("folio starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if entry["fields"]["message"] == "Folio is listening" {
                return entry["fields"]["address"].as_str().unwrap().to_owned();
            }
        }
        panic!("folio exited before listening");
    })
    .await
    .expect("folio listens within 30 s");
    // Keep draining the log so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, format!("http://{address}"))
}

#[tokio::test]
async fn sigterm_finishes_requests_and_sends_subscribers_away() {
    let database = TestDatabase::create().await;
    let (mut folio, address) = start_folio(&database, Duration::from_millis(1_500)).await;
    let client = reqwest::Client::new();
    let graphql = format!("{address}/graphql");
    let register = json!({ "query": "mutation { register(input: {
        username: \"stayer\", email: \"stayer@example.com\",
        password: \"correct horse battery staple\" }) { user { username } } }" });
    let registered: Value = client
        .post(&graphql)
        .json(&register)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(registered["data"]["register"]["user"]["username"], "stayer");

    let mut subscriber = open(&address, "/graphql/ws", "graphql-transport-ws", None, None).await;
    assert_eq!(receive_raw(&mut subscriber).await["type"], "connection_ack");

    // The followers count goes through a batch loader, which now waits 1.5 s:
    // the request is surely in flight when the signal arrives.
    let slow = json!({ "query": "{ user(username: \"stayer\") { followersCount } }" });
    let in_flight = tokio::spawn(client.post(&graphql).json(&slow).send());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = folio.id().expect("running").to_string();
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(signalled.success());

    assert_eq!(close_code(&mut subscriber).await, 1001, "going away");
    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert!(response.status().is_success());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["user"]["followersCount"], 0, "{body}");

    let status = tokio::time::timeout(Duration::from_secs(15), folio.wait())
        .await
        .expect("folio exits after the signal")
        .unwrap();
    assert!(status.success(), "a clean exit: {status}");
    assert!(
        client.post(&graphql).json(&slow).send().await.is_err(),
        "nothing accepts connections any more"
    );
}
