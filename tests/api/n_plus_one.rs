//! A page costs a constant number of SQL statements, however many rows it has.

use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, data, spawn_app_with};

const LIST_PAGE: &str = "query($first: Int!) { articles(first: $first) { totalCount nodes {
    slug title description tags favoritesCount viewerHasFavorited publishedAt
    author { username image viewerIsFollowing followersCount
        articles(first: 2) { totalCount nodes { slug } }
        followers(first: 2) { totalCount nodes { username } }
        favorites(first: 2) { totalCount nodes { slug } } }
    comments(last: 2) { totalCount pageInfo { hasPreviousPage } nodes { body author { username } } }
} } }";

const ARTICLE_PAGE: &str = "query($slug: String!, $first: Int!) { article(slug: $slug) {
    title body tags favoritesCount viewerHasFavorited author { username followersCount }
    comments(first: $first) { totalCount nodes { body createdAt author { username image } } } } }";

/// Loaders that wait long enough to collect every key of a page. At the
/// default 1 ms, and even at 20 ms on Postgres, an unoptimised test build on
/// a busy machine can take longer than that to walk 100 list items, and a
/// batch splits in two: a latency trade-off the benchmarks measure, not a
/// per-row query.
fn patient_loaders(settings: &mut folio::config::ServeSettings) {
    settings.dataloader_delay_us = 100_000;
}

/// Statements the server executes for one request.
async fn cost(app: &TestApp, viewer: &Session, query: &str, variables: Value) -> u64 {
    let before = app.statements.get();
    let response = app.query_as(viewer, query, variables).await;
    data(&response);
    app.statements.get() - before
}

#[tokio::test]
async fn a_list_page_costs_the_same_at_every_size() {
    let app = spawn_app_with(patient_loaders).await;
    let reader = app.register("reader").await;
    // 25 authors writing 120 articles, some favorited and followed.
    let mut authors = Vec::new();
    for i in 0..25 {
        authors.push(app.register(&format!("author{i}")).await);
    }
    for i in 0..120 {
        let article = app
            .create_article(&authors[i % 25], &format!("Article {i}"), &["a", "b"], true)
            .await;
        if i % 2 == 0 {
            app.query_as(
                &reader,
                "mutation($id: ID!) { addComment(articleId: $id, body: \"nice\") { id } }",
                json!({ "id": article["id"] }),
            )
            .await;
        }
        if i % 3 == 0 {
            app.query_as(
                &reader,
                "mutation($id: ID!) { favoriteArticle(id: $id) { id } }",
                json!({ "id": article["id"] }),
            )
            .await;
        }
    }
    for author in authors.iter().step_by(4) {
        app.query_as(
            &reader,
            "mutation($u: String!) { followUser(username: $u) { id } }",
            json!({ "u": author.username }),
        )
        .await;
    }
    let mut costs = Vec::new();
    for size in [5, 20, 100] {
        costs.push(cost(&app, &reader, LIST_PAGE, json!({ "first": size })).await);
    }
    assert!(costs.iter().all(|cost| *cost == costs[0]), "{costs:?}");
    // viewer; the page with its authors and tags; its count; favorited;
    // following; follower counts; and for each nested list (each author's
    // articles, followers (follows, then users), favorites (favorites, then
    // articles), each article's comments with their authors) its pages and
    // one count for all its parents
    println!("list page statements at 5/20/100: {costs:?}");
    assert!(costs[0] <= 16, "{costs:?}");
}

