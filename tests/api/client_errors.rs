//! Bad input gets a client error, never an internal one, and nothing the
//! client sends can pass for something else: out-of-range numbers, forged
//! cursors, objects whose fields are all forbidden, request ids that would
//! forge log fields, look-alike emails; and errors stay small.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::json;

use reqwest::StatusCode;

use crate::helpers::{code, data, error, spawn_app, spawn_app_with};

#[tokio::test]
async fn an_int_outside_32_bits_is_bad_input() {
    let app = spawn_app_with(|_| {}).await;
    for (query, variables) in [
        ("{ articles(first: 2147483648) { totalCount } }", json!({})),
        (
            "query($n: Int) { articles(first: $n) { totalCount } }",
            json!({ "n": 2_147_483_648_i64 }),
        ),
    ] {
        let answer = app.query(query, variables).await;
        assert_eq!(code(&answer), "BAD_USER_INPUT", "{query}: {answer}");
    }
}

#[tokio::test]
async fn forged_cursors_are_bad_input_on_every_backend() {
    let app = spawn_app_with(|_| {}).await;
    let author = app.register("author").await;
    app.create_article(&author, "Listed", &[], true).await;
    let forged = |raw: &str| URL_SAFE_NO_PAD.encode(raw);
    for cursor in [
        // A number where the list orders by time, and the reverse.
        forged("articles:published_at|i5|1"),
        // A time no backend stores.
        forged("articles:published_at|t999999999999999999|1"),
        forged("articles:published_at|t-99999999999999999|1"),
    ] {
        let answer = app
            .query(
                "query($c: String) { articles(after: $c) { nodes { id } } }",
                json!({ "c": cursor }),
            )
            .await;
        let (code, field, _) = error(&answer);
        assert_eq!(
            (code.as_str(), field.as_deref()),
            ("BAD_USER_INPUT", Some("after")),
            "{answer}"
        );
    }
    let by_count = app
        .query(
            "query($c: String) { articles(after: $c, orderBy: { field: FAVORITES_COUNT }) { nodes { id } } }",
            json!({ "c": forged("articles:favorites_count|t1700000000000000|1") }),
        )
        .await;
    assert_eq!(code(&by_count), "BAD_USER_INPUT", "{by_count}");
}

#[tokio::test]
async fn an_object_whose_every_field_is_forbidden_is_still_an_object() {
    let app = spawn_app_with(|_| {}).await;
    app.register("ivan").await;
    let answer = app
        .query("{ user(username: \"ivan\") { email role } }", json!({}))
        .await;
    assert_eq!(
        answer["data"],
        json!({ "user": { "email": null, "role": null } }),
        "{answer}"
    );
    let errors = answer["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert!(
        errors
            .iter()
            .all(|e| e["extensions"]["code"] == "FORBIDDEN")
    );
    // No such user is still null, without errors.
    let none = app
        .query("{ user(username: \"nobody\") { email } }", json!({}))
        .await;
    assert_eq!(data(&none)["user"], serde_json::Value::Null);
}

#[tokio::test]
async fn only_a_short_plain_request_id_is_kept() {
    let app = spawn_app_with(|_| {}).await;
    let echoed = |id: &'static str| {
        let client = app.client.clone();
        let url = app.url("/health/live");
        async move {
            let response = client
                .get(url)
                .header("x-request-id", id)
                .send()
                .await
                .unwrap();
            response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(echoed("abc-123_x.y:z").await, "abc-123_x.y:z");
    for forged in [
        "a\" level=ERROR msg=\"forged",
        "x y",
        "ü",
        &*"a".repeat(200).leak(),
    ] {
        let kept = echoed(forged).await;
        assert_ne!(kept, forged);
        assert!(uuid::Uuid::parse_str(&kept).is_ok(), "{kept}");
    }
}

#[tokio::test]
async fn look_alike_emails_are_folded_or_refused() {
    let app = spawn_app_with(|_| {}).await;
    app.register("ada").await;
    let register = |email: &str| {
        json!({ "input": { "username": "mallory", "email": email,
            "password": "correct horse battery staple" } })
    };
    const REGISTER: &str =
        "mutation($input: RegisterInput!) { register(input: $input) { accessToken } }";
    // Full-width letters fold to the address that exists.
    let folded = app.query(REGISTER, register("ａｄａ@example.com")).await;
    assert_eq!(code(&folded), "CONFLICT", "{folded}");
    // A Cyrillic а is not an a.
    let cyrillic = app.query(REGISTER, register("\u{430}da@example.com")).await;
    let (code, field, _) = error(&cyrillic);
    assert_eq!(
        (code.as_str(), field.as_deref()),
        ("BAD_USER_INPUT", Some("email"))
    );
    // Logging in with the full-width form finds the account.
    let login = app
        .query(
            "mutation { login(input: { email: \"ＡＤＡ@example.com\", password: \"correct horse battery staple\" }) { user { username } } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&login)["login"]["user"]["username"], "ada");
}

#[tokio::test]
async fn a_malformed_id_in_nodes_spoils_only_its_own_entry() {
    let app = spawn_app_with(|_| {}).await;
    let ada = app.register("ada").await;
    let answer = app
        .query(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [ada.id, "not an id", ada.id] }),
        )
        .await;
    assert_eq!(
        answer["data"]["nodes"],
        json!([{ "id": ada.id }, null, { "id": ada.id }]),
        "{answer}"
    );
    let errors = answer["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{answer}");
    assert_eq!(errors[0]["path"], json!(["nodes", 1]));
    assert_eq!(errors[0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(errors[0]["extensions"]["field"], "ids");
}

#[tokio::test]
async fn a_parse_error_is_small_whatever_the_document() {
    let app = spawn_app().await;
    // One line of 60 KB with its brace missing at the very end.
    let long = format!(
        "{{ articles(first: 1) {{ nodes {{ {} }} }}",
        "title ".repeat(10_000)
    );
    let (status, body) = app.post(None, json!({ "query": long })).await;
    assert_eq!(status, StatusCode::OK);
    let (code, _, message) = error(&body);
    assert_eq!(code, "GRAPHQL_PARSE_FAILED");
    assert!(message.len() < 300, "{} bytes: {message}", message.len());
    assert!(
        message.starts_with(&format!(
            "syntax error at line 1, column {}",
            long.len() + 1
        )),
        "{message}"
    );
    assert!(serde_json::to_vec(&body).unwrap().len() < 1024);
    // A short excerpt either side of the place.
    let (_, body) = app
        .post(
            None,
            json!({ "query": "{\n  articles { nodes { title } } } }" }),
        )
        .await;
    let (_, _, message) = error(&body);
    assert_eq!(
        message,
        "syntax error at line 2, column 34: expected EOI or executable_definition, \
         near \"…s { nodes { title } } } }\""
    );
}
