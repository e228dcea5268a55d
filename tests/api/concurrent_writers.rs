//! Many clients favoriting, following and commenting on the same few rows
//! at once. Afterwards every count the API reports equals the rows stored,
//! no favorite or follow is stored twice, no request failed inside the
//! server, and every comment whose creation succeeded is stored.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Session, TestApp, count_rows, data, spawn_app_with};

const TASKS: usize = 50;
/// Fewer users than tasks, so the same user's writes to the same row race.
const USERS: usize = 10;
const ARTICLES: usize = 3;

/// 20 s on Postgres, 8 s on SQLite (one writer at a time, so the same
/// number of tasks is mostly waiting); `FOLIO_TEST_WRITERS_SECONDS`
/// overrides both.
fn duration() -> Duration {
    let seconds = std::env::var("FOLIO_TEST_WRITERS_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(
            if std::env::var("FOLIO_TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
                20
            } else {
                8
            },
        );
    Duration::from_secs(seconds)
}

const FAVORITE: &str =
    "mutation($id: ID!) { favoriteArticle(id: $id) { favoritesCount viewerHasFavorited } }";
const UNFAVORITE: &str =
    "mutation($id: ID!) { unfavoriteArticle(id: $id) { favoritesCount viewerHasFavorited } }";
const FOLLOW: &str =
    "mutation($u: String!) { followUser(username: $u) { followersCount viewerIsFollowing } }";
const UNFOLLOW: &str =
    "mutation($u: String!) { unfollowUser(username: $u) { followersCount viewerIsFollowing } }";
const COMMENT: &str =
    "mutation($id: ID!, $body: String!) { addComment(articleId: $id, body: $body) { id body } }";

/// What one writer saw.
#[derive(Default)]
struct Outcome {
    requests: u64,
    /// Responses that were not a 200 with data and no errors, with the reason.
    failures: Vec<String>,
    /// Comments created, by id, with their body.
    comments: HashMap<String, String>,
}

async fn writer(
    app: &TestApp,
    task: usize,
    user: &Session,
    articles: &[String],
    authors: &[String],
    until: Instant,
) -> Outcome {
    let mut outcome = Outcome::default();
    let mut step = task;
    while Instant::now() < until {
        step += 7;
        let (query, variables, field) = match step % 5 {
            0 => (
                FAVORITE,
                json!({ "id": articles[step % ARTICLES] }),
                "favoriteArticle",
            ),
            1 => (
                UNFAVORITE,
                json!({ "id": articles[step % ARTICLES] }),
                "unfavoriteArticle",
            ),
            2 => (
                FOLLOW,
                json!({ "u": authors[step % authors.len()] }),
                "followUser",
            ),
            3 => (
                UNFOLLOW,
                json!({ "u": authors[step % authors.len()] }),
                "unfollowUser",
            ),
            _ => {
                let body = format!("task {task} step {step}");
                (
                    COMMENT,
                    json!({ "id": articles[step % ARTICLES], "body": body }),
                    "addComment",
                )
            }
        };
        outcome.requests += 1;
        let (status, response) = app
            .post(
                Some(&user.token),
                json!({ "query": query, "variables": variables }),
            )
            .await;
        if status != StatusCode::OK || response.get("errors").is_some() {
            outcome
                .failures
                .push(format!("{field}: {status} {response}"));
            continue;
        }
        let result = &response["data"][field];
        if field == "addComment" {
            outcome.comments.insert(
                result["id"].as_str().unwrap().to_owned(),
                result["body"].as_str().unwrap().to_owned(),
            );
        }
    }
    outcome
}

