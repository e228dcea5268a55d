//! A request costs the same SQL statements at every page size and nesting,
//! anonymous or logged in, alone or beside 63 others: counted by Folio and,
//! on Postgres, by Postgres itself (pg_stat_statements).

use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set, sea_query::OnConflict};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, data, spawn_app};
use folio::{
    db::entities::{article, comment, follow},
    seed::{self, SeedSizes},
};

const SIZES: [usize; 3] = [5, 25, 100];

/// The list: every author is someone else's row, asked twice.
const LIST: &str = "query($first: Int!) { articles(first: $first) { nodes {
    slug title tags favoritesCount viewerHasFavorited
    author { username viewerIsFollowing followersCount } } } }";

/// A list of lists: every article's author, its articles, its followers,
/// its favorites and the article's last comments with their authors.
const LIST_OF_LISTS: &str = "query($first: Int!) { articles(first: $first) { totalCount nodes {
    slug title description tags favoritesCount viewerHasFavorited publishedAt
    author { username image viewerIsFollowing followersCount
        articles(first: 2) { totalCount nodes { slug } }
        followers(first: 2) { totalCount nodes { username } }
        favorites(first: 2) { totalCount nodes { slug } } }
    comments(last: 2) { totalCount pageInfo { hasPreviousPage } nodes { body author { username } } }
} } }";

const COMMENTS: &str = "query($slug: String!, $first: Int!) { article(slug: $slug) {
    title body tags favoritesCount viewerHasFavorited author { username followersCount }
    comments(first: $first) { totalCount nodes { body createdAt
        author { username image viewerIsFollowing followersCount } } } } }";

const FOLLOWERS: &str = "query($first: Int!) { user(username: \"user1\") {
    followers(first: $first) { nodes { username
        articles(first: 3) { nodes { title author { username followersCount } } } } } } }";

/// A seeded site where user1 has 130 followers, each of whom commented on
/// its article "Busy": every list below holds 100 rows of distinct people.
struct Site {
    app: TestApp,
    reader: Session,
    busy: String,
}

async fn site() -> Site {
    let app = spawn_app().await;
    let sizes = SeedSizes {
        users: 160,
        articles: 300,
        comments: 300,
        favorites: 600,
        follows: 400,
        tags: 12,
        seed: 20,
    };
    seed::run(&app.db, sizes).await.expect("seeded");
    let login = app
        .query(
            "mutation($input: LoginInput!) { login(input: $input) {
                accessToken refreshToken user { id username } } }",
            json!({ "input": { "email": "user1@example.com", "password": seed::PASSWORD } }),
        )
        .await;
    let payload = &data(&login)["login"];
    let reader = Session {
        token: payload["accessToken"].as_str().unwrap().to_owned(),
        refresh_token: payload["refreshToken"].as_str().unwrap().to_owned(),
        id: payload["user"]["id"].as_str().unwrap().to_owned(),
        username: "user1".to_owned(),
    };
    let busy = app.create_article(&reader, "Busy", &["talk"], true).await;
    let busy = busy["slug"].as_str().unwrap().to_owned();
    let row = article::Entity::find()
        .filter(article::Column::Slug.eq(&busy))
        .one(&app.db)
        .await
        .unwrap()
        .expect("the article");
    let people = 2..=131_i64;
    follow::Entity::insert_many(people.clone().map(|id| follow::ActiveModel {
        follower_id: Set(id),
        followee_id: Set(1),
        created_at: Set(row.created_at),
        ..Default::default()
    }))
    .on_conflict(
        OnConflict::columns([follow::Column::FollowerId, follow::Column::FolloweeId])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&app.db)
    .await
    .unwrap();
    comment::Entity::insert_many(people.map(|id| comment::ActiveModel {
        article_id: Set(row.id),
        author_id: Set(id),
        body: Set(format!("comment by user{id}")),
        created_at: Set(row.created_at + chrono::Duration::seconds(id)),
        updated_at: Set(row.created_at + chrono::Duration::seconds(id)),
        ..Default::default()
    }))
    .exec_without_returning(&app.db)
    .await
    .unwrap();
    Site { app, reader, busy }
}

