//! `/metrics`: scraped before and after real traffic, each series must move
//! by what that traffic did.

use std::collections::HashMap;

use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, data, error, spawn_app_with};
use crate::subscriptions::{comment, receive, watch_comments};

/// One scrape: every sample by its series (`name{labels}`).
struct Scrape(HashMap<String, f64>);

impl Scrape {
    async fn of(app: &TestApp) -> Self {
        let response = app.get("/metrics").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text"),
        );
        let text = response.text().await.unwrap();
        assert!(text.ends_with("# EOF\n"), "a complete exposition");
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').expect("series and value");
                (series.to_owned(), value.parse().expect("a number"))
            })
            .collect();
        Self(samples)
    }

    fn value(&self, series: &str) -> f64 {
        self.0.get(series).copied().unwrap_or(0.0)
    }

    fn has(&self, series: &str) -> bool {
        self.0.contains_key(series)
    }
}

/// How much `series` grew between two scrapes.
fn moved(before: &Scrape, after: &Scrape, series: &str) -> f64 {
    after.value(series) - before.value(series)
}

fn sha256(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

#[tokio::test]
async fn metrics_count_what_the_server_did() {
    let app = spawn_app_with(|settings| {
        settings.max_complexity = 5_000;
        settings.cost_per_address = Some(5_000);
        settings.login_failures_per_account = 1;
    })
    .await;
    let author = app.register("metered").await;
    let article = app.create_article(&author, "Counted", &["m"], true).await;
    let before = Scrape::of(&app).await;

    // Operations by name and outcome; the second read is a cache hit.
    for _ in 0..2 {
        let response = app
            .query("query Articles { articles { nodes { title } } }", json!({}))
            .await;
        data(&response);
    }
    let response = app.query("query Broken { nope }", json!({})).await;
    assert_eq!(error(&response).0, "GRAPHQL_VALIDATION_FAILED");
    let response = app
        .query("query Feed { feed { totalCount } }", json!({}))
        .await;
    assert_eq!(error(&response).0, "UNAUTHENTICATED");

    // A persisted query: unknown, registered, then found.
    let text = "query Persisted { tags { nodes { name } } }";
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256(text) } });
    let (_, response) = app.post(None, json!({ "extensions": extensions })).await;
    assert_eq!(error(&response).0, "PERSISTED_QUERY_NOT_FOUND");
    let (_, response) = app
        .post(None, json!({ "query": text, "extensions": extensions }))
        .await;
    data(&response);
    let (_, response) = app.post(None, json!({ "extensions": extensions })).await;
    data(&response);

    // A refused login.
    for _ in 0..2 {
        app.query(
            "mutation($input: LoginInput!) { login(input: $input) { accessToken } }",
            json!({ "input": { "email": "metered@example.com", "password": "wrong password!" } }),
        )
        .await;
    }

    // A subscriber, and an event it receives.
    let mut socket = watch_comments(&app, "graphql-transport-ws", None, &article).await;
    let during = Scrape::of(&app).await;
    comment(&app, &author, &article, "seen live").await;
    let event = receive(&mut socket).await;
    assert_eq!(event["type"], "next", "{event}");

    // Spend the address's cost budget.
    let mut refused = false;
    for _ in 0..50 {
        // Authenticated, so not answered from the (free) response cache.
        let (status, _) = app
            .post(
                Some(&author.token),
                json!({ "query": "query Spend { articles(first: 100) { nodes { title author { username } } } }" }),
            )
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused = true;
            break;
        }
    }
    assert!(refused, "the budget ran out");
    let after = Scrape::of(&app).await;

    let ops = "folio_graphql_operations_total";
    for (labels, count) in [
        (r#"operation="Articles",outcome="ok""#, 2.0),
        (r#"operation="Broken",outcome="rejected""#, 1.0),
        (r#"operation="Feed",outcome="error""#, 1.0),
        (r#"operation="Persisted",outcome="ok""#, 2.0),
        // The request naming an unknown hash has no query, so no name.
        (r#"operation="(anonymous)",outcome="rejected""#, 1.0),
        (r#"operation="Spend",outcome="rejected""#, 1.0),
    ] {
        assert_eq!(
            moved(&before, &after, &format!("{ops}{{{labels}}}")),
            count,
            "{labels}"
        );
    }
    assert_eq!(
        moved(
            &before,
            &after,
            r#"folio_graphql_operation_duration_seconds_count{operation="Articles",outcome="ok"}"#
        ),
        2.0
    );
    for (code, count) in [
        ("GRAPHQL_VALIDATION_FAILED", 1.0),
        // The anonymous feed, and the first wrong password.
        ("UNAUTHENTICATED", 2.0),
    ] {
        let series = format!(r#"folio_graphql_errors_total{{code="{code}"}}"#);
        assert_eq!(moved(&before, &after, &series), count, "{code}");
    }
    // The cost refusal, and the second failed login.
    assert!(
        moved(
            &before,
            &after,
            r#"folio_graphql_errors_total{code="RATE_LIMITED"}"#
        ) >= 2.0
    );
    assert_eq!(
        moved(
            &before,
            &after,
            r#"folio_rate_limited_total{limit="login"}"#
        ),
        1.0
    );
    assert_eq!(
        moved(&before, &after, r#"folio_rate_limited_total{limit="cost"}"#),
        1.0
    );
    assert_eq!(
        moved(
            &before,
            &after,
            r#"folio_http_responses_total{route="/graphql",status="429"}"#
        ),
        1.0
    );
    assert!(
        moved(
            &before,
            &after,
            r#"folio_http_responses_total{route="/graphql",status="200"}"#
        ) >= 8.0
    );

    for (result, count) in [("hit", 1.0), ("miss", 1.0), ("registered", 1.0)] {
        let series = format!(r#"folio_persisted_queries_total{{result="{result}"}}"#);
        assert_eq!(moved(&before, &after, &series), count, "{result}");
    }
    // Anonymous queries go through the cache: Articles (a miss, then a
    // hit), Broken, Feed, and Persisted (a miss, then a hit).
    for (result, count) in [("hit", 2.0), ("miss", 4.0)] {
        let series = format!(r#"folio_response_cache_lookups_total{{result="{result}"}}"#);
        assert_eq!(moved(&before, &after, &series), count, "{result}");
    }

    assert!(moved(&before, &after, "folio_db_statements_total") > 0.0);
    assert!(
        moved(&before, &after, "folio_db_statement_duration_seconds_count")
            == moved(&before, &after, "folio_db_statements_total")
    );
    assert_eq!(after.value("folio_db_pool_max_connections"), 5.0);
    let pool = after.value(r#"folio_db_pool_connections{state="in_use"}"#)
        + after.value(r#"folio_db_pool_connections{state="idle"}"#);
    assert!((1.0..=5.0).contains(&pool), "pool size {pool}");

    assert_eq!(before.value("folio_websocket_connections"), 0.0);
    assert_eq!(during.value("folio_websocket_connections"), 1.0);
    assert_eq!(during.value("folio_subscriptions"), 1.0);
    assert_eq!(during.value("folio_subscription_executions"), 1.0);
    assert_eq!(
        moved(
            &before,
            &after,
            r#"folio_events_published_total{event="commentAdded"}"#
        ),
        1.0
    );
    assert_eq!(
        moved(
            &before,
            &after,
            r#"folio_subscription_messages_total{result="delivered"}"#
        ),
        1.0
    );
    let redis = std::env::var("FOLIO_TEST_REDIS_URL").is_ok_and(|url| !url.is_empty());
    assert_eq!(after.has("folio_redis_failures_total"), redis);
    if redis {
        assert_eq!(moved(&during, &after, "folio_events_received_total"), 1.0);
    }

    drop(socket);
    for _ in 0..50 {
        if Scrape::of(&app).await.value("folio_websocket_connections") == 0.0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the closed connection is still counted");
}

#[tokio::test]
async fn operation_names_cannot_grow_the_metrics_without_bound() {
    let app = spawn_app_with(|_| {}).await;
    for n in 0..210 {
        let response = app
            .query(&format!("query Invented{n} {{ __typename }}"), json!({}))
            .await;
        data(&response);
    }
    let scrape = Scrape::of(&app).await;
    let named = scrape
        .0
        .keys()
        .filter(|series| series.starts_with("folio_graphql_operations_total{operation=\"Invented"))
        .count();
    assert_eq!(named, 200);
    assert!(
        scrape.value(r#"folio_graphql_operations_total{operation="(other)",outcome="ok"}"#) >= 10.0
    );
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let app = spawn_app_with(|settings| settings.metrics = false).await;
    assert_eq!(app.get("/metrics").await.status(), StatusCode::NOT_FOUND);
    let _: Value = app.query("{ __typename }", json!({})).await;
}
