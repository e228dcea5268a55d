use folio::db::entities::user::Role;
use serde_json::json;

use crate::helpers::{code, data, error, spawn_app};

const VIEWER: &str = "{ viewer { username email role } }";

#[tokio::test]
async fn register_returns_a_session_whose_user_sees_private_fields() {
    let app = spawn_app().await;
    let response = app
        .query(
            "mutation { register(input: { username: \"Alice\", email: \"Alice@Example.com\",
                password: \"correct horse battery staple\" }) {
                accessToken refreshToken expiresAt user { username email role } } }",
            json!({}),
        )
        .await;
    let payload = &data(&response)["register"];
    assert_eq!(payload["user"]["username"], "alice");
    assert_eq!(payload["user"]["email"], "alice@example.com");
    assert_eq!(payload["user"]["role"], "USER");
    assert!(payload["accessToken"].as_str().unwrap().len() > 20);
    assert!(payload["refreshToken"].as_str().unwrap().len() >= 43);
    assert!(payload["expiresAt"].is_string());
}

#[tokio::test]
async fn register_validates_each_field() {
    let app = spawn_app().await;
    let cases = [
        ("al", "al@example.com", "long enough password", "username"),
        (
            "has space",
            "s@example.com",
            "long enough password",
            "username",
        ),
        ("bob", "not-an-email", "long enough password", "email"),
        ("bob", "bob@example.com", "short", "password"),
    ];
    for (username, email, password, field) in cases {
        let response = app
            .query(
                "mutation($input: RegisterInput!) { register(input: $input) { accessToken } }",
                json!({ "input": { "username": username, "email": email, "password": password } }),
            )
            .await;
        let (code, error_field, _) = error(&response);
        assert_eq!(code, "BAD_USER_INPUT", "{username}/{email}");
        assert_eq!(error_field.as_deref(), Some(field));
    }
}

#[tokio::test]
async fn duplicate_usernames_and_emails_conflict() {
    let app = spawn_app().await;
    app.register("carol").await;
    let register = "mutation($input: RegisterInput!) { register(input: $input) { accessToken } }";
    let taken_name = app
        .query(
            register,
            json!({ "input": { "username": "CAROL", "email": "other@example.com",
                "password": "long enough password" } }),
        )
        .await;
    assert_eq!(error(&taken_name).0, "CONFLICT");
    assert_eq!(error(&taken_name).1.as_deref(), Some("username"));
    let taken_email = app
        .query(
            register,
            json!({ "input": { "username": "carol2", "email": "carol@example.com",
                "password": "long enough password" } }),
        )
        .await;
    assert_eq!(error(&taken_email).0, "CONFLICT");
    assert_eq!(error(&taken_email).1.as_deref(), Some("email"));
}

#[tokio::test]
async fn login_does_not_reveal_whether_an_email_exists() {
    let app = spawn_app().await;
    app.register("dave").await;
    let login = "mutation($email: String!, $password: String!) {
        login(input: { email: $email, password: $password }) { accessToken user { username } } }";
    let ok = app
        .query(
            login,
            json!({ "email": "DAVE@example.com", "password": "correct horse battery staple" }),
        )
        .await;
    assert_eq!(data(&ok)["login"]["user"]["username"], "dave");

    let wrong_password = app
        .query(
            login,
            json!({ "email": "dave@example.com", "password": "nope nope nope" }),
        )
        .await;
    let unknown_email = app
        .query(
            login,
            json!({ "email": "nobody@example.com", "password": "nope nope nope" }),
        )
        .await;
    assert_eq!(error(&wrong_password).0, "UNAUTHENTICATED");
    // Byte for byte the same answer: nothing tells the two cases apart.
    assert_eq!(wrong_password.to_string(), unknown_email.to_string());
}

