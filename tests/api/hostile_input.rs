//! A corpus of malformed and abusive requests. Each gets a clear error with
//! the right status and `extensions.code`, in bounded time, and the server
//! answers the next normal request as if nothing happened. Injection
//! strings are stored and returned verbatim, never executed.

use std::time::{Duration, Instant};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use folio::auth::tokens::TokenKeys;
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, code, data, spawn_app_with},
    subscriptions,
};

/// Every refusal arrives well within this, however hostile the request.
const BOUNDED: Duration = Duration::from_secs(2);
const SECRET: &[u8] = b"test-secret-that-is-at-least-32-bytes-long";

struct Case {
    name: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    token: Option<String>,
    status: StatusCode,
    code: &'static str,
}

fn case(
    name: &'static str,
    body: impl Into<Vec<u8>>,
    status: StatusCode,
    code: &'static str,
) -> Case {
    Case {
        name,
        content_type: Some("application/json"),
        body: body.into(),
        token: None,
        status,
        code,
    }
}

fn graphql(query: impl Into<String>, variables: Value) -> Vec<u8> {
    json!({ "query": query.into(), "variables": variables })
        .to_string()
        .into_bytes()
}

fn jwt(header: &Value, claims: &Value, signature: &str) -> String {
    let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!("{}.{}.{signature}", part(header), part(claims))
}