/// What one run of `query` cost: statements by Folio's count and by
/// Postgres's own (`None` on SQLite), and the rows of its outer list.
async fn cost(
    site: &Site,
    viewer: Option<&Session>,
    query: &str,
    first: usize,
) -> (u64, Option<u64>) {
    let app = &site.app;
    let variables = json!({ "first": first, "slug": site.busy });
    let (folio, postgres) = (app.statements.get(), app.database.executed().await);
    let response = match viewer {
        Some(viewer) => app.query_as(viewer, query, variables).await,
        None => app.query(query, variables).await,
    };
    let folio = app.statements.get() - folio;
    let postgres = match postgres {
        Some(before) => Some(app.database.executed().await.unwrap() - before),
        None => None,
    };
    assert_eq!(outer_rows(data(&response)), first, "{query}");
    (folio, postgres)
}

/// The length of the outermost list in `data`, which proves the page held
/// as many rows as asked.
fn outer_rows(data: &Value) -> usize {
    let outer = match (&data["articles"], &data["article"], &data["user"]) {
        (Value::Object(list), _, _) => &list["nodes"],
        (_, Value::Object(article), _) => &article["comments"]["nodes"],
        (_, _, Value::Object(user)) => &user["followers"]["nodes"],
        _ => panic!("no list in {data}"),
    };
    outer.as_array().expect("a list").len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_do_not_depend_on_page_size() {
    let site = site().await;
    for (name, query) in [
        ("list", LIST),
        ("list of lists", LIST_OF_LISTS),
        ("comments", COMMENTS),
        ("followers", FOLLOWERS),
    ] {
        for viewer in [None, Some(&site.reader)] {
            let mut costs = Vec::new();
            for first in SIZES {
                costs.push(cost(&site, viewer, query, first).await);
            }
            let who = if viewer.is_some() {
                "logged in"
            } else {
                "anonymous"
            };
            println!("{name}, {who}, at {SIZES:?}: {costs:?}");
            assert!(
                costs.iter().all(|cost| *cost == costs[0]),
                "{name}, {who}: (Folio's count, Postgres's) at {SIZES:?}: {costs:?}"
            );
            // Postgres saw exactly what Folio sent.
            if let (folio, Some(postgres)) = costs[0] {
                assert_eq!(folio, postgres, "{name}, {who}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_hold_under_64_concurrent_clients() {
    let site = site().await;
    let app = &site.app;
    let (alone, _) = cost(&site, Some(&site.reader), LIST, 100).await;
    let (folio, postgres) = (app.statements.get(), app.database.executed().await);
    let variables = json!({ "first": 100 });
    let responses =
        join_all((0..64).map(|_| app.query_as(&site.reader, LIST, variables.clone()))).await;
    for response in &responses {
        assert_eq!(outer_rows(data(response)), 100);
    }
    let folio = app.statements.get() - folio;
    assert_eq!(
        folio,
        64 * alone,
        "64 clients, {alone} statements each alone"
    );
    if let Some(before) = postgres {
        let postgres = app.database.executed().await.unwrap() - before;
        assert_eq!(postgres, 64 * alone, "counted by Postgres");
    }
}

/// An article page with 10 or 100 comments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_article_page_costs_the_same_with_10_or_100_comments() {
    let site = site().await;
    let mut costs = Vec::new();
    for first in [10, 100] {
        costs.push(cost(&site, Some(&site.reader), COMMENTS, first).await.0);
    }
    // viewer, the article with its author, tags, favorited, follower
    // count, the comments page with the commenters, comment count,
    // following and follower counts of the commenters.
    println!("article page statements at 10/100 comments: {costs:?}");
    assert_eq!(costs[0], costs[1]);
    assert!(costs[0] <= 9, "{costs:?}");
}

#[tokio::test]
async fn nested_pages_hold_the_right_rows_for_each_parent() {
    let app = spawn_app().await;
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
    let app = spawn_app().await;
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
