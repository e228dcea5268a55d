use folio::db::entities::user::Role;
use serde_json::{Value, json};

use crate::helpers::{code, data, error, node_values, spawn_app, spawn_app_with};

const BY_SLUG: &str = "query($slug: String!) { article(slug: $slug) {
    id title status tags publishedAt author { username } } }";

#[tokio::test]
async fn articles_get_unique_slugs_from_their_titles() {
    let app = spawn_app().await;
    let author = app.register("writer").await;
    let first = app
        .create_article(&author, "Hello, World!", &["Rust", "web"], true)
        .await;
    let second = app.create_article(&author, "Hello World", &[], true).await;
    assert_eq!(first["tags"], json!(["rust", "web"]));
    // Every slug has the same shape, taken title or not, so none reveals
    // an article (a draft) that came before it.
    for slug in [&first["slug"], &second["slug"]] {
        let slug = slug.as_str().unwrap();
        assert!(
            slug.starts_with("hello-world-") && slug.len() == "hello-world-".len() + 6,
            "{slug}"
        );
    }
    assert_ne!(first["slug"], second["slug"]);

    let fetched = app.query(BY_SLUG, json!({ "slug": first["slug"] })).await;
    let article = &data(&fetched)["article"];
    assert_eq!(article["title"], "Hello, World!");
    assert_eq!(article["author"]["username"], "writer");
    assert_eq!(article["status"], "PUBLISHED");
    assert!(article["publishedAt"].is_string());
}

