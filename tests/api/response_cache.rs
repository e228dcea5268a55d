//! The shared response cache: anonymous public queries are served from it
//! until a committed write changes what they depend on.

use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, data, spawn_app, spawn_app_with};

async fn mutate(app: &TestApp, who: &Session, mutation: &str, variables: Value) -> Value {
    data(&app.query_as(who, mutation, variables).await).clone()
}

#[tokio::test]
async fn a_repeated_anonymous_query_is_served_without_the_database() {
    let app = spawn_app().await;
    let author = app.register("cached").await;
    app.create_article(&author, "Once", &["rust"], true).await;
    let query = "{ articles(first: 5) { nodes { title tags author { username } } } }";
    let (first, cost) = app.read(query).await;
    assert!(cost > 0);
    let (again, cost) = app.read(query).await;
    assert_eq!(cost, 0, "served from the cache");
    assert_eq!(first, again);

    // A comment does not change this response: it stays cached.
    let id = data(
        &app.query("{ articles(first: 1) { nodes { id } } }", json!({}))
            .await,
    )["articles"]["nodes"][0]["id"]
        .clone();
    mutate(
        &app,
        &author,
        "mutation($id: ID!) { addComment(articleId: $id, body: \"hi\") { id } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(app.read(query).await.1, 0, "comments are not part of it");
}

#[tokio::test]
async fn a_comment_invalidates_its_own_article_page_and_no_other() {
    let app = spawn_app().await;
    let author = app.register("pages").await;
    let reader = app.register("talker").await;
    let page = |slug: &str| {
        format!(
            "{{ article(slug: \"{slug}\") {{ title comments(first: 5) {{ totalCount nodes {{ body }} }} }} }}"
        )
    };
    let first = app.create_article(&author, "First", &[], true).await;
    let second = app.create_article(&author, "Second", &[], true).await;
    let (first_page, second_page) = (
        page(first["slug"].as_str().unwrap()),
        page(second["slug"].as_str().unwrap()),
    );
    for query in [&first_page, &second_page] {
        app.read(query).await;
        assert_eq!(app.read(query).await.1, 0, "cached");
    }

    let comment = mutate(
        &app,
        &reader,
        "mutation($id: ID!) { addComment(articleId: $id, body: \"on first\") { id } }",
        json!({ "id": first["id"] }),
    )
    .await;
    let (seen, cost) = app.read(&first_page).await;
    assert!(cost > 0);
    assert_eq!(seen["article"]["comments"]["totalCount"], 1);
    assert_eq!(
        app.read(&second_page).await.1,
        0,
        "a comment on another article leaves this page cached"
    );

    app.read(&first_page).await;
    mutate(
        &app,
        &reader,
        "mutation($id: ID!) { deleteComment(id: $id) }",
        json!({ "id": comment["addComment"]["id"] }),
    )
    .await;
    let (seen, _) = app.read(&first_page).await;
    assert_eq!(seen["article"]["comments"]["totalCount"], 0);
    assert_eq!(app.read(&second_page).await.1, 0);

    // Deleting an article takes its comments with it, and changes articles:
    // every article page is computed again.
    mutate(
        &app,
        &author,
        "mutation($id: ID!) { deleteArticle(id: $id) }",
        json!({ "id": first["id"] }),
    )
    .await;
    assert!(app.read(&first_page).await.0["article"].is_null());
    assert!(app.read(&second_page).await.1 > 0);
}

/// Whether the profile and page read after a write show it.
type Freshness = Box<dyn Fn(&Value, &Value) -> bool>;

#[tokio::test]
async fn every_kind_of_write_invalidates_what_it_changes() {
    let app = spawn_app().await;
    let author = app.register("writer").await;
    let reader = app.register("reader").await;
    let admin = app
        .register_with_role("boss", folio::db::entities::user::Role::Admin)
        .await;
    let article = app
        .create_article(&author, "Subject", &["news"], true)
        .await;
    let (id, slug) = (
        article["id"].clone(),
        article["slug"].as_str().unwrap().to_owned(),
    );
    let profile = "{ user(username: \"writer\") { bio followersCount
        articles(first: 10) { totalCount } favorites(first: 5) { totalCount } } }";
    let page = format!(
        "{{ article(slug: \"{slug}\") {{ title favoritesCount comments(first: 5) {{ totalCount }} }}
           tags(first: 5) {{ nodes {{ name articleCount }} }} }}"
    );
    app.read(profile).await;
    app.read(&page).await;

    let checks: Vec<(&Session, &str, Value, Freshness)> = vec![
        (
            &author,
            "mutation($id: ID!) { updateArticle(id: $id, input: { title: \"Renamed\" }) { id } }",
            json!({ "id": id }),
            Box::new(|_, page| page["article"]["title"] == "Renamed"),
        ),
        (
            &reader,
            "mutation($id: ID!) { addComment(articleId: $id, body: \"First\") { id } }",
            json!({ "id": id }),
            Box::new(|_, page| page["article"]["comments"]["totalCount"] == 1),
        ),
        (
            &reader,
            "mutation($id: ID!) { favoriteArticle(id: $id) { id } }",
            json!({ "id": id }),
            Box::new(|_, page| page["article"]["favoritesCount"] == 1),
        ),
        (
            &reader,
            "mutation { followUser(username: \"writer\") { id } }",
            json!({}),
            Box::new(|profile, _| profile["user"]["followersCount"] == 1),
        ),
        (
            &author,
            "mutation { updateViewer(input: { bio: \"Writes\" }) { id } }",
            json!({}),
            Box::new(|profile, _| profile["user"]["bio"] == "Writes"),
        ),
        (
            &author,
            "mutation { createArticle(input: { title: \"Another\", description: \"d\",
                body: \"b\", tags: [\"news\"], publish: true }) { id } }",
            json!({}),
            Box::new(|profile, page| {
                profile["user"]["articles"]["totalCount"] == 2
                    && page["tags"]["nodes"][0]["articleCount"] == 2
            }),
        ),
        (
            &admin,
            "mutation { setUserRole(username: \"writer\", role: MODERATOR) { id } }",
            json!({}),
            // Roles are private, but the profile is recomputed (below).
            Box::new(|_, _| true),
        ),
        (
            &author,
            "mutation($id: ID!) { deleteArticle(id: $id) }",
            json!({ "id": id }),
            Box::new(|profile, page| {
                page["article"].is_null() && profile["user"]["articles"]["totalCount"] == 1
            }),
        ),
    ];
    for (who, mutation, variables, fresh) in checks {
        mutate(&app, who, mutation, variables).await;
        let (profile_now, profile_cost) = app.read(profile).await;
        let (page_now, page_cost) = app.read(&page).await;
        assert!(
            fresh(&profile_now, &page_now),
            "stale after {mutation}: {profile_now} {page_now}"
        );
        assert!(
            profile_cost + page_cost > 0,
            "{mutation} invalidated nothing"
        );
    }
}

