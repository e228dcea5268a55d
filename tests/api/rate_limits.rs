//! Rate limiting by query cost: per client address, per user, across
//! instances when they share Redis.

use std::time::Duration;

use folio::config::ServeSettings;
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, code, data, spawn_app_with};

const SMALL: &str = "{ __typename }";
const PAGE: &str = "{ articles(first: 20) { nodes { title slug } } }";

/// Tight budgets, and no response cache (its hits are not charged).
fn tight(per_address: u64, per_user: u64) -> impl Fn(&mut ServeSettings) + Clone {
    move |s: &mut ServeSettings| {
        s.max_complexity = 100;
        s.cost_per_address = Some(per_address);
        s.cost_per_user = Some(per_user);
        s.response_cache = false;
        s.trust_forwarded_for = true;
    }
}

struct Reply {
    status: StatusCode,
    body: Value,
    remaining: Option<u64>,
    limit: Option<u64>,
    retry_after: Option<u64>,
}

async fn run(app: &TestApp, query: &str, token: Option<&str>, from: &str) -> Reply {
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .header("x-forwarded-for", from)
        .json(&json!({ "query": query }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let number = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().parse::<u64>().unwrap())
    };
    Reply {
        status: response.status(),
        remaining: number("ratelimit-remaining"),
        limit: number("ratelimit-limit"),
        retry_after: number(header::RETRY_AFTER.as_str()),
        body: response.json().await.unwrap(),
    }
}

/// Spends the budget with `query` until the server refuses; the refusal.
async fn exhaust(app: &TestApp, query: &str, token: Option<&str>, from: &str) -> Reply {
    for _ in 0..1_000 {
        let reply = run(app, query, token, from).await;
        if reply.status != StatusCode::OK {
            return reply;
        }
        data(&reply.body);
    }
    panic!("never refused");
}

#[tokio::test]
async fn a_client_over_its_budget_is_refused_until_the_window_resets() {
    let app = spawn_app_with(|s| {
        tight(1_000, 1_000)(s);
        s.cost_window = 2;
    })
    .await;
    let small = run(&app, SMALL, None, "192.0.2.1").await;
    assert_eq!(small.limit, Some(1_000));
    let small_cost = 1_000 - small.remaining.unwrap();
    let page = run(&app, PAGE, None, "192.0.2.1").await;
    let page_cost = small.remaining.unwrap() - page.remaining.unwrap();
    assert_eq!(small_cost, 1);
    assert!(page_cost > 20, "a page costs its size: {page_cost}");

    let refused = exhaust(&app, PAGE, None, "192.0.2.1").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(code(&refused.body), "RATE_LIMITED");
    let message = refused.body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains(&format!("costs {page_cost}")), "{message}");
    let retry_after = refused.retry_after.expect("Retry-After");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(
        refused.body["errors"][0]["extensions"]["retryAfter"],
        retry_after
    );
    assert!(refused.remaining.unwrap() < page_cost);
    assert!(
        refused.body.get("data").is_none(),
        "refused before execution: no data entry"
    );
    // A refusal spends nothing: what is left still buys a small query.
    let remaining = refused.remaining.unwrap();
    if remaining > 0 {
        let small = run(&app, SMALL, None, "192.0.2.1").await;
        assert_eq!(small.remaining, Some(remaining - 1));
    }
    // Other clients have their own budget.
    assert_eq!(
        run(&app, PAGE, None, "192.0.2.2").await.status,
        StatusCode::OK
    );

    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let again = run(&app, PAGE, None, "192.0.2.1").await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.remaining, Some(1_000 - page_cost));
}

#[tokio::test]
async fn a_user_has_one_budget_wherever_they_connect_from() {
    let app = spawn_app_with(tight(100_000, 500)).await;
    let reader = app.register("reader").await;
    let other = app.register("other").await;
    let refused = exhaust(&app, PAGE, Some(&reader.token), "198.51.100.1").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        refused.limit,
        Some(500),
        "the user's budget is the tight one"
    );
    let elsewhere = run(&app, PAGE, Some(&reader.token), "198.51.100.2").await;
    assert_eq!(elsewhere.status, StatusCode::TOO_MANY_REQUESTS);
    // The address is not locked for anyone else.
    let anonymous = run(&app, PAGE, None, "198.51.100.1").await;
    assert_eq!(anonymous.status, StatusCode::OK);
    assert_eq!(anonymous.limit, Some(100_000));
    let colleague = run(&app, PAGE, Some(&other.token), "198.51.100.1").await;
    assert_eq!(colleague.status, StatusCode::OK);
}

#[tokio::test]
async fn each_operation_of_a_batch_is_charged_and_refused_on_its_own() {
    let app = spawn_app_with(tight(150, 150)).await;
    let page_cost = 150 - run(&app, PAGE, None, "192.0.2.7").await.remaining.unwrap();
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("x-forwarded-for", "192.0.2.7")
        .json(&json!([{ "query": PAGE }, { "query": PAGE }, { "query": SMALL }]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    let body: Value = response.json().await.unwrap();
    let refused = body
        .as_array()
        .unwrap()
        .iter()
        .filter(|reply| reply["errors"][0]["extensions"]["code"] == "RATE_LIMITED")
        .count();
    // 150 buys two pages in all: one was spent above.
    assert!(page_cost * 2 <= 150 && page_cost * 3 > 150, "{page_cost}");
    assert_eq!(refused, 1, "{body}");
    assert_eq!(data(&body[2])["__typename"], "Query");
}

#[tokio::test]
async fn get_requests_and_response_cache_hits() {
    let app = spawn_app_with(|s| {
        tight(200, 200)(s);
        s.response_cache = true;
    })
    .await;
    // A cached anonymous response is served without spending budget: it
    // costs the server nothing the budget protects.
    let first = run(&app, PAGE, None, "192.0.2.9").await;
    let hit = run(&app, PAGE, None, "192.0.2.9").await;
    assert_eq!(hit.status, StatusCode::OK);
    assert_eq!(hit.remaining, None);
    let after = run(&app, SMALL, None, "192.0.2.9").await;
    assert_eq!(after.remaining, Some(first.remaining.unwrap() - 1));

    let uncached = "{ articles(first: 20) { nodes { title } } __typename }";
    let refused = exhaust(
        &app,
        uncached,
        Some(&app.register("getter").await.token),
        "192.0.2.9",
    )
    .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    let get = app
        .graphql_get()
        .query(&[("query", uncached)])
        .header("x-forwarded-for", "192.0.2.9")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(get.headers().contains_key(header::RETRY_AFTER));
}

#[tokio::test]
async fn budgets_are_shared_by_instances_exactly_when_redis_is_configured() {
    let prefix = format!("folio-test:{}:", uuid::Uuid::new_v4().simple());
    let configure = |s: &mut ServeSettings| {
        tight(300, 300)(s);
        s.redis_prefix = prefix.clone();
    };
    let first = spawn_app_with(configure).await;
    let second = first.another_instance(configure).await;
    let refused = exhaust(&first, PAGE, None, "203.0.113.5").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    let redis = std::env::var("FOLIO_TEST_REDIS_URL").is_ok_and(|url| !url.is_empty());
    let on_second = run(&second, PAGE, None, "203.0.113.5").await;
    if redis {
        assert_eq!(on_second.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(on_second.remaining, refused.remaining);
    } else {
        assert_eq!(on_second.status, StatusCode::OK);
    }
}
