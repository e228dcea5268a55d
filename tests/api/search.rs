//! `filter: { search }` is full-text search through an index on both
//! backends: words as people type them, no input that fails, pages that
//! keep their order and cursors, and an index that follows every write and
//! is built for rows that were there before it.

use migrations::{Migrator, MigratorTrait};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, data, node_values, spawn_app_with};

const SEARCH: &str = "query($q: String!, $first: Int, $after: String) {
    articles(filter: { search: $q }, first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } nodes { title } } }";

async fn titles(app: &TestApp, search: &str) -> Vec<String> {
    let response = app.query(SEARCH, json!({ "q": search, "first": 50 })).await;
    node_values(&data(&response)["articles"], "title")
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// The titles of every page of `query` for `search`, `first` at a time,
/// following `endCursor`; each page must count `total` matches.
async fn every_page(
    app: &TestApp,
    query: &str,
    search: &str,
    first: usize,
    total: u64,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let response = app
            .query(
                query,
                json!({ "q": search, "first": first, "after": after }),
            )
            .await;
        let articles = &data(&response)["articles"];
        assert_eq!(articles["totalCount"], total);
        seen.extend(
            node_values(articles, "title")
                .into_iter()
                .map(str::to_owned),
        );
        if articles["pageInfo"]["hasNextPage"] != true {
            return seen;
        }
        after = articles["pageInfo"]["endCursor"].clone();
    }
}

async fn write(
    app: &TestApp,
    author: &Session,
    title: &str,
    description: &str,
    body: &str,
) -> Value {
    let response = app
        .query_as(
            author,
            "mutation($input: CreateArticleInput!) { createArticle(input: $input) { id slug } }",
            json!({ "input": { "title": title, "description": description, "body": body,
                "tags": [], "publish": true } }),
        )
        .await;
    data(&response)["createArticle"].clone()
}

async fn uncached() -> TestApp {
    spawn_app_with(|settings| settings.response_cache = false).await
}