#[tokio::test]
async fn drafts_exist_only_for_their_author_and_admins() {
    let app = spawn_app().await;
    let author = app.register("author").await;
    let reader = app.register("reader").await;
    let admin = app.register_with_role("admin", Role::Admin).await;
    let draft = app
        .create_article(&author, "Secret plans", &["plans"], false)
        .await;
    assert_eq!(draft["status"], "DRAFT");
    let vars = json!({ "slug": draft["slug"] });

    assert!(data(&app.query(BY_SLUG, vars.clone()).await)["article"].is_null());
    assert!(data(&app.query_as(&reader, BY_SLUG, vars.clone()).await)["article"].is_null());
    assert_eq!(
        data(&app.query_as(&author, BY_SLUG, vars.clone()).await)["article"]["status"],
        "DRAFT"
    );
    assert_eq!(
        data(&app.query_as(&admin, BY_SLUG, vars.clone()).await)["article"]["status"],
        "DRAFT"
    );

    let node = "query($id: ID!) { node(id: $id) { id ... on Article { title } } }";
    let id = json!({ "id": draft["id"] });
    assert!(data(&app.query_as(&reader, node, id.clone()).await)["node"].is_null());
    assert_eq!(
        data(&app.query_as(&author, node, id.clone()).await)["node"]["title"],
        "Secret plans"
    );

    // Drafts are not listed, and their tags are not counted.
    let lists = app
        .query("{ articles { totalCount } tags { totalCount } }", json!({}))
        .await;
    assert_eq!(data(&lists)["articles"]["totalCount"], 0);
    assert_eq!(data(&lists)["tags"]["totalCount"], 0);

    let drafts = "{ viewer { drafts { totalCount nodes { slug } } } }";
    let own = app.query_as(&author, drafts, json!({})).await;
    assert_eq!(data(&own)["viewer"]["drafts"]["totalCount"], 1);
    let others = app
        .query_as(
            &reader,
            "{ user(username: \"author\") { drafts { totalCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&others)["user"]["drafts"]["totalCount"], 0);
}

#[tokio::test]
async fn publishing_makes_a_draft_public_and_counts_its_tags() {
    let app = spawn_app().await;
    let author = app.register("pub").await;
    let other = app.register("other").await;
    let draft = app.create_article(&author, "Soon", &["news"], false).await;
    let publish = "mutation($id: ID!) { publishArticle(id: $id) { status publishedAt } }";
    let vars = json!({ "id": draft["id"] });
    assert_eq!(
        code(&app.query_as(&other, publish, vars.clone()).await),
        "NOT_FOUND"
    );
    assert_eq!(
        code(&app.query(publish, vars.clone()).await),
        "UNAUTHENTICATED"
    );

    let published = app.query_as(&author, publish, vars.clone()).await;
    assert_eq!(data(&published)["publishArticle"]["status"], "PUBLISHED");
    // Publishing again is harmless and does not count the tags twice.
    data(&app.query_as(&author, publish, vars).await);
    let tags = app
        .query("{ tags { nodes { name articleCount } } }", json!({}))
        .await;
    assert_eq!(
        data(&tags)["tags"]["nodes"],
        json!([{ "name": "news", "articleCount": 1 }])
    );
}

#[tokio::test]
async fn only_the_author_or_an_admin_updates_and_deletes() {
    let app = spawn_app().await;
    let author = app.register("owner").await;
    let stranger = app.register("stranger").await;
    let admin = app.register_with_role("chief", Role::Admin).await;
    let article = app
        .create_article(&author, "Original", &["a", "b"], true)
        .await;
    let update = "mutation($id: ID!, $input: UpdateArticleInput!) {
        updateArticle(id: $id, input: $input) { title slug body tags } }";

    let refused = app
        .query_as(
            &stranger,
            update,
            json!({ "id": article["id"], "input": { "title": "Mine" } }),
        )
        .await;
    assert_eq!(code(&refused), "FORBIDDEN");

    let updated = app
        .query_as(
            &author,
            update,
            json!({ "id": article["id"], "input": { "title": "Renamed", "tags": ["b", "c"] } }),
        )
        .await;
    let updated = &data(&updated)["updateArticle"];
    assert_eq!(updated["title"], "Renamed");
    assert_eq!(updated["slug"], article["slug"], "slugs stay stable");
    assert_eq!(updated["body"], "The body of Original.");
    assert_eq!(updated["tags"], json!(["b", "c"]));
    let tags = app
        .query("{ tags { nodes { name articleCount } } }", json!({}))
        .await;
    let mut counts: Vec<(String, i64)> = data(&tags)["tags"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["articleCount"].as_i64().unwrap(),
            )
        })
        .collect();
    counts.sort();
    assert_eq!(counts, [("b".to_owned(), 1), ("c".to_owned(), 1)]);

    let by_admin = app
        .query_as(
            &admin,
            update,
            json!({ "id": article["id"], "input": { "body": "Moderated." } }),
        )
        .await;
    assert_eq!(data(&by_admin)["updateArticle"]["body"], "Moderated.");

    let delete = "mutation($id: ID!) { deleteArticle(id: $id) }";
    let vars = json!({ "id": article["id"] });
    assert_eq!(
        code(&app.query_as(&stranger, delete, vars.clone()).await),
        "FORBIDDEN"
    );
    let deleted = app.query_as(&author, delete, vars.clone()).await;
    assert_eq!(data(&deleted)["deleteArticle"], article["id"]);
    assert_eq!(
        code(&app.query_as(&author, delete, vars).await),
        "NOT_FOUND"
    );
    let after = app
        .query("{ articles { totalCount } tags { totalCount } }", json!({}))
        .await;
    assert_eq!(data(&after)["articles"]["totalCount"], 0);
    assert_eq!(data(&after)["tags"]["totalCount"], 0);
}

