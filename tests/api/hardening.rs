//! The server's edge: CORS, CSRF prevention, compression and the request
//! deadline.

use std::time::Duration;

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, code, data, error, spawn_app, spawn_app_with};
use crate::subscriptions::{comment, receive, watch_comments};

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url("/graphql"))
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "content-type,authorization",
        )
        .send()
        .await
        .unwrap()
}

fn allowed_origin(response: &reqwest::Response) -> Option<&str> {
    response
        .headers()
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .map(|value| value.to_str().unwrap())
}

#[tokio::test]
async fn only_configured_origins_may_call_from_a_browser() {
    let app = spawn_app_with(|settings| {
        settings.cors_origins = Some("https://app.example, http://localhost:3000".to_owned());
    })
    .await;
    let allowed = preflight(&app, "https://app.example").await;
    assert!(allowed.status().is_success());
    assert_eq!(allowed_origin(&allowed), Some("https://app.example"));
    let headers = allowed.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap();
    assert!(headers.contains("authorization"), "{headers}");

    let refused = preflight(&app, "https://evil.example").await;
    assert_eq!(allowed_origin(&refused), None);

    let response = app
        .client
        .post(app.url("/graphql"))
        .header(header::ORIGIN, "http://localhost:3000")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed_origin(&response), Some("http://localhost:3000"));
    let exposed = response.headers()[header::ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .unwrap();
    assert!(exposed.contains("x-request-id"), "{exposed}");
    assert!(exposed.contains("retry-after"), "{exposed}");
}

#[tokio::test]
async fn development_allows_any_origin_and_production_none_by_default() {
    let development = spawn_app().await;
    assert_eq!(
        allowed_origin(&preflight(&development, "https://anywhere.example").await),
        Some("*")
    );
    let production = development
        .another_instance(|settings| {
            settings.environment = folio::config::Environment::Production;
            settings.jwt_secret =
                Some("q3Vh1v0cYy5kq8rQm2o7Zt9nW4xJ6bL0pE1sD3fG5hK7jM9nB2vC4xZ6aS8dF0gH".to_owned());
        })
        .await;
    assert_eq!(
        allowed_origin(&preflight(&production, "https://anywhere.example").await),
        None
    );
}

async fn get_with(app: &TestApp, headers: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut request = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "{ __typename }")]);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn get_queries_need_no_preflight_header_and_run_only_as_the_header_says() {
    let app = spawn_app().await;
    // As urql's default client and a cross-site page send them: no content
    // type, no preflight header.
    for simple in [
        vec![],
        vec![("content-type", "text/plain")],
        vec![("apollo-require-preflight", "")],
    ] {
        let (status, body) = get_with(&app, &simple).await;
        assert_eq!(status, StatusCode::OK, "{simple:?}: {body}");
        assert_eq!(data(&body)["__typename"], "Query");
    }
    // Credentials come from the Authorization header only (which no page
    // on another site can attach without a preflight), never from cookies.
    let reader = app.register("reader").await;
    let viewer = |cookie: bool| {
        let request = app
            .client
            .get(app.url("/graphql"))
            .query(&[("query", "{ viewer { username } }")]);
        match cookie {
            true => request.header(header::COOKIE, format!("token={}", reader.token)),
            false => request.header(header::AUTHORIZATION, format!("Bearer {}", reader.token)),
        }
        .send()
    };
    let with_header: Value = viewer(false).await.unwrap().json().await.unwrap();
    assert_eq!(data(&with_header)["viewer"]["username"], "reader");
    let with_cookie: Value = viewer(true).await.unwrap().json().await.unwrap();
    assert_eq!(data(&with_cookie)["viewer"], Value::Null);
    // Mutations never run over GET: `http.rs`'s
    // `queries_work_over_get_and_mutations_do_not`, through the same
    // header-less GET.
}