#[tokio::test]
async fn logged_in_and_private_answers_never_share_an_entry() {
    let app = spawn_app().await;
    let author = app.register("shared").await;
    let reader = app.register("viewer").await;
    let article = app.create_article(&author, "Liked", &[], true).await;
    mutate(
        &app,
        &reader,
        "mutation($id: ID!) { favoriteArticle(id: $id) { id } }",
        json!({ "id": article["id"] }),
    )
    .await;
    let public = "{ articles(first: 5) { nodes { title } } }";
    app.read(public).await;
    assert_eq!(app.read(public).await.1, 0, "anonymous: cached");

    // The same text with a token runs for that viewer, every time.
    for _ in 0..2 {
        let before = app.statements.get();
        data(&app.query_as(&reader, public, json!({})).await);
        assert!(
            app.statements.get() > before,
            "a viewer's answer is never the cached one"
        );
    }
    // A private field is never stored, even anonymously.
    let private = "{ articles(first: 5) { nodes { title viewerHasFavorited } } }";
    app.read(private).await;
    assert!(app.read(private).await.1 > 0);
    let mine = app.query_as(&reader, private, json!({})).await;
    assert_eq!(
        data(&mine)["articles"]["nodes"][0]["viewerHasFavorited"],
        true
    );
}

#[tokio::test]
async fn no_instance_serves_a_response_older_than_a_received_write() {
    let prefix = format!("folio-test:{}:", uuid::Uuid::new_v4().simple());
    let configure = |s: &mut folio::config::ServeSettings| s.redis_prefix = prefix.clone();
    let writer = spawn_app_with(configure).await;
    // Without Redis each instance has its own cache, which only one
    // instance may use: then the reader is the writer.
    let redis = std::env::var("FOLIO_TEST_REDIS_URL").is_ok_and(|url| !url.is_empty());
    let other = match redis {
        true => Some(writer.another_instance(configure).await),
        false => None,
    };
    let reader = other.as_ref().unwrap_or(&writer);
    let author = writer.register("busy").await;
    let article = writer.create_article(&author, "Hot", &[], true).await;
    let slug = article["slug"].as_str().unwrap().to_owned();
    let query =
        format!("{{ article(slug: \"{slug}\") {{ comments(first: 1) {{ totalCount }} }} }}");

    // Readers keep the entry warm on the other instance while comments
    // are written; after each write's response, a read must count it.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let warmers: Vec<_> = (0..4)
        .map(|_| {
            let (client, url, query, stop) = (
                reader.client.clone(),
                reader.url("/graphql"),
                query.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = client
                        .post(&url)
                        .json(&json!({ "query": query }))
                        .send()
                        .await;
                }
            })
        })
        .collect();
    for written in 1..=25 {
        mutate(
            &writer,
            &author,
            "mutation($id: ID!) { addComment(articleId: $id, body: \"again\") { id } }",
            json!({ "id": article["id"] }),
        )
        .await;
        let (seen, _) = reader.read(&query).await;
        let count = seen["article"]["comments"]["totalCount"].as_i64().unwrap();
        assert!(
            count >= written,
            "read {count} comments after writing {written}"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for warmer in warmers {
        warmer.await.unwrap();
    }
}

#[tokio::test]
async fn the_cache_can_be_turned_off() {
    let app = spawn_app_with(|s| s.response_cache = false).await;
    let query = "{ articles(first: 5) { nodes { title } } }";
    app.read(query).await;
    assert!(app.read(query).await.1 > 0, "every query runs");
}
