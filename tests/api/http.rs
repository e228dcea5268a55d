use std::time::Duration;

use reqwest::{StatusCode, header};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{code, data, error, spawn_app, spawn_app_with};

#[tokio::test]
async fn queries_work_over_get_and_mutations_do_not() {
    let app = spawn_app().await;
    let response = app
        .graphql_get()
        .query(&[("query", "{ articles { totalCount } }")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(data(&body)["articles"]["totalCount"], 0);

    let mutation = app
        .graphql_get()
        .query(&[("query", "mutation { logout(refreshToken: \"x\") }")])
        .send()
        .await
        .unwrap();
    assert_eq!(mutation.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(mutation.headers()[header::ALLOW], "POST");
}

#[tokio::test]
async fn batched_requests_answer_in_order() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            None,
            json!([
                { "query": "{ viewer { id } }" },
                { "query": "query Tags { tags { totalCount } }", "operationName": "Tags" },
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body[0]["data"]["viewer"].is_null());
    assert_eq!(body[1]["data"]["tags"]["totalCount"], 0);
}

#[tokio::test]
async fn graphql_response_json_is_negotiated() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .header(header::ACCEPT, "application/graphql-response+json")
        .json(&json!({ "query": "{ nope }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/graphql-response+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED");

    let (_, parse_error) = app.post(None, json!({ "query": "{ articles {" })).await;
    assert_eq!(code(&parse_error), "GRAPHQL_PARSE_FAILED");
    let (_, bad_variable) = app
        .post(
            None,
            json!({ "query": "query($n: Int) { articles(first: $n) { totalCount } }",
                "variables": { "n": "ten" } }),
        )
        .await;
    let errors = bad_variable["errors"].as_array().unwrap();
    assert!(!errors.is_empty());
    for error in errors {
        assert_eq!(error["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
    }
}

/// Apollo Client reads a non-2xx answer's errors only in this media type:
/// a 401 in plain JSON reaches its error link without the code its
/// token-refresh recipe looks for.
#[tokio::test]
async fn refusals_before_graphql_follow_accept_too() {
    let app = spawn_app_with(|settings| settings.max_body_bytes = 1024).await;
    let accept = |request: reqwest::RequestBuilder| {
        request.header(header::ACCEPT, "application/graphql-response+json")
    };
    let cases = [
        (
            accept(app.client.post(app.url("/graphql")))
                .bearer_auth("not.a.token")
                .json(&json!({ "query": "{ viewer { id } }" })),
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
        ),
        (
            accept(app.client.post(app.url("/graphql")))
                .header(header::CONTENT_TYPE, "text/plain")
                .body("{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
        ),
        (
            accept(app.client.get(app.url("/graphql")))
                .query(&[("query", "mutation { __typename }")]),
            StatusCode::METHOD_NOT_ALLOWED,
            "BAD_USER_INPUT",
        ),
        (
            accept(app.client.post(app.url("/graphql")))
                .json(&json!({ "query": format!("{{ __typename }} #{}", "x".repeat(2048)) })),
            StatusCode::PAYLOAD_TOO_LARGE,
            "BAD_USER_INPUT",
        ),
    ];
    for (request, status, expected) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/graphql-response+json",
            "{status}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(code(&body), expected, "{status}");
    }
}

/// As Python's urllib and many HTTP libraries do: the whole request is
/// written before anything is read. The body is larger than the loopback
/// socket buffers, so without reading it the server could not answer.
#[tokio::test]
async fn a_client_that_writes_its_whole_body_first_gets_its_413() {
    use std::io::{Read, Write};
    let app = spawn_app().await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let body = format!(
        r#"{{"query":"{{ __typename }}","pad":"{}"}}"#,
        "x".repeat(6 << 20)
    );
    let answer = tokio::task::spawn_blocking(move || {
        let mut socket = std::net::TcpStream::connect(address).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: folio\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        socket.write_all(head.as_bytes()).unwrap();
        socket
            .write_all(body.as_bytes())
            .expect("the whole body is taken");
        let mut answer = String::new();
        socket
            .read_to_string(&mut answer)
            .expect("the answer arrives");
        answer
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let json = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    let json: Value = serde_json::from_str(json).unwrap();
    assert_eq!(code(&json), "BAD_USER_INPUT");
    // And the server keeps serving.
    assert_eq!(
        app.post(None, json!({ "query": "{ __typename }" })).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = spawn_app_with(|settings| settings.max_body_bytes = 1024).await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": format!("{{ articles {{ totalCount }} }} #{}", "x".repeat(2048)) }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // And the server keeps serving.
    let (status, _) = app
        .post(None, json!({ "query": "{ viewer { id } }" }))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn internal_errors_reveal_nothing() {
    let app = spawn_app().await;
    let author = app.register("breaker").await;
    let article = app.create_article(&author, "Doomed", &[], true).await;
    // Break the storage underneath the running server.
    app.db
        .execute_unprepared("DROP TABLE comments")
        .await
        .unwrap();
    // `node` is nullable, `comments` is not; "Q29tbWVudDox" is Comment:1.
    let response = app
        .query(
            "query($slug: String!) { article(slug: $slug) { title comments { totalCount } }
                node(id: \"Q29tbWVudDox\") { id } }",
            json!({ "slug": article["slug"] }),
        )
        .await;
    let errors = response["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{response}");
    for error in errors {
        assert_eq!(error["extensions"]["code"], "INTERNAL_SERVER_ERROR");
        assert_eq!(error["message"], "Internal server error");
    }
    let text = response.to_string().to_lowercase();
    for leak in ["sql", "table", "select", "no such", "relation"] {
        assert!(!text.contains(leak), "leaked {leak}: {text}");
    }
    // Each failure is reported at its field. The failed nullable field is
    // present as null; the failed non-null one nulls its nearest nullable
    // parent, as the spec has it, and the response's other fields stand.
    let paths: Vec<&Value> = errors.iter().map(|error| &error["path"]).collect();
    assert!(paths.contains(&&json!(["article", "comments"])));
    assert!(paths.contains(&&json!(["node"])));
    assert_eq!(response["data"].get("article"), Some(&Value::Null));
    assert_eq!(response["data"].get("node"), Some(&Value::Null));
    let title = app
        .query(
            "query($slug: String!) { article(slug: $slug) { title } }",
            json!({ "slug": article["slug"] }),
        )
        .await;
    assert_eq!(title["data"]["article"]["title"], "Doomed", "{title}");
}

#[tokio::test]
async fn health_is_served() {
    let app = spawn_app().await;
    let live = app.get("/health/live").await;
    assert_eq!(live.status(), StatusCode::OK);
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let checks: Value = ready.json().await.unwrap();
    assert_eq!(checks["checks"]["database"], "ok");
    if std::env::var("FOLIO_TEST_REDIS_URL").is_ok_and(|url| !url.is_empty()) {
        assert_eq!(checks["checks"]["redis"], "ok");
    }
}

#[tokio::test]
async fn readiness_reports_a_dead_database() {
    let app = spawn_app().await;
    app.db.clone().close().await.unwrap();
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "unavailable");
    let live = app.get("/health/live").await;
    assert_eq!(live.status(), StatusCode::OK);
}

#[tokio::test]
async fn requests_that_cannot_say_which_operation_to_run_are_bad_input() {
    let app = spawn_app().await;
    let two = "query A { tags { totalCount } } query B { tags { totalCount } }";
    for body in [
        json!({ "query": "{ tags { totalCount } }", "operationName": "Missing" }),
        json!({ "query": two }),
        json!({ "query": "subscription { favoritesChanged(articleId: \"x\") { id } }" }),
    ] {
        let (status, response) = app.post(None, body.clone()).await;
        assert_eq!(status, StatusCode::OK);
        let (code, _, message) = error(&response);
        assert_eq!(code, "BAD_USER_INPUT", "{body}: {response}");
        assert_ne!(message, "Internal server error");
    }
}

#[tokio::test]
async fn requests_refused_before_execution_have_no_data_entry() {
    let app = spawn_app().await;
    for query in ["{ articles(first: 1) { ", "{ nope }"] {
        let (_, body) = app.post(None, json!({ "query": query })).await;
        assert!(body.get("data").is_none(), "{body}");
        assert!(body["errors"].is_array());
    }
    // An execution error keeps `data`, null or not.
    let (_, body) = app
        .post(
            None,
            json!({ "query": "{ articles(first: 1, after: \"bad\") { totalCount } }" }),
        )
        .await;
    assert!(body.get("data").is_some(), "{body}");
}

#[tokio::test]
async fn a_post_that_is_not_json_is_refused() {
    let app = spawn_app().await;
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = app
            .client
            .post(app.url("/graphql"))
            .body(r#"{"query":"{ __typename }"}"#);
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let body: Value = response.json().await.unwrap();
        assert_eq!(code(&body), "BAD_USER_INPUT");
    }
    let response = app
        .client
        .post(app.url("/graphql"))
        .header(header::CONTENT_TYPE, "Application/JSON; charset=utf-8")
        .body(r#"{"query":"{ __typename }"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_request_without_a_query_is_a_bad_request() {
    let app = spawn_app().await;
    for body in [
        json!({ "qeury": "{ __typename }" }),
        json!({ "query": "  " }),
    ] {
        let (status, response) = app.post(None, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(code(&response), "BAD_USER_INPUT");
    }
}

/// Operations are parsed once and kept by their text: a kept document must
/// answer every later request as a fresh parse would, whatever its
/// variables drop (`@skip` removes fields from the document it runs) and
/// whichever of its operations is named.
#[tokio::test]
async fn a_kept_document_answers_each_request_afresh() {
    let app = spawn_app().await;
    let query = "query Both($skip: Boolean!) {
                     again: __typename
                     tags(first: 1) @skip(if: $skip) { totalCount }
                 }
                 query Other { other: __typename }";
    for skip in [true, false, true, false] {
        let body =
            json!({ "query": query, "operationName": "Both", "variables": { "skip": skip } });
        let (_, response) = app.post(None, body).await;
        let expected = if skip {
            json!({ "again": "Query" })
        } else {
            json!({ "again": "Query", "tags": { "totalCount": 0 } })
        };
        assert_eq!(data(&response), &expected, "skip = {skip}");
        let (_, other) = app
            .post(None, json!({ "query": query, "operationName": "Other" }))
            .await;
        assert_eq!(data(&other), &json!({ "other": "Query" }));
    }
    // A document that does not parse is reported each time, never kept.
    for _ in 0..2 {
        let response = app.query("{ broken", json!({})).await;
        assert_eq!(code(&response), "GRAPHQL_PARSE_FAILED");
    }
}
