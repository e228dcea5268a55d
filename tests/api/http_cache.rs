//! Cache-Control from the schema's hints, and ETag revalidation for GET.

use reqwest::{StatusCode, header};
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

async fn get(app: &TestApp, query: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = app.graphql_get().query(&[("query", query)]);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

fn cache_control(response: &reqwest::Response) -> &str {
    response.headers()[header::CACHE_CONTROL].to_str().unwrap()
}

const PUBLIC: &str = "{ articles(first: 5) { nodes { title tags author { username } } } }";

#[tokio::test]
async fn anonymous_public_gets_are_cacheable_for_the_shortest_hint() {
    let app = spawn_app().await;
    let response = get(&app, PUBLIC, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(cache_control(&response), "public, max-age=30");
    let vary = response.headers()[header::VARY].to_str().unwrap();
    assert!(vary.contains("Authorization"), "{vary}");
    assert!(response.headers().contains_key(header::ETAG));
}

#[tokio::test]
async fn private_fields_viewers_and_posts_are_never_stored() {
    let app = spawn_app().await;
    let user = app.register("private").await;
    for (query, token) in [
        ("{ viewer { username } }", None),
        (
            "{ articles(first: 5) { nodes { title viewerHasFavorited } } }",
            None,
        ),
        ("{ user(username: \"private\") { email } }", None),
        (PUBLIC, Some(user.token.as_str())),
    ] {
        let response = get(&app, query, token).await;
        assert_eq!(cache_control(&response), "private, no-store", "{query}");
    }
    // Nothing hinted (no data from the database): not worth caching.
    assert_eq!(
        cache_control(&get(&app, "{ __typename }", None).await),
        "no-store"
    );
    let post = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": PUBLIC }))
        .send()
        .await
        .unwrap();
    assert_eq!(cache_control(&post), "no-store");
    assert!(!post.headers().contains_key(header::ETAG));
}

#[tokio::test]
async fn errors_are_never_cacheable() {
    let app = spawn_app().await;
    let response = get(&app, "{ articles(first: 500) { totalCount } }", None).await;
    assert_eq!(cache_control(&response), "no-store");
}

async fn get_if_none_match(app: &TestApp, etag: &header::HeaderValue) -> reqwest::Response {
    app.graphql_get()
        .query(&[("query", PUBLIC)])
        .header(header::IF_NONE_MATCH, etag.clone())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_unchanged_response_is_revalidated_with_304() {
    let app = spawn_app().await;
    let author = app.register("etagger").await;
    app.create_article(&author, "First", &[], true).await;
    let first = get(&app, PUBLIC, None).await;
    let etag = first.headers()[header::ETAG].clone();

    let again = get_if_none_match(&app, &etag).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[header::ETAG], etag);
    assert_eq!(cache_control(&again), "public, max-age=30");
    assert!(again.bytes().await.unwrap().is_empty());

    app.create_article(&author, "Second", &[], true).await;
    let changed = get_if_none_match(&app, &etag).await;
    assert_eq!(changed.status(), StatusCode::OK, "the list changed");
    assert_ne!(changed.headers()[header::ETAG], etag);
}
