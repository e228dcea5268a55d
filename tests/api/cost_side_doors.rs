//! The cost model has no side doors: root fields inside fragments count,
//! `nodes(ids:)` loads by kind in a bounded list, and a subscription's
//! events are charged to its subscriber.

use serde_json::{Value, json};

use crate::{
    helpers::{data, error, spawn_app, spawn_app_with},
    subscriptions::{self, receive_raw},
};

#[tokio::test]
async fn root_fields_inside_fragments_count_against_the_limit() {
    let app = spawn_app_with(|s| s.max_root_fields = 20).await;
    let fields: String = (0..45).map(|i| format!("a{i}: __typename ")).collect();
    for query in [
        format!("{{ ... on Query {{ {fields} }} }}"),
        format!("{{ ...F }} fragment F on Query {{ {fields} }}"),
        format!(
            "{{ a: __typename ... @include(if: true) {{ ...F }} }} fragment F on Query {{ {fields} }}"
        ),
    ] {
        let answer = app.query(&query, json!({})).await;
        let (code, _, message) = error(&answer);
        assert_eq!(code, "GRAPHQL_VALIDATION_FAILED", "{query}");
        assert!(message.contains("root fields"), "{message}");
    }
}

#[tokio::test]
async fn nodes_load_by_kind_and_take_at_most_a_page() {
    let app = spawn_app().await;
    let author = app.register("author").await;
    // Every kind among the first three ids, so both sizes load all three.
    let mut ids: Vec<Value> = vec![json!(author.id)];
    for i in 0..30 {
        let article = app
            .create_article(&author, &format!("Refetched {i}"), &[], true)
            .await;
        let comment = app
            .query_as(
                &author,
                "mutation($id: ID!) { addComment(articleId: $id, body: \"hi\") { id } }",
                json!({ "id": article["id"] }),
            )
            .await;
        ids.push(article["id"].clone());
        ids.push(data(&comment)["addComment"]["id"].clone());
    }
    let query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }";
    let mut statements = Vec::new();
    for size in [3, 61] {
        let before = app.statements.get();
        let answer = app.query(query, json!({ "ids": ids[..size] })).await;
        let nodes = data(&answer)["nodes"].as_array().unwrap().clone();
        assert_eq!(nodes.len(), size);
        assert!(nodes.iter().all(|node| node["id"].is_string()));
        statements.push(app.statements.get() - before);
    }
    assert_eq!(statements[0], statements[1], "{statements:?}");
    assert!(statements[1] <= 4, "{statements:?}");
    let too_many: Vec<Value> = (0..101).map(|_| json!(author.id)).collect();
    let refused = app.query(query, json!({ "ids": too_many })).await;
    let (code, field, _) = error(&refused);
    assert_eq!(
        (code.as_str(), field.as_deref()),
        ("BAD_USER_INPUT", Some("ids"))
    );
}

#[tokio::test]
async fn a_subscriptions_events_are_charged_to_its_subscriber() {
    let app = spawn_app_with(|s| {
        s.max_complexity = 100;
        s.cost_per_address = Some(0);
        s.cost_per_user = Some(100);
    })
    .await;
    let author = app.register("author").await;
    let watcher = app.register("watcher").await;
    let article = app.create_article(&author, "Watched", &[], true).await;
    let mut socket =
        subscriptions::watch_comments(&app, "graphql-transport-ws", Some(&watcher.token), &article)
            .await;
    // The commenters have budgets of their own.
    let mut commenters = Vec::new();
    for i in 0..9 {
        commenters.push(app.register(&format!("commenter{i}")).await);
    }
    for i in 0..45 {
        subscriptions::comment(&app, &commenters[i % 9], &article, &format!("c{i}")).await;
    }
    let mut heard = 0;
    let refusal = loop {
        let message = receive_raw(&mut socket).await;
        match message["type"].as_str() {
            // Other people's emails are FORBIDDEN in every event; the
            // refusal has no data.
            Some("next") if message["payload"]["data"].is_null() => break message,
            Some("next") => heard += 1,
            _ => {}
        }
    };
    assert!((1..45).contains(&heard), "heard {heard} of 45 events");
    assert_eq!(
        refusal["payload"]["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{refusal}"
    );
    let ended = receive_raw(&mut socket).await;
    assert_eq!(ended["type"], "complete", "{ended}");
}
