//! A credential never outlives its authority: logout and a new password end
//! access tokens at once, and an open WebSocket is closed (4403, or 4401
//! for an expired token) when its session ends or its user's role changes,
//! on any instance; operations it starts are checked as HTTP requests are.

use std::time::Duration;

use folio::{db::entities::user::Role, services::users};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, code, data, error, spawn_app_with},
    subscriptions::{Socket, closed_with, open, receive, send},
};

async fn viewer_status(app: &TestApp, token: &str) -> StatusCode {
    app.post(Some(token), json!({ "query": "{ viewer { id } }" }))
        .await
        .0
}

async fn subscribed(app: &TestApp, token: &str) -> Socket {
    let mut socket = open(
        &app.address,
        "/graphql/ws",
        "graphql-transport-ws",
        Some(token),
        None,
    )
    .await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": {
            "query": "subscription { articlePublished { id } }" } }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    socket
}

async fn logout(app: &TestApp, refresh_token: &str) {
    let answer = app
        .query(
            "mutation($t: String!) { logout(refreshToken: $t) }",
            json!({ "t": refresh_token }),
        )
        .await;
    assert_eq!(data(&answer)["logout"], true);
}

#[tokio::test]
async fn logout_ends_the_access_token_at_once() {
    let app = spawn_app_with(|_| {}).await;
    let ada = app.register("ada").await;
    assert_eq!(viewer_status(&app, &ada.token).await, StatusCode::OK);
    logout(&app, &ada.refresh_token).await;
    assert_eq!(
        viewer_status(&app, &ada.token).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_bearer_scheme_is_matched_without_regard_to_case() {
    let app = spawn_app_with(|_| {}).await;
    let ada = app.register("ada").await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let answer = app
            .client
            .post(app.url("/graphql"))
            .header("authorization", format!("{scheme} {}", ada.token))
            .json(&json!({ "query": "{ viewer { username } }" }))
            .send()
            .await
            .unwrap();
        let answer: Value = answer.json().await.unwrap();
        assert_eq!(data(&answer)["viewer"]["username"], "ada", "{scheme}");
    }
}

#[tokio::test]
async fn weak_passwords_are_refused_naming_the_field() {
    let app = spawn_app_with(|_| {}).await;
    for weak in ["password", "aaaaaaaa", "12345678", "iloveyou123"] {
        let answer = app
            .query(
                "mutation($input: RegisterInput!) { register(input: $input) { accessToken } }",
                json!({ "input": { "username": "weak", "email": "weak@example.com", "password": weak } }),
            )
            .await;
        let (code, field, _) = error(&answer);
        assert_eq!(
            (code.as_str(), field.as_deref()),
            ("BAD_USER_INPUT", Some("password")),
            "{weak}"
        );
    }
}

#[tokio::test]
async fn a_socket_is_closed_when_its_session_ends_or_its_role_changes() {
    let app = spawn_app_with(|_| {}).await;
    let root = app.register_with_role("root", Role::Admin).await;
    // Logout of the socket's session: 4403.
    let ada = app.register("ada").await;
    let mut socket = subscribed(&app, &ada.token).await;
    logout(&app, &ada.refresh_token).await;
    assert_eq!(
        closed_with(&mut socket, Duration::from_secs(5)).await,
        Some(4403)
    );

    // An admin demoted by another admin: 4403, and the demotion sticks.
    let eve = app.register_with_role("eve", Role::Admin).await;
    let mut socket = subscribed(&app, &eve.token).await;
    let demoted = app
        .query_as(
            &root,
            "mutation { setUserRole(username: \"eve\", role: USER) { role } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&demoted)["setUserRole"]["role"], "USER");
    assert_eq!(
        closed_with(&mut socket, Duration::from_secs(5)).await,
        Some(4403)
    );
}

#[tokio::test]
async fn an_operation_on_a_socket_is_checked_like_an_http_request() {
    let app = spawn_app_with(|_| {}).await;
    let eve = app.register_with_role("eve", Role::Admin).await;
    let mut socket = open(
        &app.address,
        "/graphql/ws",
        "graphql-transport-ws",
        Some(&eve.token),
        None,
    )
    .await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    // Demoted where no signal reaches (as `folio user promote` does).
    users::assign_role(&app.db, "eve", Role::User)
        .await
        .unwrap();
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": {
            "query": "mutation { setUserRole(username: \"eve\", role: ADMIN) { role } }" } }),
    )
    .await;
    let refused = receive(&mut socket).await;
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{refused}"
    );
    assert_eq!(
        closed_with(&mut socket, Duration::from_secs(5)).await,
        Some(4403)
    );
    let role = users::by_username(&app.db, "eve")
        .await
        .unwrap()
        .unwrap()
        .role;
    assert_eq!(role, Role::User);
}

