//! A Redis of the test's own, stopped and restarted while Folio serves:
//! requests keep succeeding from the database, and Folio uses Redis again
//! once it is back.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    helpers::{Session, TestApp, code, data, spawn_app_with},
    subscriptions,
};

struct OwnRedis {
    port: u16,
    process: Option<Child>,
}

impl OwnRedis {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Self {
            port,
            process: None,
        };
        redis.restart();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        let process = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.process = Some(process);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start");
    }

    /// Runs a command on this Redis.
    async fn command(&self, args: &[&str]) {
        let client = redis::Client::open(self.url()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd(args[0])
            .arg(&args[1..])
            .query_async::<()>(&mut connection)
            .await
            .unwrap();
    }

    fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A new article by `author`, and the anonymous query of its comment count,
/// already cached in Redis.
async fn cached_comment_count(app: &TestApp, author: &Session, title: &str) -> (Value, String) {
    let article = app.create_article(author, title, &[], true).await;
    let slug = article["slug"].as_str().unwrap();
    let query =
        format!("{{ article(slug: \"{slug}\") {{ comments(first: 1) {{ totalCount }} }} }}");
    app.read(&query).await;
    assert_eq!(app.read(&query).await.1, 0, "cached in Redis");
    (article, query)
}

#[tokio::test]
async fn folio_serves_through_a_redis_outage_and_uses_redis_again_after() {
    let mut redis = OwnRedis::start();
    let url = redis.url();
    let app = spawn_app_with(|s| {
        s.redis_url = Some(url);
        s.max_complexity = 100;
        s.cost_per_address = Some(100);
    })
    .await;
    let author = app.register("steady").await;
    let (article, query) = cached_comment_count(&app, &author, "Weather").await;

    redis.stop();
    // Readiness names what is missing, so a load balancer log says why.
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let checks: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(checks["checks"]["redis"], "unavailable");
    assert_eq!(checks["checks"]["database"], "ok");
    let (seen, cost) = app.read(&query).await;
    assert!(cost > 0, "the cache is bypassed while Redis is away");
    assert_eq!(seen["article"]["comments"]["totalCount"], 0);
    let commented = app
        .query_as(
            &author,
            "mutation($id: ID!) { addComment(articleId: $id, body: \"still here\") { id } }",
            json!({ "id": article["id"] }),
        )
        .await;
    data(&commented);
    let (seen, _) = app.read(&query).await;
    assert_eq!(seen["article"]["comments"]["totalCount"], 1);
    // Logins are throttled through Redis; without it they are not refused.
    let login = app
        .query(
            "mutation { login(input: { email: \"steady@example.com\",
                password: \"correct horse battery staple\" }) { accessToken } }",
            json!({}),
        )
        .await;
    data(&login);
    // Cost budgets fail open: this is twice the budget.
    for _ in 0..200 {
        data(&app.query("{ __typename }", json!({})).await);
    }
    // Persisted queries fall back to the client sending the text.
    let hash = format!("{:x}", Sha256::digest(query.as_bytes()));
    let persisted = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let (_, miss) = app.post(None, json!({ "extensions": persisted })).await;
    assert_eq!(code(&miss), "PERSISTED_QUERY_NOT_FOUND");
    let (_, sent) = app
        .post(None, json!({ "query": query, "extensions": persisted }))
        .await;
    assert_eq!(data(&sent)["article"]["comments"]["totalCount"], 1);

    redis.restart();
    let mut cached_again = false;
    for _ in 0..50 {
        app.read(&query).await;
        if app.read(&query).await.1 == 0 {
            cached_again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(cached_again, "Folio caches in Redis again once it is back");
    assert_eq!(
        app.get("/health/ready").await.status(),
        reqwest::StatusCode::OK
    );
    let (seen, _) = app.read(&query).await;
    assert_eq!(seen["article"]["comments"]["totalCount"], 1);
    // And budgets are enforced again.
    let mut limited = false;
    for _ in 0..200 {
        if code_or_none(&app.query("{ __typename }", json!({})).await)
            == Some("RATE_LIMITED".into())
        {
            limited = true;
            break;
        }
    }
    assert!(limited, "the budget applies once Redis is back");
}

fn code_or_none(response: &serde_json::Value) -> Option<String> {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test]
async fn a_write_whose_invalidation_fails_is_never_read_around() {
    let redis = OwnRedis::start();
    let url = redis.url();
    let app = spawn_app_with(|s| {
        s.redis_url = Some(url);
        s.cost_per_address = Some(0);
        s.cost_per_user = Some(0);
    })
    .await;
    let author = app.register("patient").await;
    let (article, query) = cached_comment_count(&app, &author, "Paused").await;

    // Redis keeps serving the stale entry but refuses the increments that
    // would invalidate it (as a write that times out would leave things).
    redis.command(&["ACL", "SETUSER", "default", "-incr"]).await;
    let commented = app
        .query_as(
            &author,
            "mutation($id: ID!) { addComment(articleId: $id, body: \"held up\") { id } }",
            json!({ "id": article["id"] }),
        )
        .await;
    data(&commented);
    // Past the moment Folio leaves a failing Redis alone: the read goes to
    // Redis again, where the stale entry still is.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (seen, _) = app.read(&query).await;
    assert_eq!(
        seen["article"]["comments"]["totalCount"], 1,
        "the writer's next read is not served from before its write"
    );

    // Once the increment gets through, the cache is used again.
    redis.command(&["ACL", "SETUSER", "default", "+incr"]).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    app.read(&query).await;
    let (seen, cost) = app.read(&query).await;
    assert_eq!(cost, 0);
    assert_eq!(seen["article"]["comments"]["totalCount"], 1);
}

#[tokio::test]
async fn subscriptions_stay_open_through_a_redis_outage() {
    let mut redis = OwnRedis::start();
    let url = redis.url();
    // One deployment: the same Redis and the same key prefix.
    let prefix = format!("folio-test:{}:", uuid::Uuid::new_v4().simple());
    let configure = |s: &mut folio::config::ServeSettings| {
        s.redis_url = Some(url.clone());
        s.redis_prefix = prefix.clone();
    };
    let app = spawn_app_with(configure).await;
    let other = app.another_instance(configure).await;
    let author = app.register("broadcaster").await;
    let article = app.create_article(&author, "On air", &[], true).await;
    let mut socket =
        subscriptions::watch_comments(&app, "graphql-transport-ws", None, &article).await;
    let heard = |message: Value| message["payload"]["data"]["commentAdded"]["body"].clone();

    redis.stop();
    // This instance's own writes still reach its subscribers.
    subscriptions::comment(&app, &author, &article, "during").await;
    let during = tokio::time::timeout(Duration::from_secs(5), subscriptions::receive(&mut socket))
        .await
        .expect("heard during the outage");
    assert_eq!(heard(during), "during");

    // Once Redis is back, writes on the other instance reach them again.
    redis.restart();
    let mut sent = Vec::new();
    let mut resumed = None;
    for attempt in 0..60 {
        sent.push(format!("after {attempt}"));
        subscriptions::comment(&other, &author, &article, &sent[attempt]).await;
        if let Ok(message) = tokio::time::timeout(
            Duration::from_millis(250),
            subscriptions::receive(&mut socket),
        )
        .await
        {
            resumed = Some(heard(message));
            break;
        }
    }
    let received = resumed.expect("events flow between instances again");
    assert!(
        sent.iter().any(|body| received == body.as_str()),
        "{received}"
    );
}

/// Redis stopped and started again while clients read (through the cache)
/// and write: no request fails or waits on Redis, and once it is back no
/// reader sees a count from before a write.
#[tokio::test]
async fn redis_stopping_under_load_fails_no_request_and_serves_nothing_stale() {
    let mut redis = OwnRedis::start();
    let url = redis.url();
    let app = spawn_app_with(|s| s.redis_url = Some(url)).await;
    let author = app.register("loaded").await;
    let (article, query) = cached_comment_count(&app, &author, "Busy").await;
    let started = std::time::Instant::now();
    let until = started + Duration::from_secs(6);
    let client = |writer: bool| {
        let (app, author, article, query) = (&app, &author, &article, &query);
        async move {
            let (mut requests, mut slowest) = (0, Duration::ZERO);
            while std::time::Instant::now() < until {
                let sent = std::time::Instant::now();
                let response = if writer {
                    app.query_as(
                        author,
                        "mutation($id: ID!) { addComment(articleId: $id, body: \"load\") { id } }",
                        json!({ "id": article["id"] }),
                    )
                    .await
                } else {
                    app.query(query, json!({})).await
                };
                data(&response);
                slowest = slowest.max(sent.elapsed());
                requests += 1;
            }
            (requests, slowest)
        }
    };
    let outage = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        redis.stop();
        tokio::time::sleep(Duration::from_secs(2)).await;
        redis.restart();
    };
    let (results, ()) = tokio::join!(
        futures_util::future::join_all((0..8).map(|i| client(i % 4 == 0))),
        outage
    );
    let requests: u64 = results.iter().map(|(requests, _)| requests).sum();
    let slowest = results.iter().map(|(_, slowest)| *slowest).max().unwrap();
    println!(
        "Redis stopped and restarted under load: {requests} requests, none failed; slowest {slowest:?}"
    );
    assert!(
        slowest < Duration::from_secs(2),
        "a request waited {slowest:?}"
    );

    // Every comment written is counted, read after read, cache or not.
    let stored = crate::helpers::count_rows(&app.db, "SELECT COUNT(*) FROM comments").await;
    for _ in 0..3 {
        let (seen, _) = app.read(&query).await;
        assert_eq!(seen["article"]["comments"]["totalCount"], stored);
    }
}
