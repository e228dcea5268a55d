//! Who may do what, checked exhaustively: every protected field and mutation
//! against anonymous, another USER, the owner, a MODERATOR and an ADMIN.

use folio::db::entities::user::Role;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, spawn_app};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Actor {
    Anonymous,
    Other,
    Owner,
    Moderator,
    Admin,
}

use Actor::*;

const EVERYONE: [Actor; 5] = [Anonymous, Other, Owner, Moderator, Admin];

struct Cast {
    /// Writes articles that others comment on; not one of the actors.
    host: Session,
    owner: Session,
    other: Session,
    moderator: Session,
    admin: Session,
}

impl Cast {
    async fn new(app: &TestApp) -> Self {
        Self {
            host: app.register("host").await,
            owner: app.register("owner").await,
            other: app.register("other").await,
            moderator: app.register_with_role("moderator", Role::Moderator).await,
            admin: app.register_with_role("admin", Role::Admin).await,
        }
    }

    fn session(&self, actor: Actor) -> Option<&Session> {
        match actor {
            Anonymous => None,
            Other => Some(&self.other),
            Owner => Some(&self.owner),
            Moderator => Some(&self.moderator),
            Admin => Some(&self.admin),
        }
    }
}

async fn run(app: &TestApp, cast: &Cast, actor: Actor, query: &str, variables: Value) -> Value {
    let body = json!({ "query": query, "variables": variables });
    app.post(cast.session(actor).map(|s| s.token.as_str()), body)
        .await
        .1
}

fn first_code(response: &Value) -> Option<&str> {
    response["errors"][0]["extensions"]["code"].as_str()
}

/// Asserts that exactly `allowed` succeed; the others get `denied` (or
/// UNAUTHENTICATED when anonymous and `denied` is about ownership).
fn check(case: &str, actor: Actor, allowed: &[Actor], succeeded: bool, response: &Value) {
    assert_eq!(
        succeeded,
        allowed.contains(&actor),
        "{case} as {actor:?}: {response}"
    );
}

#[tokio::test]
async fn private_user_fields() {
    let app = spawn_app().await;
    let cast = Cast::new(&app).await;
    app.create_article(&cast.owner, "Unfinished", &[], false)
        .await;
    let query = "{ user(username: \"owner\") { username email role drafts { totalCount } } }";
    for actor in EVERYONE {
        let response = run(&app, &cast, actor, query, json!({})).await;
        let user = &response["data"]["user"];
        assert_eq!(user["username"], "owner", "the rest stays intact");
        let sees_email = user["email"] == "owner@example.com";
        let sees_role = user["role"] == "USER";
        check("User.email", actor, &[Owner, Admin], sees_email, &response);
        check("User.role", actor, &[Owner, Admin], sees_role, &response);
        if !sees_email {
            assert_eq!(user.get("email"), Some(&Value::Null));
            assert_eq!(first_code(&response), Some("FORBIDDEN"));
        }
        let sees_drafts = user["drafts"]["totalCount"] == 1;
        check("User.drafts", actor, &[Owner], sees_drafts, &response);
    }
}

#[tokio::test]
async fn drafts_everywhere_they_could_appear() {
    let app = spawn_app().await;
    let cast = Cast::new(&app).await;
    let draft = app
        .create_article(&cast.owner, "Hidden", &["secret"], false)
        .await;
    app.create_article(&cast.owner, "Public", &["open"], true)
        .await;
    // Everyone follows the owner, so the feed would show the draft if leaky.
    for actor in [Other, Moderator, Admin] {
        let follow = "mutation { followUser(username: \"owner\") { username } }";
        assert!(
            run(&app, &cast, actor, follow, json!({}))
                .await
                .get("errors")
                .is_none()
        );
    }
    let by_slug = "query($slug: String!) { article(slug: $slug) { title } }";
    let by_id = "query($id: ID!) { node(id: $id) { id } nodes(ids: [$id]) { id } }";
    let lists = "{ articles { totalCount nodes { title } }
        user(username: \"owner\") { articles { totalCount } }
        tags { nodes { name } } }";
    let feed = "{ feed { totalCount nodes { title } } }";
    for actor in EVERYONE {
        let response = run(
            &app,
            &cast,
            actor,
            by_slug,
            json!({ "slug": draft["slug"] }),
        )
        .await;
        let found = !response["data"]["article"].is_null();
        check(
            "article(slug) of a draft",
            actor,
            &[Owner, Admin],
            found,
            &response,
        );

        let response = run(&app, &cast, actor, by_id, json!({ "id": draft["id"] })).await;
        let found = !response["data"]["node"].is_null();
        check(
            "node(id) of a draft",
            actor,
            &[Owner, Admin],
            found,
            &response,
        );
        assert_eq!(found, !response["data"]["nodes"][0].is_null());

        // Lists hold published articles only, whoever asks.
        let response = run(&app, &cast, actor, lists, json!({})).await;
        assert_eq!(response["data"]["articles"]["totalCount"], 1, "{actor:?}");
        assert_eq!(response["data"]["user"]["articles"]["totalCount"], 1);
        assert_eq!(
            response["data"]["tags"]["nodes"],
            json!([{ "name": "open" }])
        );

        let response = run(&app, &cast, actor, feed, json!({})).await;
        if actor == Anonymous {
            assert_eq!(first_code(&response), Some("UNAUTHENTICATED"));
        } else if actor != Owner {
            assert_eq!(
                response["data"]["feed"]["nodes"],
                json!([{ "title": "Public" }])
            );
        }
    }
}

