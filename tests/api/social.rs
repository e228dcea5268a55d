use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, code, data, error, node_values, spawn_app};

const FOLLOW: &str = "mutation($username: String!) { followUser(username: $username) {
    username followersCount viewerIsFollowing } }";
const UNFOLLOW: &str = "mutation($username: String!) { unfollowUser(username: $username) {
    username followersCount viewerIsFollowing } }";
const FAVORITE: &str = "mutation($id: ID!) { favoriteArticle(id: $id) {
    slug favoritesCount viewerHasFavorited } }";
const UNFAVORITE: &str = "mutation($id: ID!) { unfavoriteArticle(id: $id) {
    slug favoritesCount viewerHasFavorited } }";

async fn follow(app: &TestApp, who: &Session, username: &str) -> Value {
    let response = app
        .query_as(who, FOLLOW, json!({ "username": username }))
        .await;
    data(&response)["followUser"].clone()
}

async fn favorite(app: &TestApp, who: &Session, id: &Value) -> Value {
    let response = app.query_as(who, FAVORITE, json!({ "id": id })).await;
    data(&response)["favoriteArticle"].clone()
}

#[tokio::test]
async fn following_is_idempotent_and_unfollowing_undoes_it() {
    let app = spawn_app().await;
    // Counts and viewerIsFollowing move with follow/unfollow, on both sides;
    // a second follow changes nothing.
    let alice = app.register("alice").await;
    app.register("bob").await;
    let counts = "{ user(username: \"bob\") { followersCount viewerIsFollowing }
        viewer { followingCount } }";

    let followed = follow(&app, &alice, "bob").await;
    assert_eq!(followed["username"], "bob");
    assert_eq!(followed["followersCount"], 1);
    assert_eq!(followed["viewerIsFollowing"], true);
    assert_eq!(follow(&app, &alice, "bob").await["followersCount"], 1);

    let seen = app.query_as(&alice, counts, json!({})).await;
    assert_eq!(data(&seen)["user"]["followersCount"], 1);
    assert_eq!(data(&seen)["user"]["viewerIsFollowing"], true);
    assert_eq!(data(&seen)["viewer"]["followingCount"], 1);
    let anonymous = app.query(counts, json!({})).await;
    assert_eq!(data(&anonymous)["user"]["viewerIsFollowing"], false);

    let unfollowed = app
        .query_as(&alice, UNFOLLOW, json!({ "username": "bob" }))
        .await;
    assert_eq!(data(&unfollowed)["unfollowUser"]["followersCount"], 0);
    assert_eq!(
        data(&unfollowed)["unfollowUser"]["viewerIsFollowing"],
        false
    );
    let seen = app.query_as(&alice, counts, json!({})).await;
    assert_eq!(data(&seen)["user"]["followersCount"], 0);
    assert_eq!(data(&seen)["user"]["viewerIsFollowing"], false);
    assert_eq!(data(&seen)["viewer"]["followingCount"], 0);
}

#[tokio::test]
async fn follower_and_following_lists_are_most_recent_first() {
    let app = spawn_app().await;
    // Three people follow "star" in turn; "fan" follows three people in turn.
    let fan = app.register("fan").await;
    let early = app.register("early").await;
    let late = app.register("late").await;
    app.register("star").await;
    app.register("other").await;
    follow(&app, &early, "star").await;
    follow(&app, &fan, "star").await;
    follow(&app, &late, "star").await;
    follow(&app, &fan, "other").await;
    follow(&app, &fan, "early").await;

    let lists = "{ star: user(username: \"star\") { followers { totalCount nodes { username } } }
        fan: user(username: \"fan\") { following { totalCount nodes { username } } } }";
    let response = app.query(lists, json!({})).await;
    let followers = &data(&response)["star"]["followers"];
    assert_eq!(followers["totalCount"], 3);
    assert_eq!(node_values(followers, "username"), ["late", "fan", "early"]);
    let following = &data(&response)["fan"]["following"];
    assert_eq!(following["totalCount"], 3);
    assert_eq!(
        node_values(following, "username"),
        ["early", "other", "star"]
    );
}

#[tokio::test]
async fn following_needs_a_login_and_someone_else_who_exists() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    app.register("bob").await;

    let own = app
        .query_as(&alice, FOLLOW, json!({ "username": "alice" }))
        .await;
    let (code_of_own, field, _) = error(&own);
    assert_eq!(code_of_own, "BAD_USER_INPUT");
    assert_eq!(field.as_deref(), Some("username"));

    let unknown = app
        .query_as(&alice, FOLLOW, json!({ "username": "nobody" }))
        .await;
    assert_eq!(code(&unknown), "NOT_FOUND");

    let anonymous = app.query(FOLLOW, json!({ "username": "bob" })).await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");
    let bob = app
        .query("{ user(username: \"bob\") { followersCount } }", json!({}))
        .await;
    assert_eq!(data(&bob)["user"]["followersCount"], 0);
}

