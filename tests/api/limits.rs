//! Expensive or abusive requests are refused before any resolver runs.

use serde_json::{Value, json};

use crate::helpers::{TestApp, code, data, spawn_app};

/// Runs `query` and asserts it was refused with `expected_code` without a
/// single SQL statement; returns the error message.
async fn refused(app: &TestApp, body: Value, expected_code: &str) -> String {
    let before = app.statements.get();
    let (_, response) = app.post(None, body).await;
    assert_eq!(code(&response), expected_code, "{response}");
    assert_eq!(app.statements.get(), before, "a resolver ran: {response}");
    response["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn deep_queries_are_refused() {
    let app = spawn_app().await;
    let mut query = String::from("title");
    for _ in 0..8 {
        // One item per page, so depth, not complexity, is what trips.
        query = format!("comments(first: 1) {{ nodes {{ article {{ {query} }} }} }}");
    }
    let query = format!("{{ article(slug: \"x\") {{ {query} }} }}");
    let message = refused(&app, json!({ "query": query }), "GRAPHQL_VALIDATION_FAILED").await;
    assert!(message.contains("nested too deep"), "{message}");
}

#[tokio::test]
async fn connections_count_their_page_size_in_the_complexity() {
    let app = spawn_app().await;
    let nested = "{ articles(first: 100) { nodes { title comments(first: 100) {
        nodes { body author { username } } } } } }";
    let message = refused(
        &app,
        json!({ "query": nested }),
        "GRAPHQL_VALIDATION_FAILED",
    )
    .await;
    assert!(message.contains("complex"), "{message}");
    // The same shape with small pages is fine.
    let small = nested.replace("first: 100", "first: 10");
    data(&app.post(None, json!({ "query": small })).await.1);
}

#[tokio::test]
async fn alias_bombs_and_wide_roots_are_refused() {
    let app = spawn_app().await;
    let aliases: String = (0..60).map(|i| format!(" a{i}: totalCount")).collect();
    let message = refused(
        &app,
        json!({ "query": format!("{{ tags {{ {aliases} }} }}") }),
        "GRAPHQL_VALIDATION_FAILED",
    )
    .await;
    assert!(message.contains("aliases"), "{message}");

    let roots = " tags { totalCount }".repeat(25);
    let message = refused(
        &app,
        json!({ "query": format!("{{{roots} }}") }),
        "GRAPHQL_VALIDATION_FAILED",
    )
    .await;
    assert!(message.contains("root fields"), "{message}");
}

#[tokio::test]
async fn fragment_bombs_are_refused_without_expanding_them() {
    let app = spawn_app().await;
    // 2^20 selections if expanded.
    let mut query = String::from("{ articles { nodes { ...F0 } } }");
    for i in 0..20 {
        query.push_str(&format!(
            " fragment F{i} on Article {{ ...F{} ...F{} }}",
            i + 1,
            i + 1
        ));
    }
    query.push_str(" fragment F20 on Article { title }");
    let message = refused(&app, json!({ "query": query }), "GRAPHQL_VALIDATION_FAILED").await;
    assert!(message.contains("fields"), "{message}");
    // And the server keeps serving.
    data(
        &app.post(None, json!({ "query": "{ viewer { id } }" }))
            .await
            .1,
    );
}

#[tokio::test]
async fn oversize_batches_are_refused() {
    let app = spawn_app().await;
    let batch: Vec<Value> = (0..11)
        .map(|_| json!({ "query": "{ tags { totalCount } }" }))
        .collect();
    let before = app.statements.get();
    let (status, response) = app.post(None, Value::Array(batch)).await;
    assert_eq!(status, 400);
    assert_eq!(code(&response), "BAD_USER_INPUT");
    assert_eq!(app.statements.get(), before);
    let batch: Vec<Value> = (0..10)
        .map(|_| json!({ "query": "{ tags { totalCount } }" }))
        .collect();
    let (status, response) = app.post(None, Value::Array(batch)).await;
    assert_eq!(status, 200);
    assert_eq!(response.as_array().unwrap().len(), 10);
}