fn corpus(user_token: &str) -> Vec<Case> {
    use StatusCode as S;
    const BAD: &str = "BAD_USER_INPUT";
    const INVALID: &str = "GRAPHQL_VALIDATION_FAILED";
    let nested = format!(
        "{{ {} }}",
        "articles { nodes { author { ".repeat(20) + "username" + &" } } }".repeat(20)
    );
    let aliases: String = (0..500).map(|i| format!("a{i}: __typename ")).collect();
    let fragments: String = (0..30)
        .map(|i| format!("fragment F{i} on Query {{ ...F{} ...F{} }} ", i + 1, i + 1))
        .collect::<String>()
        + "fragment F30 on Query { __typename }";
    let directives = "@include(if: true) ".repeat(2_000);
    let never_expiring = json!({ "sub": "1", "iat": 0, "exp": 4_000_000_000_i64 });
    let forged = TokenKeys::new(
        b"someone-else's-secret-of-32-bytes-or-more",
        chrono::Duration::minutes(15),
    )
    .issue_access(1, 1)
    .unwrap()
    .0;
    let expired = TokenKeys::new(SECRET, chrono::Duration::hours(-2))
        .issue_access(1, 1)
        .unwrap()
        .0;
    let unauthenticated = |name, token: String| Case {
        token: Some(token),
        ..case(
            name,
            graphql("{ viewer { id } }", json!({})),
            S::UNAUTHORIZED,
            "UNAUTHENTICATED",
        )
    };
    let as_user = |name, body: Vec<u8>, code| Case {
        token: Some(user_token.to_owned()),
        ..case(name, body, S::OK, code)
    };
    vec![
        case(
            "truncated JSON",
            r#"{"query": "{ __typename"#,
            S::BAD_REQUEST,
            BAD,
        ),
        case("JSON that is not an object", "42", S::BAD_REQUEST, BAD),
        case("empty body", "", S::BAD_REQUEST, BAD),
        case(
            "invalid UTF-8",
            b"{\"query\": \"{ \xff\xfe }\"}".to_vec(),
            S::BAD_REQUEST,
            BAD,
        ),
        Case {
            content_type: Some("text/plain"),
            ..case(
                "a text/plain body",
                graphql("{ __typename }", json!({})),
                S::UNSUPPORTED_MEDIA_TYPE,
                BAD,
            )
        },
        Case {
            content_type: None,
            ..case(
                "no content type",
                graphql("{ __typename }", json!({})),
                S::UNSUPPORTED_MEDIA_TYPE,
                BAD,
            )
        },
        case(
            "a body over the limit",
            graphql(
                format!("{{ __typename }} #{}", "x".repeat(100_000)),
                json!({}),
            ),
            S::PAYLOAD_TOO_LARGE,
            BAD,
        ),
        case(
            "a query that does not parse",
            graphql("{ articles { ", json!({})),
            S::OK,
            "GRAPHQL_PARSE_FAILED",
        ),
        case(
            "nested too deep",
            graphql(nested, json!({})),
            S::OK,
            INVALID,
        ),
        // Under the token limit, refused by the parser's stack limit.
        case(
            "nested 4,000 deep",
            graphql("{ a ".repeat(4_000) + &"}".repeat(4_000), json!({})),
            S::OK,
            "GRAPHQL_PARSE_FAILED",
        ),
        // Over it, refused before the parser runs.
        case(
            "nested 10,000 deep",
            graphql("{ a ".repeat(10_000) + &"}".repeat(10_000), json!({})),
            S::OK,
            INVALID,
        ),
        case(
            "an alias bomb",
            graphql(format!("{{ {aliases} }}"), json!({})),
            S::OK,
            INVALID,
        ),
        case(
            "a fragment bomb",
            graphql(format!("{{ ...F0 }} {fragments}"), json!({})),
            S::OK,
            INVALID,
        ),
        case(
            "circular fragments",
            graphql(
                "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
                json!({}),
            ),
            S::OK,
            INVALID,
        ),
        // Found by fuzzing: spreads of fragments that select nothing (here,
        // at the bottom, one that does not exist) expanded 2^28 times.
        case(
            "a bomb of spreads that select nothing",
            graphql(
                (0..28)
                    .map(|i| format!("fragment F{i} on Query {{ ...F{} ...F{} }} ", i + 1, i + 1))
                    .collect::<String>()
                    + "{ ...F0 }",
                json!({}),
            ),
            S::OK,
            INVALID,
        ),
        // Found by fuzzing: a cycle that passes through a field's
        // selection overflowed the stack of the cost walk (the process).
        case(
            "a fragment cycle through a field",
            graphql(
                "{ viewer { ...F } } fragment F on User { articles { nodes { author { ...F } } } }",
                json!({}),
            ),
            S::OK,
            INVALID,
        ),
        case(
            "a directive flood",
            graphql(format!("{{ __typename {directives} }}"), json!({})),
            S::OK,
            INVALID,
        ),
        case(
            "an oversize batch",
            serde_json::to_vec(&vec![json!({ "query": "{ __typename }" }); 100]).unwrap(),
            S::BAD_REQUEST,
            BAD,
        ),
        case(
            "a variable of the wrong type",
            graphql(
                "query($n: Int) { articles(first: $n) { totalCount } }",
                json!({ "n": "many" }),
            ),
            S::OK,
            INVALID,
        ),
        case(
            "an argument out of range",
            graphql("{ articles(first: 100000) { totalCount } }", json!({})),
            S::OK,
            BAD,
        ),
        case(
            "an overlong cursor",
            graphql(
                "query($c: String) { articles(after: $c) { totalCount } }",
                json!({ "c": "A".repeat(50_000) }),
            ),
            S::OK,
            BAD,
        ),
        case(
            "a cursor of another list",
            graphql(
                "query($c: String) { articles(after: $c) { totalCount } }",
                json!({ "c": URL_SAFE_NO_PAD.encode("tags|1|1") }),
            ),
            S::OK,
            BAD,
        ),
        case(
            "a global id that is not one",
            graphql(
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": "'; DROP TABLE users; --" }),
            ),
            S::OK,
            BAD,
        ),
        unauthenticated("a forged JWT", forged),
        unauthenticated("an expired JWT", expired),
        unauthenticated(
            "an alg: none JWT",
            jwt(&json!({ "alg": "none", "typ": "JWT" }), &never_expiring, ""),
        ),
        unauthenticated(
            "an HS512 JWT",
            jwt(
                &json!({ "alg": "HS512", "typ": "JWT" }),
                &never_expiring,
                "c2lnbmF0dXJl",
            ),
        ),
        unauthenticated("a token that is not a JWT", "not.a.jwt".to_owned()),
        as_user(
            "a comment body with a NUL byte",
            graphql(
                "mutation { addComment(articleId: \"QXJ0aWNsZTox\", body: \"nul \\u0000 here\") { id } }",
                json!({}),
            ),
            BAD,
        ),
        as_user(
            "a huge comment body",
            graphql(
                "mutation($body: String!) { addComment(articleId: \"QXJ0aWNsZTox\", body: $body) { id } }",
                json!({ "body": "x".repeat(60_000) }),
            ),
            BAD,
        ),
    ]
}