#[tokio::test]
async fn article_input_is_validated() {
    let app = spawn_app().await;
    let author = app.register("validator").await;
    let create = "mutation($input: CreateArticleInput!) { createArticle(input: $input) { id } }";
    let too_many_tags: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
    let cases = [
        (json!({ "title": "  ", "body": "b" }), "title"),
        (json!({ "title": "x".repeat(201), "body": "b" }), "title"),
        (json!({ "title": "t", "body": "" }), "body"),
        (
            json!({ "title": "t", "body": "b", "description": "d".repeat(501) }),
            "description",
        ),
        (
            json!({ "title": "t", "body": "b", "tags": too_many_tags }),
            "tags",
        ),
        (
            json!({ "title": "t", "body": "b", "tags": ["no spaces"] }),
            "tags",
        ),
    ];
    for (input, field) in cases {
        let response = app
            .query_as(&author, create, json!({ "input": input }))
            .await;
        let (code, error_field, _) = error(&response);
        assert_eq!(code, "BAD_USER_INPUT", "{input}");
        assert_eq!(error_field.as_deref(), Some(field), "{input}");
    }
    let anonymous = app
        .query(create, json!({ "input": { "title": "t", "body": "b" } }))
        .await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");
    let nothing_written = app
        .query_as(&author, "{ viewer { drafts { totalCount } } }", json!({}))
        .await;
    assert_eq!(data(&nothing_written)["viewer"]["drafts"]["totalCount"], 0);

    let bad_id = app
        .query_as(
            &author,
            "mutation { deleteArticle(id: \"nope\") }",
            json!({}),
        )
        .await;
    assert_eq!(error(&bad_id).0, "BAD_USER_INPUT");
    assert_eq!(error(&bad_id).1.as_deref(), Some("id"));
}

fn slugs(response: &Value, field: &str) -> Vec<String> {
    node_values(&data(response)[field], "slug")
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn filters_and_orderings_combine() {
    let app = spawn_app().await;
    let ann = app.register("ann").await;
    let ben = app.register("ben").await;
    let a1 = app
        .create_article(&ann, "Rust ownership", &["rust"], true)
        .await;
    let a2 = app
        .create_article(&ann, "Cooking pasta", &["food"], true)
        .await;
    let b1 = app
        .create_article(&ben, "Rust async", &["rust", "async"], true)
        .await;
    app.create_article(&ben, "Rust draft", &["rust"], false)
        .await;
    let favorite = "mutation($id: ID!) { favoriteArticle(id: $id) { favoritesCount } }";
    data(
        &app.query_as(&ben, favorite, json!({ "id": a1["id"] }))
            .await,
    );
    data(
        &app.query_as(&ann, favorite, json!({ "id": a1["id"] }))
            .await,
    );
    data(
        &app.query_as(&ann, favorite, json!({ "id": b1["id"] }))
            .await,
    );

    let list = "query($filter: ArticleFilter, $orderBy: ArticleOrder) {
        articles(filter: $filter, orderBy: $orderBy) { totalCount nodes { slug } } }";
    let run = |filter: Value, order: Value| {
        app.query(list, json!({ "filter": filter, "orderBy": order }))
    };
    let slug = |v: &Value| v["slug"].as_str().unwrap().to_owned();

    assert_eq!(
        slugs(
            &run(json!({ "tag": "rust" }), Value::Null).await,
            "articles"
        ),
        [slug(&b1), slug(&a1)]
    );
    assert_eq!(
        slugs(
            &run(json!({ "author": "ann" }), Value::Null).await,
            "articles"
        ),
        [slug(&a2), slug(&a1)]
    );
    assert_eq!(
        slugs(
            &run(json!({ "favoritedBy": "ann" }), Value::Null).await,
            "articles"
        ),
        [slug(&b1), slug(&a1)]
    );
    assert_eq!(
        slugs(
            &run(json!({ "search": "PASTA" }), Value::Null).await,
            "articles"
        ),
        [slug(&a2)]
    );
    assert_eq!(
        slugs(
            &run(json!({ "tag": "rust", "author": "ann" }), Value::Null).await,
            "articles"
        ),
        [slug(&a1)]
    );
    assert_eq!(
        slugs(
            &run(json!({ "search": "100%" }), Value::Null).await,
            "articles"
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        slugs(
            &run(Value::Null, json!({ "field": "FAVORITES_COUNT" })).await,
            "articles"
        ),
        [slug(&a1), slug(&b1), slug(&a2)]
    );
    assert_eq!(
        slugs(
            &run(
                Value::Null,
                json!({ "field": "CREATED_AT", "direction": "ASC" })
            )
            .await,
            "articles"
        ),
        [slug(&a1), slug(&a2), slug(&b1)]
    );
    let by_user = app
        .query(
            "{ user(username: \"ann\") { articles(orderBy: { direction: ASC }) { totalCount nodes { slug } } } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&by_user)["user"]["articles"]["totalCount"], 2);
    assert_eq!(
        data(&by_user)["user"]["articles"]["nodes"][0]["slug"],
        slug(&a1)
    );

    let tags = app
        .query("{ tags { nodes { name articleCount } } }", json!({}))
        .await;
    assert_eq!(
        data(&tags)["tags"]["nodes"][0],
        json!({ "name": "rust", "articleCount": 2 })
    );
}

#[tokio::test]
async fn node_and_nodes_refetch_any_object() {
    let app = spawn_app().await;
    let lee = app.register("lee").await;
    let article = app.create_article(&lee, "Refetch me", &[], true).await;
    let comment = app
        .query_as(
            &lee,
            "mutation($id: ID!) { addComment(articleId: $id, body: \"First!\") { id } }",
            json!({ "id": article["id"] }),
        )
        .await;
    let comment_id = data(&comment)["addComment"]["id"].clone();
    let nodes = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id
        ... on User { username } ... on Article { title } ... on Comment { body } } }";
    let response = app
        .query(
            nodes,
            json!({ "ids": [lee.id, article["id"], comment_id, "VXNlcjo5OTk5"] }),
        )
        .await;
    let found = &data(&response)["nodes"];
    assert_eq!(found[0]["username"], "lee");
    assert_eq!(found[1]["title"], "Refetch me");
    assert_eq!(found[2]["body"], "First!");
    assert!(found[3].is_null());
    assert_eq!(found[0]["id"], json!(lee.id));

    let malformed = app
        .query("{ node(id: \"not-an-id\") { id } }", json!({}))
        .await;
    assert_eq!(code(&malformed), "BAD_USER_INPUT");
}

