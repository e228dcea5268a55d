//! No request can hold a worker: every check before execution is linear in
//! the document (or bounded by a small cap checked first), a refused
//! document answers with at most a hundred errors, and while the largest
//! hostile documents of every shape arrive four at a time the server still
//! answers health checks and small queries.

use std::time::{Duration, Instant};

use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, code, spawn_app_with};

const BODY_LIMIT: usize = 1024 * 1024;

/// A document of about `size` bytes: `head`, then `piece(i)` for i = 0, 1,
/// … as long as they fit, then `tail`.
fn flood(size: usize, head: &str, piece: impl Fn(usize) -> String, tail: &str) -> String {
    let mut document = String::from(head);
    for i in 0.. {
        let next = piece(i);
        if document.len() + next.len() + tail.len() > size {
            break;
        }
        document.push_str(&next);
    }
    document.push_str(tail);
    document
}

/// Every shape of hostile document the corpus knows, each just under
/// `size` bytes.
fn shapes(size: usize) -> Vec<(&'static str, String, Option<&'static str>)> {
    vec![
        (
            "distinct directives",
            flood(size, "{ __typename ", |i| format!("@d{i} "), "}"),
            None,
        ),
        (
            "directives on a field",
            flood(
                size,
                "{ articles(first: 1) ",
                |i| format!("@d{i} "),
                "{ totalCount } }",
            ),
            None,
        ),
        (
            "one directive repeated",
            flood(size, "{ __typename ", |_| "@include(if: true) ".into(), "}"),
            None,
        ),
        (
            "aliases",
            flood(size, "{ ", |i| format!("a{i}: __typename "), "}"),
            None,
        ),
        (
            "fields",
            flood(size, "{ viewer { ", |_| "bio ".into(), "} }"),
            None,
        ),
        (
            "unknown fields",
            flood(size, "{ viewer { ", |i| format!("x{i} "), "} }"),
            None,
        ),
        (
            "unused fragments",
            flood(
                size,
                "{ ...F0 } ",
                |i| format!("fragment F{i} on Query {{ __typename }} "),
                "",
            ),
            None,
        ),
        (
            "spreads",
            flood(
                size,
                "{ ",
                |_| "...F ".into(),
                "} fragment F on Query { __typename }",
            ),
            None,
        ),
        (
            "inline fragments",
            flood(size, "{ ", |_| "... on Query { __typename } ".into(), "}"),
            None,
        ),
        (
            "variables",
            flood(
                size,
                "query(",
                |i| format!("$v{i}: Int "),
                ") { __typename }",
            ),
            None,
        ),
        (
            "operations",
            flood(size, "", |i| format!("query Q{i} {{ __typename }} "), ""),
            Some("Q0"),
        ),
        (
            "arguments on __typename",
            flood(size, "{ __typename(", |i| format!("a{i}: 1 "), ") }"),
            None,
        ),
        (
            "unknown arguments",
            flood(
                size,
                "{ user(username: \"x\" ",
                |i| format!("a{i}: 1 "),
                ") { id } }",
            ),
            None,
        ),
    ]
}

