use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use folio::db::entities::user::Role;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, code, data, error, node_values, spawn_app};

const ADD: &str = "mutation($articleId: ID!, $body: String!) {
    addComment(articleId: $articleId, body: $body) { id body author { username } article { slug } } }";
const DELETE: &str = "mutation($id: ID!) { deleteComment(id: $id) }";
const LIST: &str = "query($slug: String!, $first: Int, $after: String, $last: Int) {
    article(slug: $slug) { comments(first: $first, after: $after, last: $last) {
        totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
        nodes { id body author { username } } } } }";

async fn comment(app: &TestApp, who: &Session, article: &Value, body: &str) -> Value {
    let response = app
        .query_as(
            who,
            ADD,
            json!({ "articleId": article["id"], "body": body }),
        )
        .await;
    data(&response)["addComment"].clone()
}

/// The article's comments page for `args` (first/after/last).
async fn comments(app: &TestApp, article: &Value, args: Value) -> Value {
    let mut variables = args;
    variables["slug"] = article["slug"].clone();
    let response = app.query(LIST, variables).await;
    data(&response)["article"]["comments"].clone()
}

#[tokio::test]
async fn comments_are_listed_oldest_first_with_their_authors() {
    let app = spawn_app().await;
    let author = app.register("author").await;
    let reader = app.register("reader").await;
    let article = app.create_article(&author, "Discuss me", &[], true).await;

    let first = comment(&app, &reader, &article, "  First!  ").await;
    assert_eq!(first["body"], "First!");
    assert_eq!(first["author"]["username"], "reader");
    assert_eq!(first["article"]["slug"], article["slug"]);
    comment(&app, &author, &article, "Thanks").await;
    comment(&app, &reader, &article, "You're welcome").await;

    let list = comments(&app, &article, json!({})).await;
    assert_eq!(list["totalCount"], 3);
    assert_eq!(
        node_values(&list, "body"),
        ["First!", "Thanks", "You're welcome"]
    );
    let authors: Vec<&str> = list["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| node["author"]["username"].as_str().unwrap())
        .collect();
    assert_eq!(authors, ["reader", "author", "reader"]);
    assert_eq!(list["nodes"][0]["id"], first["id"]);

    // A comment is refetchable by its global id.
    let node = "query($id: ID!) { node(id: $id) { id ... on Comment {
        body author { username } article { slug } } } }";
    let fetched = app.query(node, json!({ "id": first["id"] })).await;
    let fetched = &data(&fetched)["node"];
    assert_eq!(fetched["id"], first["id"]);
    assert_eq!(fetched["body"], "First!");
    assert_eq!(fetched["author"]["username"], "reader");
    assert_eq!(fetched["article"]["slug"], article["slug"]);
}

#[tokio::test]
async fn comments_need_a_body_a_login_and_a_visible_published_article() {
    let app = spawn_app().await;
    let author = app.register("author").await;
    let reader = app.register("reader").await;
    let article = app.create_article(&author, "Open", &[], true).await;
    let draft = app.create_article(&author, "Closed", &[], false).await;
    let add = |article_id: Value, body: String| json!({ "articleId": article_id, "body": body });

    for body in [String::new(), "   \n\t".to_owned(), "x".repeat(5_001)] {
        let response = app
            .query_as(&reader, ADD, add(article["id"].clone(), body.clone()))
            .await;
        let (code_of_body, field, _) = error(&response);
        assert_eq!(code_of_body, "BAD_USER_INPUT", "{} chars", body.len());
        assert_eq!(field.as_deref(), Some("body"), "{} chars", body.len());
    }
    let longest = app
        .query_as(&reader, ADD, add(article["id"].clone(), "x".repeat(5_000)))
        .await;
    assert_eq!(
        data(&longest)["addComment"]["body"].as_str().unwrap().len(),
        5_000
    );

    let anonymous = app
        .query(ADD, add(article["id"].clone(), "hi".into()))
        .await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");

    let missing = URL_SAFE_NO_PAD.encode("Article:999999");
    assert_eq!(missing, "QXJ0aWNsZTo5OTk5OTk");
    let response = app
        .query_as(&reader, ADD, add(json!(missing), "hi".into()))
        .await;
    assert_eq!(code(&response), "NOT_FOUND");

    let response = app
        .query_as(&reader, ADD, add(draft["id"].clone(), "hi".into()))
        .await;
    assert_eq!(code(&response), "NOT_FOUND");
    let response = app
        .query_as(&author, ADD, add(draft["id"].clone(), "hi".into()))
        .await;
    let (code_of_own, field, _) = error(&response);
    assert_eq!(code_of_own, "BAD_USER_INPUT");
    assert_eq!(field.as_deref(), Some("articleId"));

    assert_eq!(comments(&app, &article, json!({})).await["totalCount"], 1);
}

