//! With `FOLIO_ENV=production` and nothing else set, the server hides what
//! a public deployment should: no introspection, no playground, no
//! suggestions that spell out the schema, no `/metrics` on the public
//! listener (it gets a listener of its own), and metric labels bounded.

use folio::config::Environment;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{error, spawn_app_with};

const SECRET: &str = "q3Vh1v0cYy5kq8rQm2o7Zt9nW4xJ6bL0pE1sD3fG5hK7jM9nB2vC4xZ6aS8dF0gH";

fn production(s: &mut folio::config::ServeSettings) {
    s.environment = Environment::Production;
    s.jwt_secret = Some(SECRET.to_owned());
    s.introspection = None;
    s.playground = None;
}

#[tokio::test]
async fn production_defaults_hide_the_schema_and_the_metrics() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let metrics_address = free.local_addr().unwrap();
    drop(free);
    let app = spawn_app_with(|s| {
        production(s);
        s.metrics_bind = Some(metrics_address);
    })
    .await;
    let introspection = app
        .query("{ __schema { types { name } } }", json!({}))
        .await;
    assert_eq!(introspection["data"]["__schema"], serde_json::Value::Null);
    let typo = app.query("{ articls { totalCount } }", json!({})).await;
    let (_, _, message) = error(&typo);
    assert!(!message.contains("Did you mean"), "{message}");
    assert_eq!(app.get("/playground").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get("/metrics").await.status(), StatusCode::NOT_FOUND);
    let scraped = app
        .client
        .get(format!("http://{metrics_address}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
}

#[tokio::test]
async fn each_can_be_turned_on_in_production() {
    let app = spawn_app_with(|s| {
        production(s);
        s.introspection = Some(true);
        s.playground = Some(true);
    })
    .await;
    let introspection = app
        .query("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(
        introspection["data"]["__schema"]["queryType"]["name"],
        "Query"
    );
    let typo = app.query("{ articls { totalCount } }", json!({})).await;
    assert!(error(&typo).2.contains("Did you mean"));
    assert_eq!(app.get("/playground").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn long_operation_names_do_not_grow_the_metrics() {
    let app = spawn_app_with(|_| {}).await;
    let before = app.get("/metrics").await.text().await.unwrap().len();
    for i in 0..5 {
        let name = format!("N{i}{}", "x".repeat(100_000));
        app.query(&format!("query {name} {{ __typename }}"), json!({}))
            .await;
    }
    let after = app.get("/metrics").await.text().await.unwrap().len();
    assert!(after < before + 16 * 1024, "{before} -> {after} bytes");
}