#[tokio::test]
async fn posts_a_page_on_another_site_could_send_are_refused() {
    let app = spawn_app().await;
    let body = r#"{"query":"mutation { __typename }"}"#;
    let post = |app: &TestApp, content_type: &'static str| {
        app.client
            .post(app.url("/graphql"))
            .header(header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
    };
    for simple in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let refused = post(&app, simple).await.unwrap();
        assert_eq!(
            refused.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{simple}"
        );
        let body: Value = refused.json().await.unwrap();
        assert_eq!(code(&body), "BAD_USER_INPUT");
    }
    // The switch lets a client skip the preflight with a text/plain post.
    let open = app
        .another_instance(|settings| settings.csrf_prevention = false)
        .await;
    let allowed = post(&open, "text/plain").await.unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    let allowed: Value = allowed.json().await.unwrap();
    assert_eq!(data(&allowed)["__typename"], "Mutation");
    let xml = post(&open, "application/xml").await.unwrap();
    assert_eq!(xml.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn large_responses_are_compressed_and_revalidate() {
    let app = spawn_app().await;
    let author = app.register("compressor").await;
    for n in 0..30 {
        app.create_article(&author, &format!("Article number {n}"), &["zip"], true)
            .await;
    }
    let query = "{ articles(first: 30) { nodes { title description body } } }";
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let send = |client: &reqwest::Client, query: &str| {
        client
            .get(app.url("/graphql"))
            .query(&[("query", query)])
            .header("apollo-require-preflight", "true")
            .header(header::ACCEPT_ENCODING, "gzip")
            .send()
    };
    let compressed = send(&raw, query).await.unwrap();
    assert_eq!(compressed.headers()[header::CONTENT_ENCODING], "gzip");
    let vary: Vec<&str> = compressed
        .headers()
        .get_all(header::VARY)
        .iter()
        .map(|value| value.to_str().unwrap())
        .collect();
    assert!(vary.contains(&"accept-encoding"), "{vary:?}");
    let etag = compressed.headers()[header::ETAG].clone();
    assert!(etag.to_str().unwrap().starts_with("W/"), "a weak validator");
    let wire = compressed.bytes().await.unwrap().len();

    // The same content, decoded by a client that accepts gzip.
    let decoded: Value = send(&app.client, query)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let plain = serde_json::to_vec(&decoded).unwrap().len();
    assert_eq!(
        data(&decoded)["articles"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        30
    );
    assert!(wire * 3 < plain, "{wire} compressed bytes for {plain}");

    let revalidated = raw
        .get(app.url("/graphql"))
        .query(&[("query", query)])
        .header("apollo-require-preflight", "true")
        .header(header::ACCEPT_ENCODING, "gzip")
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);

    // Small answers are sent as they are.
    let small = send(&raw, "{ __typename }").await.unwrap();
    assert!(!small.headers().contains_key(header::CONTENT_ENCODING));
}

#[tokio::test]
async fn a_request_past_the_deadline_gets_a_timeout_error_and_the_server_goes_on() {
    let writer = spawn_app().await;
    let author = writer.register("patient").await;
    writer.create_article(&author, "Slow", &[], true).await;
    // Loading a listed article's body waits 2 s for its batch, past the
    // 300 ms deadline.
    let slow = writer
        .another_instance(|settings| {
            settings.request_timeout = 0.3;
            settings.dataloader_delay_us = 2_000_000;
            settings.response_cache = false;
        })
        .await;
    let started = std::time::Instant::now();
    let (status, body) = slow
        .post(None, json!({ "query": "{ articles { nodes { body } } }" }))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "stopped at the deadline"
    );
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (code, _, message) = error(&body);
    assert_eq!(code, "TIMEOUT");
    assert!(message.contains("300 ms"), "{message}");
    let (status, body) = slow.post(None, json!({ "query": "{ __typename }" })).await;
    assert_eq!(status, StatusCode::OK);
    data(&body);
}

#[tokio::test]
async fn subscriptions_outlive_the_request_deadline() {
    let app = spawn_app_with(|settings| settings.request_timeout = 0.3).await;
    let author = app.register("lasting").await;
    let article = app.create_article(&author, "Long lived", &[], true).await;
    let mut socket = watch_comments(&app, "graphql-transport-ws", None, &article).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    comment(&app, &author, &article, "still here").await;
    let event = receive(&mut socket).await;
    assert_eq!(
        event["payload"]["data"]["commentAdded"]["body"],
        "still here"
    );
}
