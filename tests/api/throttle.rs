//! Password guessing is slowed per account and per client address.

use std::time::Duration;

use reqwest::header;
use serde_json::{Value, json};

use crate::helpers::{TestApp, code, data, error, memory_of, spawn_app_with};

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

/// Answers to `logins` sent at once: how many had their password checked
/// (every answer but RATE_LIMITED), and whether the right one got in.
fn evaluated(answers: &[Value]) -> (usize, bool) {
    let checked = answers
        .iter()
        .filter(|answer| answer["errors"][0]["extensions"]["code"] != "RATE_LIMITED")
        .count();
    let accepted = answers
        .iter()
        .any(|answer| answer["data"]["login"]["user"]["username"].is_string());
    (checked, accepted)
}

#[tokio::test]
async fn concurrent_guesses_are_counted_before_any_password_is_checked() {
    let app = spawn_app_with(|s| s.login_failures_per_account = 10).await;
    app.register("besieged").await;
    // 39 wrong guesses and then the right password, all at once.
    let guesses = (0..40).map(|i| {
        let password = if i == 39 {
            GOOD_PASSWORD
        } else {
            "wrong password!"
        };
        login(&app, "besieged@example.com", password, None)
    });
    let answers: Vec<Value> = futures_util::future::join_all(guesses)
        .await
        .into_iter()
        .map(|(answer, _)| answer)
        .collect();
    let (checked, _) = evaluated(&answers);
    assert!(checked <= 10, "{checked} passwords were checked");
}

#[tokio::test]
async fn logins_over_one_websocket_and_in_batches_share_the_address_budget() {
    use crate::subscriptions::{open, receive, send};

    let app = spawn_app_with(|s| {
        s.login_failures_per_address = 100;
        s.max_batch = 10;
    })
    .await;
    // 150 operations on one socket, each guessing at another account.
    let mut socket = open(
        &app.address,
        "/graphql/ws",
        "graphql-transport-ws",
        None,
        None,
    )
    .await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    for i in 0..150 {
        send(
            &mut socket,
            json!({ "id": i.to_string(), "type": "subscribe", "payload": {
                "query": LOGIN,
                "variables": { "email": format!("ws{i}@example.com"), "password": "wrong password!" } } }),
        )
        .await;
    }
    let mut answers = Vec::new();
    while answers.len() < 150 {
        let message = receive(&mut socket).await;
        if message["type"] == "next" {
            answers.push(message["payload"].clone());
        }
    }
    let (over_socket, _) = evaluated(&answers);
    assert!(over_socket <= 100, "{over_socket} passwords were checked");
    // The address has nothing left, in batches too.
    let batch: Vec<Value> = (0..10)
        .map(|i| {
            json!({ "query": LOGIN, "variables": {
            "email": format!("batch{i}@example.com"), "password": "wrong password!" } })
        })
        .collect();
    let (_, answered) = app.post(None, Value::Array(batch)).await;
    let (in_batch, _) = evaluated(answered.as_array().unwrap());
    assert_eq!(over_socket + in_batch, 100);
}

#[tokio::test]
async fn concurrent_guesses_on_two_instances_share_one_budget_with_redis() {
    if std::env::var("FOLIO_TEST_REDIS_URL").is_ok_and(|url| !url.is_empty()) {
        let prefix = format!("folio-test:{}:shared:", uuid::Uuid::new_v4().simple());
        let configure = |s: &mut folio::config::ServeSettings| {
            s.login_failures_per_account = 10;
            s.redis_prefix = prefix.clone();
        };
        let first = spawn_app_with(configure).await;
        let second = spawn_app_with(configure).await;
        let guesses = (0..40).map(|i| {
            let app = if i % 2 == 0 { &first } else { &second };
            login(app, "everywhere@example.com", "wrong password!", None)
        });
        let answers: Vec<Value> = futures_util::future::join_all(guesses)
            .await
            .into_iter()
            .map(|(answer, _)| answer)
            .collect();
        let (checked, _) = evaluated(&answers);
        assert_eq!(checked, 10, "{checked} passwords were checked");
    }
}

#[tokio::test]
async fn registration_is_throttled_per_address() {
    let app = spawn_app_with(|s| s.registrations_per_address = 5).await;
    app.register("first").await;
    // Probing which emails have accounts: CONFLICT, until the budget is spent.
    let mut codes = Vec::new();
    for i in 0..6 {
        let answer = app
            .query(
                "mutation($input: RegisterInput!) { register(input: $input) { accessToken } }",
                json!({ "input": { "username": format!("probe{i}"), "email": "first@example.com",
                    "password": "another long passphrase" } }),
            )
            .await;
        codes.push(code(&answer));
    }
    assert_eq!(codes[..4], ["CONFLICT"; 4], "{codes:?}");
    assert_eq!(codes[4..], ["RATE_LIMITED"; 2], "{codes:?}");
}

#[tokio::test]
async fn concurrent_logins_hash_a_few_at_a_time() {
    let app = spawn_app_with(|s| {
        s.login_failures_per_account = 1_000;
        s.login_failures_per_address = 1_000;
    })
    .await;
    app.register("popular").await;
    let before = memory_of("self", "VmHWM");
    let logins = (0..80).map(|_| login(&app, "popular@example.com", "wrong password!", None));
    let answers: Vec<Value> = futures_util::future::join_all(logins)
        .await
        .into_iter()
        .map(|(answer, _)| answer)
        .collect();
    assert!(
        answers
            .iter()
            .all(|answer| code(answer) == "UNAUTHENTICATED")
    );
    // Unbounded, 80 hashes of 19 MiB each ran at once (1.5 GiB); bounded
    // to one per core, they need tens of MiB.
    let grown = memory_of("self", "VmHWM").saturating_sub(before);
    assert!(
        grown < 400 * 1024 * 1024,
        "peak memory grew by {grown} bytes"
    );
}