async fn post(app: &TestApp, body: &Value) -> (StatusCode, usize, Value) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(body)
        .send()
        .await
        .expect("an answer");
    let status = response.status();
    let bytes = response.bytes().await.expect("a body");
    (
        status,
        bytes.len(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// With the token limit lifted, every other check is still linear or
/// capped: the token limit bounds the work, it does not hide a slow check.
#[tokio::test]
async fn the_largest_hostile_documents_are_refused_quickly_and_briefly() {
    let app = spawn_app_with(|settings| {
        settings.max_body_bytes = BODY_LIMIT;
        settings.cost_per_address = Some(0);
        settings.max_tokens = usize::MAX;
    })
    .await;
    for (name, document, operation) in shapes(BODY_LIMIT - 4096) {
        let body = json!({ "query": document, "operationName": operation });
        let started = Instant::now();
        let (status, bytes, answer) = post(&app, &body).await;
        let elapsed = started.elapsed();
        assert_eq!(status, StatusCode::OK, "{name}: {answer}");
        // Generous for a debug build; the release build takes at most a
        // fifth of a second per document (RELIABILITY.md).
        assert!(elapsed < Duration::from_secs(5), "{name} took {elapsed:?}");
        let errors = answer["errors"].as_array().map_or(0, Vec::len);
        match name {
            // Many operations, one of them named, or one in a long text: it
            // runs.
            "operations" | "a long comment" => {
                assert_eq!(answer["data"]["__typename"], "Query", "{name}: {answer}");
                continue;
            }
            "a long string" => {
                assert_eq!(code(&answer), "BAD_USER_INPUT", "{name}: {answer}");
                continue;
            }
            _ => {}
        }
        assert!((1..=101).contains(&errors), "{name}: {errors} errors");
        assert!(bytes < 32 * 1024, "{name}: {bytes} bytes of errors");
        assert!(
            answer["errors"]
                .as_array()
                .unwrap()
                .iter()
                .all(|error| error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"),
            "{name}: {answer}"
        );
    }
}

#[tokio::test]
async fn the_server_answers_others_while_hostile_documents_arrive_four_at_a_time() {
    let app = spawn_app_with(|settings| {
        settings.max_body_bytes = BODY_LIMIT;
        settings.cost_per_address = Some(0);
    })
    .await;
    for (name, document, operation) in shapes(BODY_LIMIT - 4096) {
        let body = json!({ "query": document, "operationName": operation });
        let attackers: Vec<_> = (0..4)
            .map(|_| {
                let (client, url, body) = (app.client.clone(), app.url("/graphql"), body.clone());
                tokio::spawn(async move { client.post(url).json(&body).send().await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        let live = app.get("/health/live").await;
        assert_eq!(live.status(), StatusCode::OK, "{name}");
        let typename = app.query("{ __typename }", json!({})).await;
        assert_eq!(typename["data"]["__typename"], "Query", "{name}");
        let waited = started.elapsed();
        // The bound the issue sets (a second) holds in release builds;
        // a debug build parses several times slower.
        assert!(
            waited < Duration::from_secs(3),
            "{name}: others waited {waited:?}"
        );
        for attacker in attackers {
            let answered = attacker.await.unwrap().expect("an answer");
            assert_eq!(answered.status(), StatusCode::OK, "{name}");
        }
    }
}

#[tokio::test]
async fn a_document_over_the_token_limit_is_refused_before_parsing() {
    let app = spawn_app_with(|settings| settings.max_tokens = 100).await;
    let within = format!("{{ {} }}", "__typename ".repeat(20));
    assert_eq!(
        app.query(&within, json!({})).await["data"]["__typename"],
        "Query"
    );
    let over = format!("{{ viewer {{ {} }} }}", "bio ".repeat(200));
    let answer = app.query(&over, json!({})).await;
    let (code, _, message) = crate::helpers::error(&answer);
    assert_eq!(code, "GRAPHQL_VALIDATION_FAILED");
    assert!(message.contains("100 tokens"), "{message}");
}

#[tokio::test]
async fn typename_takes_no_arguments_and_only_the_executable_directives() {
    let app = spawn_app_with(|_| {}).await;
    for query in [
        "{ __typename(a: 1) }",
        "{ __typename @bogus }",
        "{ viewer { __typename(if: true) } }",
        "{ __typename @include(if: true) @include(if: true) }",
    ] {
        let answer = app.query(query, json!({})).await;
        assert_eq!(
            code(&answer),
            "GRAPHQL_VALIDATION_FAILED",
            "{query}: {answer}"
        );
    }
    let fine = app
        .query(
            "{ a: __typename @include(if: true) b: __typename @skip(if: true) }",
            json!({}),
        )
        .await;
    assert_eq!(fine["data"], json!({ "a": "Query" }));
}

#[tokio::test]
async fn a_refused_document_is_charged_for_its_text() {
    let app = spawn_app_with(|settings| {
        settings.max_body_bytes = BODY_LIMIT;
        settings.cost_per_address = Some(1_000_000);
    })
    .await;
    let remaining = |response: &reqwest::Response| -> u64 {
        response.headers()["ratelimit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let small = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    let before = remaining(&small);
    // A refused document of 100 KiB (most of it a comment): charged 100
    // per KiB.
    let hostile = format!(
        "{{ __typename @skip(if: false) @skip(if: false) }} #{}",
        "x".repeat(100 * 1024 - 64)
    );
    let refused = app
        .client
        .post(app.url("/graphql"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(json!({ "query": hostile }).to_string())
        .send()
        .await
        .unwrap();
    let after = remaining(&refused);
    let charged = before - after;
    assert!((9_000..=10_000).contains(&charged), "charged {charged}");
    let answer: Value = refused.json().await.unwrap();
    assert_eq!(code(&answer), "GRAPHQL_VALIDATION_FAILED");
}
