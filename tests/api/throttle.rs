//! Password guessing is slowed per account and per client address.

use std::time::Duration;

use reqwest::header;
use serde_json::{Value, json};

use crate::helpers::{TestApp, code, data, error, spawn_app_with};

const LOGIN: &str = "mutation($email: String!, $password: String!) {
    login(input: { email: $email, password: $password }) { user { username } } }";
const GOOD_PASSWORD: &str = "correct horse battery staple";

async fn login(
    app: &TestApp,
    email: &str,
    password: &str,
    from: Option<&str>,
) -> (Value, Option<String>) {
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": LOGIN, "variables": { "email": email, "password": password } }));
    if let Some(address) = from {
        request = request.header("x-forwarded-for", format!("203.0.113.9, {address}"));
    }
    let response = request.send().await.unwrap();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|value| value.to_str().unwrap().to_owned());
    (response.json().await.unwrap(), retry_after)
}

#[tokio::test]
async fn repeated_failures_lock_the_account_even_for_the_right_password() {
    let app = spawn_app_with(|s| s.login_failures_per_account = 3).await;
    app.register("target").await;
    app.register("bystander").await;
    for _ in 0..3 {
        let (response, _) = login(&app, "target@example.com", "wrong password!", None).await;
        assert_eq!(code(&response), "UNAUTHENTICATED");
    }
    let (locked, retry_after) = login(&app, "TARGET@example.com", GOOD_PASSWORD, None).await;
    assert_eq!(code(&locked), "RATE_LIMITED");
    let hint = locked["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap();
    assert!(hint > 0 && hint <= 900, "{locked}");
    assert_eq!(retry_after, Some(hint.to_string()));

    // Other accounts are not affected.
    let (ok, _) = login(&app, "bystander@example.com", GOOD_PASSWORD, None).await;
    assert_eq!(data(&ok)["login"]["user"]["username"], "bystander");
    // Unknown emails are counted too, so the lock reveals nothing.
    for _ in 0..3 {
        login(&app, "ghost@example.com", "wrong password!", None).await;
    }
    let (ghost, _) = login(&app, "ghost@example.com", "wrong password!", None).await;
    assert_eq!(error(&ghost).0, "RATE_LIMITED");
}

#[tokio::test]
async fn a_successful_login_clears_the_account_failures() {
    let app = spawn_app_with(|s| s.login_failures_per_account = 3).await;
    app.register("forgetful").await;
    for round in 0..3 {
        for _ in 0..2 {
            login(&app, "forgetful@example.com", "wrong password!", None).await;
        }
        let (ok, _) = login(&app, "forgetful@example.com", GOOD_PASSWORD, None).await;
        assert_eq!(
            data(&ok)["login"]["user"]["username"],
            "forgetful",
            "round {round}"
        );
    }
}

#[tokio::test]
async fn one_address_spraying_many_accounts_is_stopped() {
    let app = spawn_app_with(|s| {
        s.login_failures_per_address = 5;
        s.trust_forwarded_for = true;
    })
    .await;
    app.register("victim").await;
    for i in 0..5 {
        let email = format!("guess{i}@example.com");
        login(&app, &email, "wrong password!", Some("198.51.100.7")).await;
    }
    let (blocked, retry_after) = login(
        &app,
        "victim@example.com",
        GOOD_PASSWORD,
        Some("198.51.100.7"),
    )
    .await;
    assert_eq!(code(&blocked), "RATE_LIMITED");
    assert!(retry_after.is_some());
    // The budget belongs to the address the proxy saw, not to the spoofable
    // first hop, and other addresses keep theirs.
    let (ok, _) = login(
        &app,
        "victim@example.com",
        GOOD_PASSWORD,
        Some("198.51.100.8"),
    )
    .await;
    assert_eq!(data(&ok)["login"]["user"]["username"], "victim");
}

#[tokio::test]
async fn instances_share_the_budget_exactly_when_redis_is_configured() {
    let prefix = format!("folio-test:{}:shared:", uuid::Uuid::new_v4().simple());
    let configure = |s: &mut folio::config::ServeSettings| {
        s.login_failures_per_account = 2;
        s.redis_prefix = prefix.clone();
    };
    let first = spawn_app_with(configure).await;
    let second = spawn_app_with(configure).await;
    for _ in 0..2 {
        login(&first, "shared@example.com", "wrong password!", None).await;
    }
    let (response, _) = login(&second, "shared@example.com", "wrong password!", None).await;
    let redis = std::env::var("FOLIO_TEST_REDIS_URL").is_ok_and(|url| !url.is_empty());
    let expected = if redis {
        "RATE_LIMITED"
    } else {
        "UNAUTHENTICATED"
    };
    assert_eq!(code(&response), expected);
}

#[tokio::test]
async fn refresh_tokens_expire() {
    let app = spawn_app_with(|s| s.refresh_token_ttl = 1).await;
    let user = app.register("brief").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let response = app
        .query(
            "mutation($token: String!) { refreshSession(refreshToken: $token) { accessToken } }",
            json!({ "token": user.refresh_token }),
        )
        .await;
    assert_eq!(code(&response), "UNAUTHENTICATED");
}

#[tokio::test]
async fn the_cli_promotes_the_first_admin() {
    let app = spawn_app_with(|_| {}).await;
    let first = app.register("first").await;
    let set_role = "mutation { setUserRole(username: \"first\", role: MODERATOR) { role } }";
    assert_eq!(
        code(&app.query_as(&first, set_role, json!({})).await),
        "FORBIDDEN"
    );
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(["user", "promote", "first", "ADMIN"])
        .env("DATABASE_URL", &app.database.url)
        .status()
        .expect("folio runs");
    assert!(status.success());
    let granted = app.query_as(&first, set_role, json!({})).await;
    assert_eq!(data(&granted)["setUserRole"]["role"], "MODERATOR");
}