#[tokio::test]
async fn the_bearer_token_resolves_the_viewer() {
    let app = spawn_app().await;
    let erin = app.register("erin").await;
    let anonymous = app.query(VIEWER, json!({})).await;
    assert!(data(&anonymous)["viewer"].is_null());
    let known = app.query_as(&erin, VIEWER, json!({})).await;
    assert_eq!(data(&known)["viewer"]["username"], erin.username.as_str());
    assert_eq!(data(&known)["viewer"]["email"], "erin@example.com");

    let (status, body) = app
        .post(Some("not-a-token"), json!({ "query": VIEWER }))
        .await;
    assert_eq!(status, 401);
    assert_eq!(code(&body), "UNAUTHENTICATED");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let frank = app.register("frank").await;
    let refresh = "mutation($token: String!) { refreshSession(refreshToken: $token) {
        accessToken refreshToken user { username } } }";
    let first = app
        .query(refresh, json!({ "token": frank.refresh_token }))
        .await;
    let rotated = data(&first)["refreshSession"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(rotated, frank.refresh_token);
    assert_eq!(data(&first)["refreshSession"]["user"]["username"], "frank");

    // The old token is spent; presenting it again looks like theft and ends
    // the whole session, including the newest token.
    let reuse = app
        .query(refresh, json!({ "token": frank.refresh_token }))
        .await;
    assert_eq!(code(&reuse), "UNAUTHENTICATED");
    let after_reuse = app.query(refresh, json!({ "token": rotated })).await;
    assert_eq!(code(&after_reuse), "UNAUTHENTICATED");

    let garbage = app.query(refresh, json!({ "token": "garbage" })).await;
    assert_eq!(code(&garbage), "UNAUTHENTICATED");
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let gina = app.register("gina").await;
    let logout = "mutation($token: String!) { logout(refreshToken: $token) }";
    let response = app
        .query(logout, json!({ "token": gina.refresh_token }))
        .await;
    assert_eq!(data(&response)["logout"], true);
    let again = app
        .query(logout, json!({ "token": gina.refresh_token }))
        .await;
    assert_eq!(data(&again)["logout"], false);
    let refresh = app
        .query(
            "mutation($token: String!) { refreshSession(refreshToken: $token) { accessToken } }",
            json!({ "token": gina.refresh_token }),
        )
        .await;
    assert_eq!(code(&refresh), "UNAUTHENTICATED");
}