async fn send(app: &TestApp, case: &Case) -> (StatusCode, Value) {
    let mut request = app.client.post(app.url("/graphql")).body(case.body.clone());
    if let Some(content_type) = case.content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    if let Some(token) = &case.token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = request.send().await.expect("an answer");
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn every_hostile_request_gets_a_clear_error_and_the_server_goes_on() {
    let app = spawn_app_with(|settings| settings.max_body_bytes = 64 * 1024).await;
    let user = app.register("target").await;
    let author = app.register("author").await;
    app.create_article(&author, "Under attack", &["safe"], true)
        .await;
    for case in corpus(&user.token) {
        let started = Instant::now();
        let (status, body) = send(&app, &case).await;
        let elapsed = started.elapsed();
        assert_eq!(status, case.status, "{}: {body}", case.name);
        assert_eq!(
            body["errors"][0]["extensions"]["code"], case.code,
            "{}: {body}",
            case.name
        );
        assert!(elapsed < BOUNDED, "{} took {elapsed:?}", case.name);
        let (status, next) = app
            .post(None, json!({ "query": "{ articles { totalCount } }" }))
            .await;
        assert_eq!(status, StatusCode::OK, "after {}: {next}", case.name);
        assert_eq!(
            data(&next)["articles"]["totalCount"],
            1,
            "after {}",
            case.name
        );
    }
}

/// Strings that would do harm if they were ever spliced into SQL or HTML.
const PAYLOADS: [&str; 8] = [
    "'; DROP TABLE users; --",
    "\" OR 1=1 --",
    "Robert'); DELETE FROM articles WHERE ('1'='1",
    "<script>alert(document.cookie)</script>",
    "<img src=x onerror=alert(1)>",
    "100% _wild_ \\ cards",
    "$1 ? :name {{7*7}} ${7*7}",
    "\u{202e}reversed \u{1F600} ünïcødé",
];

#[tokio::test]
async fn injection_strings_are_stored_and_returned_verbatim() {
    let app = spawn_app_with(|settings| settings.response_cache = false).await;
    let writer = app.register("writer").await;
    for (i, payload) in PAYLOADS.iter().enumerate() {
        let created = app
            .query_as(
                &writer,
                "mutation($input: CreateArticleInput!) { createArticle(input: $input) { id slug title description body } }",
                json!({ "input": { "title": format!("{payload} {i}"), "description": payload,
                    "body": payload, "tags": ["injection"], "publish": true } }),
            )
            .await;
        let article = &data(&created)["createArticle"];
        assert_eq!(article["title"], format!("{payload} {i}"));
        assert_eq!(article["description"], *payload);
        assert_eq!(article["body"], *payload);
        let commented = app
            .query_as(
                &writer,
                "mutation($id: ID!, $body: String!) { addComment(articleId: $id, body: $body) { body } }",
                json!({ "id": article["id"], "body": payload }),
            )
            .await;
        assert_eq!(data(&commented)["addComment"]["body"], *payload);
        let updated = app
            .query_as(
                &writer,
                "mutation($bio: String!) { updateViewer(input: { bio: $bio }) { bio } }",
                json!({ "bio": payload }),
            )
            .await;
        assert_eq!(data(&updated)["updateViewer"]["bio"], *payload);

        // Read back as stored.
        let read = app
            .query(
                "query($slug: String!) { article(slug: $slug) { description body comments { nodes { body } } author { bio } } }",
                json!({ "slug": article["slug"] }),
            )
            .await;
        let read = &data(&read)["article"];
        assert_eq!(read["description"], *payload);
        assert_eq!(read["body"], *payload);
        assert_eq!(read["comments"]["nodes"][0]["body"], *payload);
        assert_eq!(read["author"]["bio"], *payload);

        // Every filter takes them as plain values: the search finds the
        // article whose text holds the payload (by its words: markup and
        // punctuation are not words, so the search for a tag may find
        // nothing), the others match nothing; none fails.
        let filtered = app
            .query(
                "query($p: String!) {
                    search: articles(filter: { search: $p }) { nodes { body } }
                    tag: articles(filter: { tag: $p }) { totalCount }
                    author: articles(filter: { author: $p }) { totalCount }
                    favoritedBy: articles(filter: { favoritedBy: $p }) { totalCount }
                    user(username: $p) { id }
                    article(slug: $p) { id } }",
                json!({ "p": payload }),
            )
            .await;
        let filtered = data(&filtered);
        let found = filtered["search"]["nodes"].as_array().unwrap();
        let worded =
            payload.contains("DROP") || payload.contains("DELETE") || payload.contains("cards");
        assert!(
            (!worded || !found.is_empty())
                && found
                    .iter()
                    .all(|node| node["body"].as_str().unwrap().contains(payload.trim())),
            "{payload}: {filtered}"
        );
        for list in ["tag", "author", "favoritedBy"] {
            assert_eq!(filtered[list]["totalCount"], 0, "{payload}");
        }
        assert_eq!(filtered["user"], Value::Null);
        assert_eq!(filtered["article"], Value::Null);

        // Names with them are refused as input, naming the field.
        let refused = app
            .query(
                "mutation($input: RegisterInput!) { register(input: $input) { accessToken } }",
                json!({ "input": { "username": payload, "email": format!("{i}@example.com"), "password": "long enough password" } }),
            )
            .await;
        assert_eq!(code(&refused), "BAD_USER_INPUT", "{payload}");
    }
    // Every table is still there, with every row.
    let (counts, _) = app
        .read("{ articles { totalCount } tags { nodes { name articleCount } } }")
        .await;
    assert_eq!(counts["articles"]["totalCount"], PAYLOADS.len());
    assert_eq!(
        counts["tags"]["nodes"],
        json!([{ "name": "injection", "articleCount": PAYLOADS.len() }])
    );
}