/// A mutation case: `setup` makes a fresh target owned by the owner and
/// returns the variables; `allowed` may run it; others get `denied`.
struct MutationCase {
    name: &'static str,
    query: &'static str,
    allowed: &'static [Actor],
    denied: &'static str,
}

async fn fresh_target(app: &TestApp, cast: &Cast, name: &str) -> Value {
    match name {
        "publishArticle" => {
            let draft = app.create_article(&cast.owner, "Draft", &[], false).await;
            json!({ "id": draft["id"] })
        }
        "deleteComment" => {
            // The owner comments on an article none of the actors wrote.
            let article = app.create_article(&cast.host, "Host", &[], true).await;
            let response = app
                .query_as(
                    &cast.owner,
                    "mutation($id: ID!) { addComment(articleId: $id, body: \"mine\") { id } }",
                    json!({ "id": article["id"] }),
                )
                .await;
            json!({ "id": response["data"]["addComment"]["id"] })
        }
        "setUserRole" => json!({ "username": "owner", "role": "USER" }),
        _ => {
            let article = app.create_article(&cast.owner, "Target", &[], true).await;
            json!({ "id": article["id"] })
        }
    }
}

#[tokio::test]
async fn protected_mutations() {
    let app = spawn_app().await;
    let cast = Cast::new(&app).await;
    let cases = [
        MutationCase {
            name: "updateArticle",
            query: "mutation($id: ID!) { updateArticle(id: $id, input: { body: \"edited\" }) { body } }",
            allowed: &[Owner, Admin],
            denied: "FORBIDDEN",
        },
        MutationCase {
            name: "deleteArticle",
            query: "mutation($id: ID!) { deleteArticle(id: $id) }",
            allowed: &[Owner, Admin],
            denied: "FORBIDDEN",
        },
        MutationCase {
            name: "publishArticle",
            query: "mutation($id: ID!) { publishArticle(id: $id) { status } }",
            allowed: &[Owner],
            // Someone else's draft does not exist for them; ADMIN sees it but
            // publishing is the author's call.
            denied: "NOT_FOUND|FORBIDDEN",
        },
        MutationCase {
            name: "deleteComment",
            query: "mutation($id: ID!) { deleteComment(id: $id) }",
            allowed: &[Owner, Moderator, Admin],
            denied: "FORBIDDEN",
        },
        MutationCase {
            name: "setUserRole",
            query: "mutation($username: String!, $role: Role!) {
                setUserRole(username: $username, role: $role) { role } }",
            allowed: &[Admin],
            denied: "FORBIDDEN",
        },
        MutationCase {
            name: "favoriteArticle",
            query: "mutation($id: ID!) { favoriteArticle(id: $id) { favoritesCount } }",
            allowed: &[Other, Owner, Moderator, Admin],
            denied: "UNAUTHENTICATED",
        },
        MutationCase {
            name: "addComment",
            query: "mutation($id: ID!) { addComment(articleId: $id, body: \"hi\") { id } }",
            allowed: &[Other, Owner, Moderator, Admin],
            denied: "UNAUTHENTICATED",
        },
    ];
    for case in cases {
        for actor in EVERYONE {
            let variables = fresh_target(&app, &cast, case.name).await;
            let response = run(&app, &cast, actor, case.query, variables).await;
            let succeeded = response.get("errors").is_none();
            check(case.name, actor, case.allowed, succeeded, &response);
            if !succeeded {
                let code = first_code(&response).unwrap_or_default();
                let expected = if actor == Anonymous {
                    "UNAUTHENTICATED"
                } else {
                    case.denied
                };
                assert!(
                    expected.split('|').any(|allowed| allowed == code),
                    "{} as {actor:?}: {code}",
                    case.name
                );
            }
        }
    }
    // Writes anyone logged in may do on their own behalf.
    for mutation in [
        "mutation { updateViewer(input: { bio: \"hello\" }) { bio } }",
        "mutation { createArticle(input: { title: \"Mine\", body: \"b\" }) { id } }",
        "mutation { followUser(username: \"admin\") { username } }",
    ] {
        for actor in EVERYONE {
            let response = run(&app, &cast, actor, mutation, json!({})).await;
            let succeeded = response.get("errors").is_none();
            let allowed: &[Actor] = if mutation.contains("admin") {
                &[Other, Owner, Moderator]
            } else {
                &[Other, Owner, Moderator, Admin]
            };
            check(mutation, actor, allowed, succeeded, &response);
        }
    }
}
