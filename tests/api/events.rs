//! Writes announce themselves to live-update subscribers once committed.

use std::time::Duration;

use folio::events::Event;
use serde_json::{Value, json};
use tokio::sync::broadcast::Receiver;

use crate::helpers::{code, data, spawn_app, spawn_app_with};

async fn next(events: &mut Receiver<std::sync::Arc<Event>>) -> Event {
    let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("an event within 5 s")
        .expect("no event lost");
    *event
}

fn row_id(id: &Value) -> i64 {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(id.as_str().unwrap()).unwrap()).unwrap();
    text.split_once(':').unwrap().1.parse().unwrap()
}

#[tokio::test]
async fn committed_writes_publish_events_once() {
    let app = spawn_app().await;
    let mut events = app.events.subscribe();
    let author = app.register("announcer").await;
    let reader = app.register("listener").await;

    let draft = app.create_article(&author, "Soon", &[], false).await;
    let publish = "mutation($id: ID!) { publishArticle(id: $id) { id } }";
    data(
        &app.query_as(&author, publish, json!({ "id": draft["id"] }))
            .await,
    );
    // Publishing again changes nothing and announces nothing.
    data(
        &app.query_as(&author, publish, json!({ "id": draft["id"] }))
            .await,
    );
    let article = row_id(&draft["id"]);
    let author_id = row_id(&json!(author.id));
    assert_eq!(
        next(&mut events).await,
        Event::ArticlePublished {
            article_id: article,
            author_id
        }
    );

    let favorite = "mutation($id: ID!) { favoriteArticle(id: $id) { id } }";
    data(
        &app.query_as(&reader, favorite, json!({ "id": draft["id"] }))
            .await,
    );
    data(
        &app.query_as(&reader, favorite, json!({ "id": draft["id"] }))
            .await,
    );
    assert_eq!(
        next(&mut events).await,
        Event::FavoritesChanged {
            article_id: article
        }
    );

    // A refused write announces nothing.
    let comment =
        "mutation($id: ID!, $body: String!) { addComment(articleId: $id, body: $body) { id } }";
    let refused = app
        .query_as(&reader, comment, json!({ "id": draft["id"], "body": " " }))
        .await;
    assert_eq!(code(&refused), "BAD_USER_INPUT");
    let added = app
        .query_as(&reader, comment, json!({ "id": draft["id"], "body": "Hi" }))
        .await;
    let comment_id = row_id(&data(&added)["addComment"]["id"]);
    assert_eq!(
        next(&mut events).await,
        Event::CommentAdded {
            article_id: article,
            comment_id
        }
    );

    let published = app.create_article(&author, "Now", &[], true).await;
    assert_eq!(
        next(&mut events).await,
        Event::ArticlePublished {
            article_id: row_id(&published["id"]),
            author_id
        }
    );
}

#[tokio::test]
async fn events_reach_other_instances_exactly_when_redis_is_configured() {
    let prefix = format!("folio-test:{}:events:", uuid::Uuid::new_v4().simple());
    let configure = |s: &mut folio::config::ServeSettings| s.redis_prefix = prefix.clone();
    let writer = spawn_app_with(configure).await;
    let watcher = spawn_app_with(configure).await;
    let mut elsewhere = watcher.events.subscribe();
    let mut here = writer.events.subscribe();
    // The relay subscribes in the background; give it a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let author = writer.register("writer").await;
    let article = writer.create_article(&author, "Hello", &[], true).await;
    let expected = Event::ArticlePublished {
        article_id: row_id(&article["id"]),
        author_id: row_id(&json!(author.id)),
    };
    assert_eq!(
        next(&mut here).await,
        expected,
        "exactly once on the writer"
    );
    let redis = std::env::var("FOLIO_TEST_REDIS_URL").is_ok_and(|url| !url.is_empty());
    let received = tokio::time::timeout(
        Duration::from_millis(if redis { 5_000 } else { 500 }),
        elsewhere.recv(),
    )
    .await;
    if redis {
        assert_eq!(*received.unwrap().unwrap(), expected);
    } else {
        assert!(
            received.is_err(),
            "without Redis, events stay in their process"
        );
    }
    assert!(here.try_recv().is_err(), "no duplicate on the writer");
}