#[tokio::test]
async fn favoriting_is_idempotent_and_unfavoriting_undoes_it() {
    let app = spawn_app().await;
    let author = app.register("author").await;
    let reader = app.register("reader").await;
    let article = app.create_article(&author, "Worth a star", &[], true).await;
    let id = json!({ "id": article["id"] });

    let never = app.query_as(&reader, UNFAVORITE, id.clone()).await;
    assert_eq!(data(&never)["unfavoriteArticle"]["favoritesCount"], 0);

    let liked = favorite(&app, &reader, &article["id"]).await;
    assert_eq!(liked["favoritesCount"], 1);
    assert_eq!(liked["viewerHasFavorited"], true);
    assert_eq!(
        favorite(&app, &reader, &article["id"]).await["favoritesCount"],
        1
    );

    let by_slug = "query($slug: String!) { article(slug: $slug) {
        favoritesCount viewerHasFavorited } }";
    let slug = json!({ "slug": article["slug"] });
    let seen = app.query(by_slug, slug.clone()).await;
    assert_eq!(data(&seen)["article"]["favoritesCount"], 1);
    assert_eq!(data(&seen)["article"]["viewerHasFavorited"], false);
    let seen = app.query_as(&author, by_slug, slug.clone()).await;
    assert_eq!(data(&seen)["article"]["viewerHasFavorited"], false);

    let unliked = app.query_as(&reader, UNFAVORITE, id.clone()).await;
    assert_eq!(data(&unliked)["unfavoriteArticle"]["favoritesCount"], 0);
    assert_eq!(
        data(&unliked)["unfavoriteArticle"]["viewerHasFavorited"],
        false
    );
    let seen = app.query_as(&reader, by_slug, slug).await;
    assert_eq!(data(&seen)["article"]["favoritesCount"], 0);
    assert_eq!(data(&seen)["article"]["viewerHasFavorited"], false);
}

#[tokio::test]
async fn favorites_are_listed_most_recently_favorited_first() {
    let app = spawn_app().await;
    // Favorited in the order second, third, first: listed first, third, second.
    let author = app.register("author").await;
    let reader = app.register("reader").await;
    let first = app.create_article(&author, "First", &[], true).await;
    let second = app.create_article(&author, "Second", &[], true).await;
    let third = app.create_article(&author, "Third", &[], true).await;
    app.create_article(&author, "Unloved", &[], true).await;
    for article in [&second, &third, &first] {
        favorite(&app, &reader, &article["id"]).await;
    }

    let response = app
        .query(
            "{ user(username: \"reader\") { favorites { totalCount nodes { title } } }
               articles(filter: { favoritedBy: \"reader\" }) { totalCount nodes { title } } }",
            json!({}),
        )
        .await;
    let favorites = &data(&response)["user"]["favorites"];
    assert_eq!(favorites["totalCount"], 3);
    assert_eq!(
        node_values(favorites, "title"),
        ["First", "Third", "Second"]
    );
    let filtered = &data(&response)["articles"];
    assert_eq!(filtered["totalCount"], 3);
    let mut filtered = node_values(filtered, "title");
    filtered.sort_unstable();
    assert_eq!(filtered, ["First", "Second", "Third"]);
}

#[tokio::test]
async fn only_visible_published_articles_can_be_favorited() {
    let app = spawn_app().await;
    // A draft is invisible to others (NOT_FOUND) and not favoritable by its
    // author (BAD_USER_INPUT); ids must be well-formed Article ids.
    let author = app.register("author").await;
    let reader = app.register("reader").await;
    let draft = app.create_article(&author, "Not yet", &[], false).await;
    let published = app.create_article(&author, "Out now", &[], true).await;

    let response = app
        .query_as(&reader, FAVORITE, json!({ "id": draft["id"] }))
        .await;
    assert_eq!(code(&response), "NOT_FOUND");
    let response = app
        .query_as(&author, FAVORITE, json!({ "id": draft["id"] }))
        .await;
    let (code_of_own, field, _) = error(&response);
    assert_eq!(code_of_own, "BAD_USER_INPUT");
    assert_eq!(field.as_deref(), Some("id"));

    for bad in [json!("nope"), json!(reader.id)] {
        let response = app.query_as(&reader, FAVORITE, json!({ "id": bad })).await;
        let (code_of_bad, field, _) = error(&response);
        assert_eq!(code_of_bad, "BAD_USER_INPUT", "{bad}");
        assert_eq!(field.as_deref(), Some("id"), "{bad}");
    }

    let anonymous = app.query(FAVORITE, json!({ "id": published["id"] })).await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");
    let count = "query($slug: String!) { article(slug: $slug) { favoritesCount } }";
    let seen = app.query(count, json!({ "slug": published["slug"] })).await;
    assert_eq!(data(&seen)["article"]["favoritesCount"], 0);
}

#[tokio::test]
async fn feed_holds_published_articles_of_followed_authors() {
    let app = spawn_app().await;
    let reader = app.register("reader").await;
    let followed = app.register("followed").await;
    let stranger = app.register("stranger").await;
    let feed = "{ feed { totalCount nodes { title author { username } } } }";

    assert_eq!(code(&app.query(feed, json!({})).await), "UNAUTHENTICATED");

    app.create_article(&followed, "Older post", &[], true).await;
    app.create_article(&followed, "Newer post", &[], true).await;
    app.create_article(&followed, "Draft post", &[], false)
        .await;
    app.create_article(&stranger, "Stranger post", &[], true)
        .await;
    let empty = app.query_as(&reader, feed, json!({})).await;
    assert_eq!(data(&empty)["feed"]["totalCount"], 0);

    follow(&app, &reader, "followed").await;
    let response = app.query_as(&reader, feed, json!({})).await;
    let feed_page = &data(&response)["feed"];
    assert_eq!(feed_page["totalCount"], 2);
    assert_eq!(
        node_values(feed_page, "title"),
        ["Newer post", "Older post"]
    );
    assert!(
        feed_page["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|node| node["author"]["username"] == "followed")
    );

    app.query_as(&reader, UNFOLLOW, json!({ "username": "followed" }))
        .await;
    let after = app.query_as(&reader, feed, json!({})).await;
    assert_eq!(data(&after)["feed"]["totalCount"], 0);
}
