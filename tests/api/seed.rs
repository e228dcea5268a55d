//! `folio seed` fills a database with consistent, deterministic data.

use folio::seed::{self, SeedSizes};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::helpers::{TestApp, data, spawn_app};

const SIZES: SeedSizes = SeedSizes {
    users: 30,
    articles: 120,
    comments: 400,
    favorites: 300,
    follows: 150,
    tags: 12,
    seed: 7,
};

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let backend = app.db.get_database_backend();
    let row = app
        .db
        .query_one_raw(Statement::from_string(backend, sql.to_owned()))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

const OVERVIEW: &str =
    "{ articles(first: 5) { totalCount nodes { slug tags favoritesCount author { username } } }
    tags(first: 3) { nodes { name articleCount } } }";

#[tokio::test]
async fn seeded_data_is_consistent_and_deterministic() {
    let app = spawn_app().await;
    seed::run(&app.db, SIZES).await.unwrap();

    let published = scalar(
        &app,
        "SELECT COUNT(*) FROM articles WHERE status = 'PUBLISHED'",
    )
    .await;
    assert_eq!(published, 108);
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM comments").await, 400);
    // Counters agree with the rows they count.
    let drift = "SELECT COUNT(*) FROM articles a WHERE a.favorites_count <>
        (SELECT COUNT(*) FROM favorites f WHERE f.article_id = a.id)";
    assert_eq!(scalar(&app, drift).await, 0);
    let tag_drift = "SELECT COUNT(*) FROM tags t WHERE t.article_count <>
        (SELECT COUNT(*) FROM article_tags at JOIN articles a ON a.id = at.article_id
         WHERE at.tag_id = t.id AND a.status = 'PUBLISHED')";
    assert_eq!(scalar(&app, tag_drift).await, 0);

    let overview = app.query(OVERVIEW, json!({})).await;
    assert_eq!(data(&overview)["articles"]["totalCount"], published);

    // The documented credentials work, and new rows get fresh ids.
    let login = app
        .query(
            "mutation($password: String!) { login(input: { email: \"user1@example.com\", password: $password }) {
                accessToken user { role } } }",
            json!({ "password": seed::PASSWORD }),
        )
        .await;
    assert_eq!(data(&login)["login"]["user"]["role"], "ADMIN");
    let newcomer = app.register("newcomer").await;
    app.create_article(&newcomer, "Fresh", &["rust"], true)
        .await;

    // The same sizes and seed give the same data.
    let other = spawn_app().await;
    seed::run(&other.db, SIZES).await.unwrap();
    assert_eq!(other.query(OVERVIEW, json!({})).await, overview);
    assert!(
        seed::run(&other.db, SIZES).await.is_err(),
        "refuses a seeded database"
    );
}