#[tokio::test]
async fn concurrent_writers_leave_counts_equal_to_the_rows() {
    let app = spawn_app_with(|settings| {
        settings.database.db_max_connections = 10;
        settings.response_cache = false;
    })
    .await;
    let mut users = Vec::new();
    for i in 0..USERS {
        users.push(app.register(&format!("writer{i}")).await);
    }
    let authors: Vec<String> = (0..ARTICLES).map(|i| format!("author{i}")).collect();
    let (mut articles, mut slugs) = (Vec::new(), Vec::new());
    for author in &authors {
        let session = app.register(author).await;
        let article = app.create_article(&session, author, &["busy"], true).await;
        articles.push(article["id"].as_str().unwrap().to_owned());
        slugs.push(article["slug"].as_str().unwrap().to_owned());
    }

    let until = Instant::now() + duration();
    let outcomes = join_all(
        (0..TASKS).map(|task| writer(&app, task, &users[task % USERS], &articles, &authors, until)),
    )
    .await;

    let requests: u64 = outcomes.iter().map(|outcome| outcome.requests).sum();
    let failures: Vec<&String> = outcomes
        .iter()
        .flat_map(|outcome| &outcome.failures)
        .collect();
    println!(
        "{TASKS} writers: {requests} requests, {} failed",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failed, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(requests >= TASKS as u64 * 5, "only {requests} requests ran");

    // Nothing stored twice.
    let db = &app.db;
    assert_eq!(
        count_rows(db, "SELECT COUNT(*) FROM (SELECT user_id, article_id FROM favorites GROUP BY user_id, article_id HAVING COUNT(*) > 1) AS twice").await,
        0
    );
    assert_eq!(
        count_rows(db, "SELECT COUNT(*) FROM (SELECT follower_id, followee_id FROM follows GROUP BY follower_id, followee_id HAVING COUNT(*) > 1) AS twice").await,
        0
    );

    // Every comment that was created is stored, once, with its body.
    let created: HashMap<&String, &String> = outcomes
        .iter()
        .flat_map(|outcome| &outcome.comments)
        .collect();
    assert!(!created.is_empty());
    // `nodes` takes a page (100 ids) at a time.
    let ids: Vec<&&String> = created.keys().collect();
    for page in ids.chunks(100) {
        let listed = app
            .query(
                "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Comment { id body } } }",
                json!({ "ids": page }),
            )
            .await;
        for node in data(&listed)["nodes"].as_array().unwrap() {
            assert!(node.is_object(), "a created comment is missing: {listed}");
            assert_eq!(
                created[&node["id"].as_str().unwrap().to_owned()],
                node["body"].as_str().unwrap()
            );
        }
    }
    assert_eq!(
        count_rows(db, "SELECT COUNT(*) FROM comments").await,
        created.len() as i64
    );

    // The counts the API reports equal the rows.
    for slug in &slugs {
        let reported = app
            .query(
                "query($slug: String!) { article(slug: $slug) { favoritesCount comments { totalCount } } }",
                json!({ "slug": slug }),
            )
            .await;
        let article = &data(&reported)["article"];
        let rows = |table: &str| {
            format!(
                "SELECT COUNT(*) FROM {table} JOIN articles ON articles.id = {table}.article_id WHERE articles.slug = '{slug}'"
            )
        };
        assert_eq!(
            article["favoritesCount"].as_i64().unwrap(),
            count_rows(db, &rows("favorites")).await,
            "{slug}"
        );
        assert_eq!(
            article["comments"]["totalCount"].as_i64().unwrap(),
            count_rows(db, &rows("comments")).await,
            "{slug}"
        );
    }
    for username in authors
        .iter()
        .chain(users.iter().map(|user| &user.username))
    {
        let reported = app
            .query(
                "query($u: String!) { user(username: $u) { followersCount followingCount } }",
                json!({ "u": username }),
            )
            .await;
        let user = &data(&reported)["user"];
        let rows = |side: &str| {
            format!(
                "SELECT COUNT(*) FROM follows JOIN users ON users.id = follows.{side}_id WHERE users.username = '{username}'"
            )
        };
        assert_eq!(
            user["followersCount"].as_i64().unwrap(),
            count_rows(db, &rows("followee")).await,
            "{username}"
        );
        assert_eq!(
            user["followingCount"].as_i64().unwrap(),
            count_rows(db, &rows("follower")).await,
            "{username}"
        );
    }
}
