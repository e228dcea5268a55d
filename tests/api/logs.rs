//! What the real binary logs per request: one line with the request id
//! (the client's, or generated and returned), the operation, error codes,
//! status and duration; never passwords, tokens or variables.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{binary, helpers::TestDatabase};

/// The next "finished" request entry.
async fn next_request(logs: &mut tokio::sync::mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let entry = logs.recv().await.expect("folio is running");
            if entry["fields"]["message"] == "finished" {
                return entry;
            }
        }
    })
    .await
    .expect("a request is logged")
}

#[tokio::test]
async fn each_request_is_logged_with_its_id_and_without_secrets() {
    let database = TestDatabase::create().await;
    let mut folio = binary::start(&database, &[]).await;
    let client = reqwest::Client::new();
    let password = "a password that must not be logged";
    let response = client
        .post(format!("{}/graphql", folio.address))
        .header("x-request-id", "from-the-proxy-42")
        .json(&json!({
            "query": "mutation SignUp($input: RegisterInput!) { register(input: $input) { accessToken } }",
            "variables": { "input": { "username": "logged", "email": "logged@example.com", "password": password } },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "from-the-proxy-42");
    let body: Value = response.json().await.unwrap();
    let token = body["data"]["register"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let entry = next_request(&mut folio.logs).await;
    assert_eq!(entry["span"]["request_id"], "from-the-proxy-42");
    assert_eq!(entry["span"]["operation"], "SignUp");
    assert_eq!(entry["span"]["path"], "/graphql");
    assert_eq!(entry["fields"]["status"], 200);
    assert!(entry["fields"]["duration_ms"].as_f64().is_some());
    let mut everything = entry.to_string();

    // A generated id is returned and logged; error codes are logged.
    let response = client
        .get(format!("{}/graphql", folio.address))
        .query(&[("query", "{ nope }")])
        .header("content-type", "application/json")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let entry = next_request(&mut folio.logs).await;
    assert_eq!(entry["span"]["request_id"], id.as_str());
    assert_eq!(entry["span"]["errors"], "GRAPHQL_VALIDATION_FAILED");
    assert_eq!(entry["span"]["path"], "/graphql", "no query string");

    while let Ok(entry) = folio.logs.try_recv() {
        everything.push_str(&entry.to_string());
    }
    everything.push_str(&entry.to_string());
    for secret in [password, token.as_str(), "nope"] {
        assert!(!everything.contains(secret), "{secret} was logged");
    }
}