#[tokio::test]
async fn update_viewer_changes_the_profile_and_a_new_password_ends_sessions() {
    let app = spawn_app().await;
    let hana = app.register("hana").await;
    app.register("taken").await;
    let update = "mutation($input: UpdateViewerInput!) { updateViewer(input: $input) {
        username email bio image } }";
    let response = app
        .query_as(
            &hana,
            update,
            json!({ "input": { "bio": "Writes about Rust", "image": "https://img.example/h.png",
                "username": "hana2" } }),
        )
        .await;
    let user = &data(&response)["updateViewer"];
    assert_eq!(user["username"], "hana2");
    assert_eq!(user["bio"], "Writes about Rust");
    assert_eq!(user["image"], "https://img.example/h.png");

    let taken = app
        .query_as(&hana, update, json!({ "input": { "username": "taken" } }))
        .await;
    assert_eq!(error(&taken).0, "CONFLICT");
    let bad_image = app
        .query_as(
            &hana,
            update,
            json!({ "input": { "image": "javascript:alert(1)" } }),
        )
        .await;
    assert_eq!(error(&bad_image).1.as_deref(), Some("image"));
    let anonymous = app.query(update, json!({ "input": { "bio": "x" } })).await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");

    // Another login of the same account, say on a stolen laptop.
    let other = app
        .query(
            "mutation { login(input: { email: \"hana@example.com\", password: \"correct horse battery staple\" }) {
                accessToken refreshToken } }",
            json!({}),
        )
        .await;
    let other = data(&other)["login"].clone();
    // A stolen access token alone cannot change the password or the email.
    for input in [
        json!({ "password": "a brand new password" }),
        json!({ "email": "thief@example.com" }),
        json!({ "password": "a brand new password", "currentPassword": "a wrong guess here" }),
    ] {
        let refused = app.query_as(&hana, update, json!({ "input": input })).await;
        assert_eq!(
            error(&refused),
            (
                "BAD_USER_INPUT".to_owned(),
                Some("currentPassword".to_owned()),
                error(&refused).2
            ),
            "{input}"
        );
    }
    let weak = app
        .query_as(
            &hana,
            update,
            json!({ "input": { "password": "password", "currentPassword": "correct horse battery staple" } }),
        )
        .await;
    assert_eq!(error(&weak).1.as_deref(), Some("password"));
    let changed = app
        .query_as(
            &hana,
            update,
            json!({ "input": { "password": "a brand new password",
                "currentPassword": "correct horse battery staple" } }),
        )
        .await;
    data(&changed);
    // The other session ends at once, its access token with it; the one
    // that changed the password goes on.
    let refresh = app
        .query(
            "mutation($token: String!) { refreshSession(refreshToken: $token) { accessToken } }",
            json!({ "token": other["refreshToken"] }),
        )
        .await;
    assert_eq!(code(&refresh), "UNAUTHENTICATED");
    let (status, _) = app
        .post(
            other["accessToken"].as_str(),
            json!({ "query": "{ viewer { id } }" }),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED);
    let own = app
        .query_as(&hana, "{ viewer { username } }", json!({}))
        .await;
    assert_eq!(data(&own)["viewer"]["username"], "hana2");
    let login = app
        .query(
            "mutation { login(input: { email: \"hana@example.com\", password: \"a brand new password\" }) {
                user { username } } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&login)["login"]["user"]["username"], "hana2");
}

#[tokio::test]
async fn private_fields_are_forbidden_to_others_without_losing_the_rest() {
    let app = spawn_app().await;
    app.register("ivan").await;
    let judy = app.register("judy").await;
    let admin = app.register_with_role("root", Role::Admin).await;
    let query = "{ user(username: \"ivan\") { username email role } }";

    for response in [
        app.query(query, json!({})).await,
        app.query_as(&judy, query, json!({})).await,
    ] {
        assert_eq!(response["data"]["user"]["username"], "ivan");
        // Present and null, as the spec says, not left out.
        assert_eq!(
            response["data"]["user"].get("email"),
            Some(&serde_json::Value::Null)
        );
        assert_eq!(
            response["data"]["user"].get("role"),
            Some(&serde_json::Value::Null)
        );
        let errors = response["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 2);
        for error in errors {
            assert_eq!(error["extensions"]["code"], "FORBIDDEN");
            assert_eq!(error["path"][0], "user");
        }
    }
    let as_admin = app.query_as(&admin, query, json!({})).await;
    assert_eq!(data(&as_admin)["user"]["email"], "ivan@example.com");
    assert_eq!(data(&as_admin)["user"]["role"], "USER");
}

#[tokio::test]
async fn only_an_admin_sets_roles() {
    let app = spawn_app().await;
    let kim = app.register("kim").await;
    let admin = app.register_with_role("boss", Role::Admin).await;
    let set_role = "mutation($username: String!, $role: Role!) {
        setUserRole(username: $username, role: $role) { username role } }";
    let refused = app
        .query_as(
            &kim,
            set_role,
            json!({ "username": "kim", "role": "ADMIN" }),
        )
        .await;
    assert_eq!(code(&refused), "FORBIDDEN");
    let granted = app
        .query_as(
            &admin,
            set_role,
            json!({ "username": "kim", "role": "MODERATOR" }),
        )
        .await;
    assert_eq!(data(&granted)["setUserRole"]["role"], "MODERATOR");
    let unknown = app
        .query_as(
            &admin,
            set_role,
            json!({ "username": "nobody", "role": "USER" }),
        )
        .await;
    assert_eq!(code(&unknown), "NOT_FOUND");
}
