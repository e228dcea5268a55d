//! Automatic persisted queries, Apollo's protocol, over POST and GET.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, code, data, spawn_app, spawn_app_with};

const QUERY: &str = "{ tags(first: 5) { totalCount } }";

fn sha256(query: &str) -> String {
    format!("{:x}", Sha256::digest(query.as_bytes()))
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

/// A request carrying only the hash.
async fn by_hash(app: &TestApp, hash: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "extensions": persisted(hash) }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap())
}

/// A hashed query over GET, as Apollo's `useGETForHashedQueries` sends it.
async fn get_by_hash(app: &TestApp, hash: &str) -> reqwest::Response {
    let extensions = persisted(hash).to_string();
    app.graphql_get()
        .query(&[("extensions", extensions.as_str())])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_unknown_hash_is_registered_by_the_retry_and_then_served() {
    let app = spawn_app().await;
    let hash = sha256(QUERY);

    let (status, headers, body) = by_hash(&app, &hash).await;
    assert_eq!(status, StatusCode::OK, "Apollo clients retry on a 200");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("no-cache")
    );

    let (_, registered) = app
        .post(
            None,
            json!({ "query": QUERY, "extensions": persisted(&hash) }),
        )
        .await;
    assert_eq!(data(&registered)["tags"]["totalCount"], 0);

    let (status, _, body) = by_hash(&app, &hash).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(data(&body)["tags"]["totalCount"], 0);

    let response = get_by_hash(&app, &hash).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(data(&body)["tags"]["totalCount"], 0);
}

#[tokio::test]
async fn a_hash_that_does_not_match_its_query_is_rejected_and_not_stored() {
    let app = spawn_app().await;
    let wrong = sha256("{ __typename }");
    let (status, body) = app
        .post(
            None,
            json!({ "query": QUERY, "extensions": persisted(&wrong) }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert_eq!(
        body["errors"][0]["message"],
        "provided sha does not match query"
    );

    let (_, _, body) = by_hash(&app, &wrong).await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");
}

#[tokio::test]
async fn malformed_persisted_query_extensions_are_user_errors() {
    let app = spawn_app().await;
    for extension in [
        json!({ "persistedQuery": { "version": 2, "sha256Hash": sha256(QUERY) } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": "abc" } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": "../../etc/passwd" } }),
        json!({ "persistedQuery": "yes" }),
    ] {
        let (status, body) = app.post(None, json!({ "extensions": extension })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extension}");
        assert_eq!(code(&body), "BAD_USER_INPUT", "{extension}");
    }
}

#[tokio::test]
async fn a_persisted_mutation_still_needs_post() {
    let app = spawn_app().await;
    let mutation = "mutation { logout(refreshToken: \"none\") }";
    let hash = sha256(mutation);
    app.post(
        None,
        json!({ "query": mutation, "extensions": persisted(&hash) }),
    )
    .await;
    let response = get_by_hash(&app, &hash).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn each_operation_of_a_batch_is_resolved_on_its_own() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            None,
            json!([
                { "extensions": persisted(&sha256("{ viewer { id } }")) },
                { "query": QUERY },
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(code(&body[0]), "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(data(&body[1])["tags"]["totalCount"], 0);
}

#[tokio::test]
async fn instances_share_persisted_queries_exactly_when_redis_is_configured() {
    let prefix = format!("folio-test:{}:", uuid::Uuid::new_v4().simple());
    let configure = |s: &mut folio::config::ServeSettings| s.redis_prefix = prefix.clone();
    let first = spawn_app_with(configure).await;
    let second = first.another_instance(configure).await;
    let hash = sha256(QUERY);
    first
        .post(
            None,
            json!({ "query": QUERY, "extensions": persisted(&hash) }),
        )
        .await;
    let (_, _, body) = by_hash(&second, &hash).await;
    let redis = std::env::var("FOLIO_TEST_REDIS_URL").is_ok_and(|url| !url.is_empty());
    if redis {
        assert_eq!(data(&body)["tags"]["totalCount"], 0);
    } else {
        assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");
    }
}