#[tokio::test]
async fn comments_are_deleted_by_their_author_the_article_author_or_a_moderator() {
    let app = spawn_app().await;
    let author = app.register("author").await;
    let commenter = app.register("commenter").await;
    let stranger = app.register("stranger").await;
    let moderator = app.register_with_role("moderator", Role::Moderator).await;
    let article = app.create_article(&author, "Moderated", &[], true).await;
    let own = comment(&app, &commenter, &article, "mine").await;
    let for_author = comment(&app, &commenter, &article, "for the author").await;
    let for_moderator = comment(&app, &commenter, &article, "for the moderator").await;

    // An unrelated user may not, and the comment stays.
    let response = app
        .query_as(&stranger, DELETE, json!({ "id": own["id"] }))
        .await;
    assert_eq!(code(&response), "FORBIDDEN");
    assert_eq!(comments(&app, &article, json!({})).await["totalCount"], 3);

    for (who, target) in [
        (&commenter, &own),
        (&author, &for_author),
        (&moderator, &for_moderator),
    ] {
        let response = app
            .query_as(who, DELETE, json!({ "id": target["id"] }))
            .await;
        assert_eq!(
            data(&response)["deleteComment"],
            target["id"],
            "{}",
            who.username
        );
    }
    let list = comments(&app, &article, json!({})).await;
    assert_eq!(list["totalCount"], 0);
    assert_eq!(node_values(&list, "body"), Vec::<&str>::new());

    let again = app
        .query_as(&commenter, DELETE, json!({ "id": own["id"] }))
        .await;
    assert_eq!(code(&again), "NOT_FOUND");
    let node = "query($id: ID!) { node(id: $id) { id } }";
    assert!(data(&app.query(node, json!({ "id": own["id"] })).await)["node"].is_null());
}

#[tokio::test]
async fn comments_paginate_in_both_directions() {
    let app = spawn_app().await;
    // Five comments: pages of two walk them oldest first without repeats;
    // last:2 gives the two newest, still oldest first.
    let author = app.register("author").await;
    let article = app.create_article(&author, "Busy thread", &[], true).await;
    for n in 1..=5 {
        comment(&app, &author, &article, &format!("comment {n}")).await;
    }

    let mut seen = Vec::new();
    let mut after = Value::Null;
    for (page, expected_next) in [(1, true), (2, true), (3, false)] {
        let list = comments(&app, &article, json!({ "first": 2, "after": after })).await;
        assert_eq!(list["totalCount"], 5, "page {page}");
        assert_eq!(
            list["pageInfo"]["hasNextPage"], expected_next,
            "page {page}"
        );
        seen.extend(node_values(&list, "body").into_iter().map(str::to_owned));
        after = list["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(
        seen,
        [
            "comment 1",
            "comment 2",
            "comment 3",
            "comment 4",
            "comment 5"
        ]
    );

    let newest = comments(&app, &article, json!({ "last": 2 })).await;
    assert_eq!(node_values(&newest, "body"), ["comment 4", "comment 5"]);
    assert_eq!(newest["pageInfo"]["hasPreviousPage"], true);
}
