use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, code, data, error, spawn_app};

const PAGE: &str =
    "query($first: Int, $after: String, $last: Int, $before: String, $orderBy: ArticleOrder) {
    articles(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy) {
        totalCount
        edges { cursor node { title } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

struct Page {
    titles: Vec<String>,
    has_next: bool,
    has_previous: bool,
    start: Option<String>,
    end: Option<String>,
}

async fn page(app: &TestApp, variables: Value) -> Page {
    let response = app.query(PAGE, variables).await;
    let connection = &data(&response)["articles"];
    let info = &connection["pageInfo"];
    Page {
        titles: connection["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| edge["node"]["title"].as_str().unwrap().to_owned())
            .collect(),
        has_next: info["hasNextPage"].as_bool().unwrap(),
        has_previous: info["hasPreviousPage"].as_bool().unwrap(),
        start: info["startCursor"].as_str().map(str::to_owned),
        end: info["endCursor"].as_str().map(str::to_owned),
    }
}

async fn publish_many(app: &TestApp, author: &Session, prefix: &str, count: usize) -> Vec<String> {
    let mut titles = Vec::new();
    for i in 0..count {
        let title = format!("{prefix} {i}");
        app.create_article(author, &title, &[], true).await;
        titles.push(title);
    }
    titles
}

#[tokio::test]
async fn forward_pages_have_no_duplicates_or_gaps_while_rows_are_inserted() {
    let app = spawn_app().await;
    let author = app.register("paginator").await;
    let mut expected = publish_many(&app, &author, "Old", 7).await;
    expected.reverse(); // newest first

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut round = 0;
    loop {
        let page = page(&app, json!({ "first": 3, "after": after })).await;
        assert_eq!(page.has_previous, after.is_some());
        seen.extend(page.titles);
        // New articles land at the head of the list, before the cursor:
        // they must not shift what the following pages return.
        publish_many(&app, &author, &format!("New {round}"), 2).await;
        round += 1;
        if !page.has_next {
            break;
        }
        after = page.end;
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn backward_pages_mirror_forward_pages() {
    let app = spawn_app().await;
    let author = app.register("backwards").await;
    let mut newest_first = publish_many(&app, &author, "Item", 8).await;
    newest_first.reverse();

    let last = page(&app, json!({ "last": 3 })).await;
    assert_eq!(last.titles, newest_first[5..8]);
    assert!(last.has_previous);
    assert!(!last.has_next);

    let mut seen = last.titles.clone();
    let mut before = last.start;
    loop {
        let page = page(&app, json!({ "last": 3, "before": before })).await;
        assert!(page.has_next);
        let mut titles = page.titles;
        titles.extend(seen);
        seen = titles;
        if !page.has_previous {
            break;
        }
        before = page.start;
    }
    assert_eq!(seen, newest_first);

    // A window between two cursors.
    let first = page(&app, json!({ "first": 2 })).await;
    let window = page(&app, json!({ "first": 2, "after": first.end })).await;
    let between = page(
        &app,
        json!({ "after": first.end, "before": window.end, "last": 5 }),
    )
    .await;
    assert_eq!(between.titles, newest_first[2..3]);
}

#[tokio::test]
async fn ascending_order_keeps_new_rows_at_the_end() {
    let app = spawn_app().await;
    let author = app.register("ascending").await;
    let expected = publish_many(&app, &author, "Asc", 5).await;
    let order = json!({ "field": "CREATED_AT", "direction": "ASC" });
    let first = page(&app, json!({ "first": 3, "orderBy": order })).await;
    assert_eq!(first.titles, expected[..3]);
    let added = publish_many(&app, &author, "Later", 1).await;
    let rest = page(
        &app,
        json!({ "first": 10, "after": first.end, "orderBy": order }),
    )
    .await;
    assert_eq!(rest.titles, [&expected[3..], &added[..]].concat());
    assert!(!rest.has_next);
}

#[tokio::test]
async fn paginating_by_favorites_count_breaks_ties_by_id() {
    let app = spawn_app().await;
    let author = app.register("popular").await;
    publish_many(&app, &author, "Tie", 6).await;
    let order = json!({ "field": "FAVORITES_COUNT", "direction": "DESC" });
    let mut seen = HashSet::new();
    let mut after: Option<String> = None;
    loop {
        let page = page(
            &app,
            json!({ "first": 4, "after": after, "orderBy": order }),
        )
        .await;
        for title in page.titles {
            assert!(seen.insert(title), "duplicate across pages");
        }
        if !page.has_next {
            break;
        }
        after = page.end;
    }
    assert_eq!(seen.len(), 6);
}

#[tokio::test]
async fn bad_pagination_arguments_are_user_errors() {
    let app = spawn_app().await;
    let author = app.register("strict").await;
    publish_many(&app, &author, "One", 1).await;
    let tags_cursor = {
        app.create_article(&author, "Tagged", &["x"], true).await;
        let tags = app.query("{ tags { edges { cursor } } }", json!({})).await;
        data(&tags)["tags"]["edges"][0]["cursor"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let other_order = page(&app, json!({ "first": 1 })).await.end;
    let cases = [
        (json!({ "first": 101 }), "first"),
        (json!({ "first": -1 }), "first"),
        (json!({ "last": 101 }), "last"),
        (json!({ "first": 1, "last": 1 }), "last"),
        (json!({ "after": "garbage" }), "after"),
        (json!({ "before": "QUJD" }), "before"),
        (json!({ "after": tags_cursor }), "after"),
        (
            json!({ "after": other_order, "orderBy": { "field": "CREATED_AT" } }),
            "after",
        ),
    ];
    for (variables, field) in cases {
        let response = app.query(PAGE, variables.clone()).await;
        let (code, error_field, _) = error(&response);
        assert_eq!(code, "BAD_USER_INPUT", "{variables}");
        assert_eq!(error_field.as_deref(), Some(field), "{variables}");
    }
    let zero = page(&app, json!({ "first": 0 })).await;
    assert!(zero.titles.is_empty() && zero.has_next);
    let full = page(&app, json!({ "first": 100 })).await;
    assert_eq!(full.titles.len(), 2);
    assert_eq!(
        code(
            &app.query("{ tags(first: 500) { totalCount } }", json!({}))
                .await
        ),
        "BAD_USER_INPUT"
    );
}

/// Pages bind their `LIMIT`, which makes a generic plan look costlier than
/// a custom one, so Postgres would plan every page afresh; the pool's
/// connections keep one generic plan per statement instead.
#[tokio::test]
async fn postgres_connections_reuse_generic_plans() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let app = spawn_app().await;
    if app.db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SHOW plan_cache_mode",
        ))
        .await
        .unwrap()
        .unwrap();
    let mode: String = row.try_get_by_index(0).unwrap();
    assert_eq!(mode, "force_generic_plan");
}