/// graphql-transport-ws messages that break the protocol: each connection
/// is closed with the code the protocol names, and others are unaffected.
#[tokio::test]
async fn websocket_messages_out_of_protocol_order_are_closed_with_the_protocols_codes() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let app = spawn_app_with(|_| {}).await;
    let author = app.register("speaker").await;
    let article = app.create_article(&author, "Live", &[], true).await;
    let init = json!({ "type": "connection_init", "payload": {} }).to_string();
    let cases: Vec<(&str, Vec<Message>, u16)> = vec![
        ("connection_init twice", vec![Message::Text(init.clone().into())], 4429),
        ("a flood of connection_init", vec![Message::Text(init.clone().into()); 1_000], 4429),
        ("a frame that is not JSON", vec![Message::Text("{ nope".into())], 4400),
        ("an unknown message type", vec![Message::Text(r#"{"type":"hello"}"#.into())], 4400),
        ("a subscribe without an id", vec![Message::Text(r#"{"type":"subscribe","payload":{"query":"subscription { articlePublished { id } }"}}"#.into())], 4400),
    ];
    for (name, messages, expected) in cases {
        let started = Instant::now();
        let mut socket = subscriptions::open(
            &app.address,
            "/graphql/ws",
            "graphql-transport-ws",
            None,
            None,
        )
        .await;
        assert_eq!(
            subscriptions::receive(&mut socket).await["type"],
            "connection_ack",
            "{name}"
        );
        for message in messages {
            // The server may close before the flood is all sent.
            if socket.send(message).await.is_err() {
                break;
            }
        }
        assert_eq!(
            subscriptions::close_code(&mut socket).await,
            expected,
            "{name}"
        );
        assert!(
            started.elapsed() < BOUNDED,
            "{name} took {:?}",
            started.elapsed()
        );

        // Someone else's subscription still works.
        let mut other =
            subscriptions::watch_comments(&app, "graphql-transport-ws", None, &article).await;
        subscriptions::comment(&app, &author, &article, name).await;
        let next = subscriptions::receive(&mut other).await;
        assert_eq!(
            next["payload"]["data"]["commentAdded"]["body"], name,
            "after {name}"
        );
    }
}
