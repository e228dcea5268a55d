//! Stopping the real binary with SIGTERM.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    binary,
    helpers::TestDatabase,
    subscriptions::{close_code, open, receive_raw},
};

#[tokio::test]
async fn sigterm_finishes_requests_and_sends_subscribers_away() {
    let database = TestDatabase::create().await;
    // Batch loaders wait long enough for a request to be caught in flight.
    let started = binary::start(
        &database,
        &[("FOLIO_DATALOADER_DELAY_US", "1500000".to_owned())],
    )
    .await;
    let (mut folio, address) = (started.child, started.address);
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
