//! The playground is the GraphiQL build embedded in the binary: every file
//! the page needs comes from Folio itself.

use reqwest::{StatusCode, header};

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_playground_and_everything_it_loads_are_served_by_folio() {
    let app = spawn_app().await;
    let page = app.get("/playground").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("<title>Folio playground</title>"), "{html}");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing comes from elsewhere: {html}"
    );
    let assets: Vec<&str> = html
        .split('"')
        .filter(|part| part.starts_with("/playground/assets/"))
        .collect();
    assert!(assets.iter().any(|asset| asset.ends_with(".js")), "{html}");
    assert!(assets.iter().any(|asset| asset.ends_with(".css")), "{html}");
    for asset in assets {
        let response = app.get(asset).await;
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
        let expected = if asset.ends_with(".js") {
            "text/javascript"
        } else {
            "text/css"
        };
        assert!(
            content_type.starts_with(expected),
            "{asset}: {content_type}"
        );
        assert!(
            response.headers()[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
    }
    assert_eq!(
        app.get("/playground/assets/missing.js").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_playground_page_carries_security_headers() {
    let app = spawn_app().await;
    let page = app.get("/playground").await;
    let headers = page.headers();
    let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(policy.contains("default-src 'self'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
}

#[tokio::test]
async fn production_can_turn_off_the_playground_and_introspection() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.playground = Some(false);
        s.introspection = Some(false);
    })
    .await;
    assert_eq!(app.get("/playground").await.status(), StatusCode::NOT_FOUND);
    let introspection = app
        .query("{ __schema { queryType { name } } }", serde_json::json!({}))
        .await;
    // async-graphql answers as if the schema had no introspection fields.
    assert!(
        introspection["data"]["__schema"].is_null(),
        "{introspection}"
    );
    // Ordinary queries still work.
    let ordinary = app
        .query("{ tags { totalCount } }", serde_json::json!({}))
        .await;
    assert_eq!(ordinary["data"]["tags"]["totalCount"], 0);
}
