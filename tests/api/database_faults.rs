//! Postgres connections killed (`pg_terminate_backend`) while clients read
//! and write: each request succeeds or fails with SERVICE_UNAVAILABLE within
//! the request timeout, the pool recovers without a restart, and no article
//! is stored without its tags (or tags without their article).

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, count_rows, data, spawn_app_with};

const TIMEOUT_SECONDS: f64 = 5.0;
const CHAOS: Duration = Duration::from_secs(6);
const TAGS: [&str; 3] = ["faults", "chaos", "tags"];

fn on_postgres() -> bool {
    std::env::var("FOLIO_TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty())
}

const CREATE: &str =
    "mutation($input: CreateArticleInput!) { createArticle(input: $input) { slug tags } }";
const LIST: &str = "{ articles(first: 5) { nodes { slug tags author { username } } } }";

/// What the clients saw.
#[derive(Default)]
struct Seen {
    ok: u64,
    unavailable: u64,
    /// Anything but success or SERVICE_UNAVAILABLE.
    other: Vec<String>,
    slowest: Duration,
    created: Vec<String>,
}

async fn client(app: &TestApp, task: usize, session: &Session, until: Instant) -> Seen {
    let mut seen = Seen::default();
    let mut step = 0;
    while Instant::now() < until {
        step += 1;
        let body = if (task + step).is_multiple_of(2) {
            json!({ "query": CREATE, "variables": { "input": {
                "title": format!("Fault {task} {step}"), "description": "d", "body": "b",
                "tags": TAGS, "publish": true } } })
        } else {
            json!({ "query": LIST })
        };
        let started = Instant::now();
        let (status, response) = app.post(Some(&session.token), body).await;
        seen.slowest = seen.slowest.max(started.elapsed());
        match outcome(status, &response) {
            Outcome::Ok => {
                seen.ok += 1;
                if let Some(slug) = response["data"]["createArticle"]["slug"].as_str() {
                    seen.created.push(slug.to_owned());
                }
            }
            Outcome::Unavailable => seen.unavailable += 1,
            Outcome::Other => seen.other.push(format!("{status} {response}")),
        }
    }
    seen
}

enum Outcome {
    Ok,
    Unavailable,
    Other,
}

fn outcome(status: StatusCode, response: &Value) -> Outcome {
    let codes: Vec<&str> = response["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|err| err["extensions"]["code"].as_str().unwrap_or("none"))
                .collect()
        })
        .unwrap_or_default();
    match (status, codes.as_slice()) {
        (StatusCode::OK, []) => Outcome::Ok,
        (StatusCode::OK | StatusCode::SERVICE_UNAVAILABLE, codes)
            if codes.iter().all(|code| *code == "SERVICE_UNAVAILABLE") =>
        {
            Outcome::Unavailable
        }
        _ => Outcome::Other,
    }
}

/// Terminates every other backend on the test's database, over and over,
/// until `until`; returns how many it terminated.
async fn kill_connections(admin: &DatabaseConnection, until: Instant) -> i64 {
    let mut killed = 0;
    while Instant::now() < until {
        let row = admin
            .query_one_raw(Statement::from_string(
                admin.get_database_backend(),
                "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()) AS killed",
            ))
            .await
            .unwrap()
            .unwrap();
        killed += row.try_get_by_index::<i64>(0).unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    killed
}

#[tokio::test]
async fn killed_connections_fail_cleanly_and_the_pool_recovers() {
    if !on_postgres() {
        println!("skipped: pg_terminate_backend needs FOLIO_TEST_DATABASE_URL");
        return;
    }
    let app = spawn_app_with(|settings| {
        settings.request_timeout = TIMEOUT_SECONDS;
        settings.response_cache = false;
        settings.database.db_max_connections = 8;
    })
    .await;
    let mut sessions = Vec::new();
    for i in 0..8 {
        sessions.push(app.register(&format!("faulty{i}")).await);
    }
    let admin = Database::connect(&app.database.url).await.unwrap();

    let until = Instant::now() + CHAOS;
    let (seen, killed) = tokio::join!(
        join_all(
            sessions
                .iter()
                .enumerate()
                .map(|(task, session)| client(&app, task, session, until))
        ),
        kill_connections(&admin, until),
    );
    let ok: u64 = seen.iter().map(|seen| seen.ok).sum();
    let unavailable: u64 = seen.iter().map(|seen| seen.unavailable).sum();
    let other: Vec<&String> = seen.iter().flat_map(|seen| &seen.other).collect();
    let slowest = seen.iter().map(|seen| seen.slowest).max().unwrap();
    println!(
        "{killed} connections killed: {ok} requests succeeded, {unavailable} got SERVICE_UNAVAILABLE, \
         {} anything else; slowest {slowest:?}",
        other.len()
    );
    assert!(killed > 0, "no connection was killed");
    assert!(unavailable > 0, "no request met a killed connection");
    assert!(other.is_empty(), "{:?}", &other[..other.len().min(5)]);
    assert!(
        slowest < Duration::from_secs_f64(TIMEOUT_SECONDS + 1.0),
        "a request took {slowest:?}"
    );

    // The pool recovers by itself: every request succeeds again.
    let session = &sessions[0];
    for _ in 0..20 {
        let (status, response) = app
            .post(Some(&session.token), json!({ "query": LIST }))
            .await;
        assert_eq!(status, StatusCode::OK, "{response}");
        data(&response);
    }

    // Nothing half-written: every article has all its tags, every created
    // one is stored, and each tag counts the published articles it is on.
    let db = &app.db;
    assert_eq!(
        count_rows(db, "SELECT COUNT(*) FROM articles a WHERE (SELECT COUNT(*) FROM article_tags t WHERE t.article_id = a.id) <> 3").await,
        0
    );
    let created: Vec<&String> = seen.iter().flat_map(|seen| &seen.created).collect();
    let stored = count_rows(db, "SELECT COUNT(*) FROM articles").await;
    assert!(
        stored >= created.len() as i64,
        "{stored} stored, {} created",
        created.len()
    );
    for slug in &created {
        assert_eq!(
            count_rows(
                db,
                &format!("SELECT COUNT(*) FROM articles WHERE slug = '{slug}'")
            )
            .await,
            1
        );
    }
    assert_eq!(
        count_rows(db, "SELECT COUNT(*) FROM tags t WHERE t.article_count <> (SELECT COUNT(*) FROM article_tags l
             JOIN articles a ON a.id = l.article_id WHERE l.tag_id = t.id AND a.status = 'PUBLISHED')").await,
        0
    );
}