/// Loaders that batch only what arrives together. With a second worker
/// thread running the batch while the page is still being walked, a page
/// whose items each asked the loader on their own split into several
/// batches (19 statements instead of 9 at 100 comments), as it does under
/// load.
fn eager_loaders(settings: &mut folio::config::ServeSettings) {
    settings.dataloader_delay_us = 0;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_article_page_costs_the_same_with_10_or_100_comments() {
    let app = spawn_app_with(eager_loaders).await;
    let reader = app.register("reader").await;
    let author = app.register("author").await;
    let mut commenters = Vec::new();
    for i in 0..12 {
        commenters.push(app.register(&format!("commenter{i}")).await);
    }
    let mut costs = Vec::new();
    for comments in [10, 100] {
        let article = app
            .create_article(&author, &format!("With {comments}"), &["talk"], true)
            .await;
        for i in 0..comments {
            app.query_as(
                &commenters[i % 12],
                "mutation($id: ID!, $body: String!) { addComment(articleId: $id, body: $body) { id } }",
                json!({ "id": article["id"], "body": format!("comment {i}") }),
            )
            .await;
        }
        let vars = json!({ "slug": article["slug"], "first": comments });
        costs.push(cost(&app, &reader, ARTICLE_PAGE, vars).await);
    }
    // viewer, the article with its author, tags, favorited, follower
    // count, the comments page with the commenters, comment count. No
    // statement depends on how the page's keys happen to batch.
    println!("article page statements at 10/100 comments: {costs:?}");
    assert_eq!(costs, [7, 7]);
}

#[tokio::test]
async fn nested_pages_hold_the_right_rows_for_each_parent() {
    let app = spawn_app_with(patient_loaders).await;
    let ann = app.register("ann").await;
    let ben = app.register("ben").await;
    let quiet = app.create_article(&ann, "Quiet", &[], true).await;
    let busy = app.create_article(&ben, "Busy", &[], true).await;
    app.create_article(&ben, "Busier", &[], true).await;
    for i in 0..5 {
        app.query_as(
            &ann,
            "mutation($id: ID!, $body: String!) { addComment(articleId: $id, body: $body) { id } }",
            json!({ "id": busy["id"], "body": format!("c{i}") }),
        )
        .await;
    }
    app.query_as(
        &ann,
        "mutation($id: ID!) { favoriteArticle(id: $id) { id } }",
        json!({ "id": busy["id"] }),
    )
    .await;
    app.query_as(
        &ann,
        "mutation { followUser(username: \"ben\") { id } }",
        json!({}),
    )
    .await;
    let _ = quiet;
    let query = "{ articles(orderBy: { direction: ASC }) { nodes { title
        first: comments(first: 2) { totalCount pageInfo { hasNextPage hasPreviousPage } nodes { body } }
        last: comments(last: 2) { pageInfo { hasNextPage hasPreviousPage } nodes { body } }
        author { articles(first: 1) { totalCount nodes { title } }
            followers(first: 5) { totalCount nodes { username } }
            favorites(first: 5) { totalCount nodes { title } } } } } }";
    let response = app.query(query, json!({})).await;
    let nodes = &data(&response)["articles"]["nodes"];
    assert_eq!(nodes[0]["title"], "Quiet");
    assert_eq!(nodes[0]["first"]["totalCount"], 0);
    assert_eq!(nodes[0]["first"]["nodes"], json!([]));
    assert_eq!(nodes[0]["first"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(nodes[0]["author"]["articles"]["totalCount"], 1);
    assert_eq!(nodes[0]["author"]["followers"]["totalCount"], 0);
    assert_eq!(
        nodes[0]["author"]["favorites"]["nodes"],
        json!([{ "title": "Busy" }])
    );
    assert_eq!(nodes[1]["title"], "Busy");
    assert_eq!(nodes[1]["first"]["totalCount"], 5);
    assert_eq!(
        nodes[1]["first"]["nodes"],
        json!([{ "body": "c0" }, { "body": "c1" }])
    );
    assert_eq!(
        nodes[1]["first"]["pageInfo"],
        json!({ "hasNextPage": true, "hasPreviousPage": false })
    );
    assert_eq!(
        nodes[1]["last"]["nodes"],
        json!([{ "body": "c3" }, { "body": "c4" }])
    );
    assert_eq!(
        nodes[1]["last"]["pageInfo"],
        json!({ "hasNextPage": false, "hasPreviousPage": true })
    );
    // Ben's newest article first, for both of his articles.
    for node in [&nodes[1], &nodes[2]] {
        assert_eq!(node["author"]["articles"]["totalCount"], 2);
        assert_eq!(
            node["author"]["articles"]["nodes"],
            json!([{ "title": "Busier" }])
        );
    }
}

#[tokio::test]
async fn list_rows_leave_bodies_behind_until_asked() {
    let app = spawn_app_with(patient_loaders).await;
    let author = app.register("longform").await;
    for i in 0..3 {
        app.create_article(&author, &format!("Essay {i}"), &["essays"], true)
            .await;
    }
    app.create_article(&author, "Unfinished", &[], false).await;
    let with_body = "{ articles { nodes { title body } }
        user(username: \"longform\") { articles(first: 2) { nodes { body } } } }";
    let response = app.query(with_body, json!({})).await;
    let nodes = &data(&response)["articles"]["nodes"];
    for (i, node) in nodes.as_array().unwrap().iter().rev().enumerate() {
        assert_eq!(node["body"], format!("The body of Essay {i}."));
    }
    let nested = &data(&response)["user"]["articles"]["nodes"];
    assert_eq!(nested[0]["body"], "The body of Essay 2.");
    let drafts = app
        .query_as(
            &author,
            "{ viewer { drafts { nodes { body } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&drafts)["viewer"]["drafts"]["nodes"][0]["body"],
        "The body of Unfinished."
    );

    // Bodies cost one batched statement, whatever the page size.
    let before = app.statements.get();
    data(
        &app.query("{ articles { nodes { title } } }", json!({}))
            .await,
    );
    let without = app.statements.get() - before;
    let before = app.statements.get();
    data(
        &app.query("{ articles { nodes { title body } } }", json!({}))
            .await,
    );
    assert_eq!(app.statements.get() - before, without + 1);
}