#[tokio::test]
async fn a_socket_is_closed_when_its_token_expires() {
    let app = spawn_app_with(|s| s.access_token_ttl = 2).await;
    let ada = app.register("ada").await;
    let mut socket = subscribed(&app, &ada.token).await;
    assert_eq!(
        closed_with(&mut socket, Duration::from_secs(6)).await,
        Some(4401)
    );
}

#[tokio::test]
async fn a_logout_on_one_instance_closes_the_socket_on_another_with_redis() {
    if !std::env::var("FOLIO_TEST_REDIS_URL").is_ok_and(|url| !url.is_empty()) {
        return;
    }
    let prefix = format!("folio-test:{}:authority:", uuid::Uuid::new_v4().simple());
    let first = spawn_app_with(|s| s.redis_prefix = prefix.clone()).await;
    let second = first
        .another_instance(|s| s.redis_prefix = prefix.clone())
        .await;
    let ada = first.register("ada").await;
    let mut socket = subscribed(&second, &ada.token).await;
    logout(&first, &ada.refresh_token).await;
    assert_eq!(
        closed_with(&mut socket, Duration::from_secs(5)).await,
        Some(4403)
    );
    assert_eq!(
        code(&second.query_as(&ada, "{ viewer { id } }", json!({})).await),
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn a_legacy_protocol_socket_is_closed_too() {
    let app = spawn_app_with(|_| {}).await;
    let ada = app.register("ada").await;
    let mut socket = open(
        &app.address,
        "/graphql/ws",
        "graphql-ws",
        Some(&ada.token),
        None,
    )
    .await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({ "id": "1", "type": "start", "payload": {
            "query": "subscription { articlePublished { id } }" } }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    logout(&app, &ada.refresh_token).await;
    assert_eq!(
        closed_with(&mut socket, Duration::from_secs(5)).await,
        Some(4403)
    );
}

#[tokio::test]
async fn a_reused_refresh_token_closes_the_sockets_of_its_family() {
    let app = spawn_app_with(|_| {}).await;
    let ada = app.register("ada").await;
    let refresh = "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }";
    let rotated = app.query(refresh, json!({ "t": ada.refresh_token })).await;
    let token = data(&rotated)["refreshSession"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut socket = subscribed(&app, &token).await;
    // The old token again: theft, so the family ends.
    let reused = app.query(refresh, json!({ "t": ada.refresh_token })).await;
    assert_eq!(code(&reused), "UNAUTHENTICATED");
    assert_eq!(
        closed_with(&mut socket, Duration::from_secs(5)).await,
        Some(4403)
    );
}

#[tokio::test]
async fn the_cli_announces_a_role_change_to_open_sockets_with_redis() {
    let Some(redis) = std::env::var("FOLIO_TEST_REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty())
    else {
        return;
    };
    let prefix = format!("folio-test:{}:cli:", uuid::Uuid::new_v4().simple());
    let app = spawn_app_with(|s| s.redis_prefix = prefix.clone()).await;
    let eve = app.register_with_role("eve", Role::Admin).await;
    let mut socket = subscribed(&app, &eve.token).await;
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(["user", "promote", "eve", "USER"])
        .env("DATABASE_URL", &app.database.url)
        .env("REDIS_URL", redis)
        .env("FOLIO_REDIS_PREFIX", &prefix)
        .status()
        .await
        .expect("folio runs");
    assert!(status.success());
    // Well before the 30 s check: the announcement closed it.
    assert_eq!(
        closed_with(&mut socket, Duration::from_secs(5)).await,
        Some(4403)
    );
}

#[tokio::test]
async fn a_stale_token_does_not_stop_a_refresh_but_stops_everything_else() {
    let app = spawn_app_with(|s| s.access_token_ttl = 1).await;
    let ada = app.register("ada").await;
    // Past its lifetime and the 5 s of leeway given for clock skew (both
    // counted in whole seconds).
    tokio::time::sleep(Duration::from_millis(7500)).await;
    // The token-refresh recipes of urql's exchange-auth and Apollo's error
    // link send the expired token along with refreshSession.
    let refresh = json!({
        "query": "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }",
        "variables": { "t": ada.refresh_token } });
    let (status, refreshed) = app.post(Some(&ada.token), refresh.clone()).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert!(data(&refreshed)["refreshSession"]["accessToken"].is_string());
    // Anything that reads as the viewer is still refused, alone or batched.
    assert_eq!(
        viewer_status(&app, &ada.token).await,
        StatusCode::UNAUTHORIZED
    );
    let batch = json!([refresh, { "query": "{ viewer { id } }" }]);
    let (status, _) = app.post(Some(&ada.token), batch).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