#[tokio::test]
async fn words_quotes_or_and_minus_work_as_typed() {
    let app = uncached().await;
    let author = app.register("writer").await;
    write(
        &app,
        &author,
        "Caching in Rust",
        "Notes",
        "We cached pages with moka.",
    )
    .await;
    write(
        &app,
        &author,
        "Postgres keyset pagination",
        "Cursors",
        "Seek, do not offset.",
    )
    .await;
    write(
        &app,
        &author,
        "SQLite pagination",
        "Cursors too",
        "Offsets are slow.",
    )
    .await;
    write(
        &app,
        &author,
        "Cooking pasta",
        "Dinner",
        "Boil the water, salt it.",
    )
    .await;

    // Stemmed: "caches" finds "Caching" and "cached"; case does not matter.
    assert_eq!(titles(&app, "CACHES").await, ["Caching in Rust"]);
    // Every word must appear, in any of title, description and body.
    assert_eq!(
        titles(&app, "pagination seek").await,
        ["Postgres keyset pagination"]
    );
    // Quotes keep words together.
    assert_eq!(
        titles(&app, "\"keyset pagination\"").await,
        ["Postgres keyset pagination"]
    );
    assert!(titles(&app, "\"pagination keyset\"").await.is_empty());
    // `or` lets either do; `-word` must not appear.
    let mut either = titles(&app, "pasta or rust").await;
    either.sort();
    assert_eq!(either, ["Caching in Rust", "Cooking pasta"]);
    assert_eq!(
        titles(&app, "pagination -postgres").await,
        ["SQLite pagination"]
    );
    assert_eq!(
        titles(&app, "nothing-here-matches").await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn nothing_typed_fails_and_no_match_is_an_empty_page() {
    let app = uncached().await;
    let author = app.register("writer").await;
    write(
        &app,
        &author,
        "A title",
        "A description",
        "100% of the body.",
    )
    .await;
    let many = "word ".repeat(10_000);
    for typed in [
        "%",
        "_",
        "'",
        "\"",
        "-",
        "\"unclosed",
        "a:b*",
        "NEAR(x y)",
        "()",
        "^",
        many.as_str(),
        "",
    ] {
        let response = app.query(SEARCH, json!({ "q": typed })).await;
        let articles = &data(&response)["articles"];
        assert!(articles["nodes"].is_array(), "{typed:.40}: {response}");
        if ["%", "_", "-", "()", "^"].contains(&typed) {
            assert_eq!(articles["totalCount"], 0, "{typed}");
            assert_eq!(articles["nodes"], json!([]), "{typed}");
            assert_eq!(articles["pageInfo"]["hasNextPage"], false);
        }
    }
}

#[tokio::test]
async fn search_pages_keep_their_order_and_cursors() {
    let app = uncached().await;
    let author = app.register("writer").await;
    for i in 0..7 {
        write(
            &app,
            &author,
            &format!("Tokio note {i}"),
            "runtime",
            "About tasks.",
        )
        .await;
        write(
            &app,
            &author,
            &format!("Other note {i}"),
            "unrelated",
            "About cooking.",
        )
        .await;
    }
    let seen = every_page(&app, SEARCH, "tokio", 3, 7).await;
    // Newest first, the list's default order, each once.
    let expected: Vec<String> = (0..7).rev().map(|i| format!("Tokio note {i}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn the_index_follows_every_write() {
    let app = uncached().await;
    let author = app.register("writer").await;
    let article = write(&app, &author, "Draft title", "Plain", "Nothing special.").await;
    assert!(titles(&app, "zeppelin").await.is_empty());
    app.query_as(
        &author,
        "mutation($id: ID!) { updateArticle(id: $id, input: { body: \"A zeppelin flew.\" }) { id } }",
        json!({ "id": article["id"] }),
    )
    .await;
    assert_eq!(titles(&app, "zeppelin").await, ["Draft title"]);
    assert!(
        titles(&app, "special").await.is_empty(),
        "the old body is gone from the index"
    );
    app.query_as(
        &author,
        "mutation($id: ID!) { deleteArticle(id: $id) }",
        json!({ "id": article["id"] }),
    )
    .await;
    assert!(titles(&app, "zeppelin").await.is_empty());
}

#[tokio::test]
async fn the_migration_indexes_rows_written_before_it() {
    let app = uncached().await;
    let author = app.register("writer").await;
    write(
        &app,
        &author,
        "Written before search",
        "Old",
        "An aardvark.",
    )
    .await;
    // Back to the schema before the search index, and forward again: the
    // rows already there are found.
    Migrator::down(&app.db, Some(1)).await.expect("down one");
    let before = app
        .db
        .execute_unprepared("SELECT count(*) FROM articles")
        .await;
    assert!(before.is_ok());
    Migrator::up(&app.db, None).await.expect("up");
    assert_eq!(titles(&app, "aardvark").await, ["Written before search"]);
}

#[tokio::test]
async fn relevance_puts_the_best_matches_first_with_stable_cursors() {
    let app = uncached().await;
    let author = app.register("writer").await;
    // Oldest first, so newest-first order is the reverse of relevance.
    write(
        &app,
        &author,
        "Gardening in spring",
        "Seeds",
        "Once, tomatoes; mostly roses.",
    )
    .await;
    write(
        &app,
        &author,
        "Weekly notes",
        "Tomatoes and more",
        "Watering.",
    )
    .await;
    write(
        &app,
        &author,
        "Tomatoes",
        "Growing tomatoes",
        "Tomatoes need sun: tomatoes.",
    )
    .await;
    write(&app, &author, "Unrelated", "Nothing", "Cars.").await;
    let ranked = "query($q: String!, $first: Int, $after: String) {
        articles(filter: { search: $q }, orderBy: { field: RELEVANCE }, first: $first, after: $after) {
            totalCount pageInfo { hasNextPage endCursor } nodes { title } } }";
    let seen = every_page(&app, ranked, "tomato", 1, 3).await;
    assert_eq!(seen, ["Tomatoes", "Weekly notes", "Gardening in spring"]);
    // A cursor of one order is refused by another.
    let newest = app
        .query(SEARCH, json!({ "q": "tomato", "first": 1 }))
        .await;
    let cursor = &data(&newest)["articles"]["pageInfo"]["endCursor"];
    let refused = app
        .query(
            ranked,
            json!({ "q": "tomato", "first": 1, "after": cursor }),
        )
        .await;
    assert_eq!(crate::helpers::code(&refused), "BAD_USER_INPUT");
    // Without a search, relevance is the newest first.
    let unranked = app
        .query(
            "{ articles(orderBy: { field: RELEVANCE }) { nodes { title } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        node_values(&data(&unranked)["articles"], "title"),
        [
            "Unrelated",
            "Tomatoes",
            "Weekly notes",
            "Gardening in spring"
        ]
    );
}