#[tokio::test]
async fn lists_read_tags_in_the_authors_order_with_the_page() {
    let app = spawn_app_with(|settings| settings.response_cache = false).await;
    let author = app.register("tagger").await;
    let reader = app.register("follower").await;
    app.create_article(&author, "Tagged", &["zeta", "alpha", "mid-way"], true)
        .await;
    app.create_article(&author, "Untagged", &[], true).await;
    app.query_as(
        &reader,
        "mutation { followUser(username: \"tagger\") { id } }",
        json!({}),
    )
    .await;
    let expected = json!([
        { "title": "Untagged", "tags": [] },
        { "title": "Tagged", "tags": ["zeta", "alpha", "mid-way"] },
    ]);

    // The page, its authors and its tags: one statement.
    let (listed, statements) = app
        .read("{ articles { nodes { title tags author { username } } } }")
        .await;
    assert_eq!(
        listed["articles"]["nodes"],
        json!([
            { "title": "Untagged", "tags": [], "author": { "username": "tagger" } },
            { "title": "Tagged", "tags": ["zeta", "alpha", "mid-way"], "author": { "username": "tagger" } },
        ])
    );
    assert_eq!(statements, 1);

    let feed = app
        .query_as(&reader, "{ feed { nodes { title tags } } }", json!({}))
        .await;
    assert_eq!(data(&feed)["feed"]["nodes"], expected);
    // Lists that load tags per page agree.
    let (profile, _) = app
        .read("{ user(username: \"tagger\") { articles { nodes { title tags } } } }")
        .await;
    assert_eq!(profile["user"]["articles"]["nodes"], expected);
}
