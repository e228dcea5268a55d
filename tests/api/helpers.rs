use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use folio::{
    Application,
    config::{DatabaseSettings, Environment, ServeSettings, WebSocketSettings},
    db::{StatementCounter, entities::user::Role},
    events::EventBus,
    services::users,
};
use reqwest::{StatusCode, header};
use sea_orm::{ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, Statement};
use serde_json::{Value, json};

/// A running server and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    pub database: Arc<TestDatabase>,
    /// SQL statements the server has executed so far.
    pub statements: StatementCounter,
    /// The server's live-update events.
    pub events: EventBus,
}

pub struct Session {
    pub token: String,
    pub refresh_token: String,
    pub id: String,
    pub username: String,
}

/// A database that exists for one test only.
pub struct TestDatabase {
    pub url: String,
    /// For Postgres: the server URL and database name to drop afterwards.
    postgres: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub async fn create() -> Self {
        match std::env::var("FOLIO_TEST_DATABASE_URL") {
            Ok(base) if !base.is_empty() => {
                let name = format!("folio_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&base)
                    .await
                    .expect("FOLIO_TEST_DATABASE_URL must be reachable");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("creating the test database");
                admin.close().await.ok();
                let url = with_database(&base, &name);
                Self {
                    url,
                    postgres: Some((base, name)),
                    _dir: None,
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("folio.db").display()
                );
                Self {
                    url,
                    postgres: None,
                    _dir: Some(dir),
                }
            }
        }
    }
}

impl TestDatabase {
    /// How many statements Postgres itself has executed in this database
    /// (pg_stat_statements' calls, which count each statement once it has
    /// run); `None` on SQLite.
    pub async fn executed(&self) -> Option<u64> {
        let (base, name) = self.postgres.as_ref()?;
        let admin = Database::connect(base.as_str())
            .await
            .expect("FOLIO_TEST_DATABASE_URL must be reachable");
        // Concurrent tests may race to create it; whoever loses finds it.
        let _ = admin
            .execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .await;
        let row = admin
            .query_one_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT coalesce(sum(s.calls), 0)::bigint AS calls FROM pg_stat_statements s
                 JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1",
                [name.clone().into()],
            ))
            .await
            .expect(
                "counting statements needs pg_stat_statements loaded: \
                 shared_preload_libraries = 'pg_stat_statements' (.ci/run sets it)",
            )
            .expect("one row");
        admin.close().await.ok();
        let calls: i64 = row.try_get("", "calls").expect("a count");
        Some(calls as u64)
    }
}

fn with_database(base: &str, name: &str) -> String {
    let (without_query, query) = base.split_once('?').unwrap_or((base, ""));
    let server = without_query
        .rsplit_once('/')
        .map(|(server, _)| server)
        .unwrap_or(without_query);
    if query.is_empty() {
        format!("{server}/{name}")
    } else {
        format!("{server}/{name}?{query}")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((base, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside async context; use a short-lived runtime on its
        // own thread so the database does not outlive the test.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                if let Ok(admin) = Database::connect(&base).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    admin.close().await.ok();
                }
            });
        })
        .join();
    }
}

static PREFIX_COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn settings(database_url: &str) -> ServeSettings {
    let redis_url = std::env::var("FOLIO_TEST_REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty());
    ServeSettings {
        database: DatabaseSettings {
            database_url: database_url.to_owned(),
            db_max_connections: 5,
        },
        redis_url,
        redis_prefix: format!(
            "folio-test:{}:{}:",
            std::process::id(),
            PREFIX_COUNTER.fetch_add(1, Ordering::Relaxed)
        ),
        bind: "127.0.0.1:0".parse().unwrap(),
        environment: Environment::Development,
        jwt_secret: Some("test-secret-that-is-at-least-32-bytes-long".to_owned()),
        access_token_ttl: 900,
        refresh_token_ttl: 3600,
        max_body_bytes: 64 * 1024,
        max_response_bytes: 10 * 1024 * 1024,
        login_failures_per_account: 10,
        login_failures_per_address: 100,
        // Tests register many users from one address; the throttle's own
        // test sets its budget.
        registrations_per_address: 10_000,
        login_window: 900,
        trust_forwarded_for: false,
        dataloader_delay_us: 0,
        max_depth: 15,
        max_complexity: 20_000,
        max_aliases: 50,
        max_root_fields: 20,
        max_fields: 2_000,
        max_tokens: folio::graphql::DEFAULT_MAX_TOKENS,
        max_batch: 10,
        skip_migrations: false,
        apq_ttl: 3600,
        response_cache: true,
        cost_per_address: None,
        cost_per_user: None,
        cost_window: 60,
        introspection: Some(true),
        playground: Some(true),
        metrics: true,
        metrics_bind: None,
        cors_origins: None,
        csrf_prevention: true,
        request_timeout: 30.0,
        compression: true,
        max_connections: None,
        header_timeout: 10,
        keep_alive_timeout: 30,
        max_header_bytes: 32 * 1024,
        websocket: WebSocketSettings {
            ws_init_timeout: 10,
            ws_keepalive: 15,
            ws_buffer: 256,
            ws_max_operations: 100,
        },
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut ServeSettings)) -> TestApp {
    start(Arc::new(TestDatabase::create().await), configure).await
}

/// Starts a server on `database` and returns it with a client.
async fn start(database: Arc<TestDatabase>, configure: impl FnOnce(&mut ServeSettings)) -> TestApp {
    let mut settings = settings(&database.url);
    configure(&mut settings);
    let app = Application::build(settings).await.expect("server builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let db = app.state.db.clone();
    let statements = app.state.statements.clone();
    let events = app.state.events.clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        db,
        database,
        statements,
        events,
    }
}

impl TestApp {
    /// Another instance on the same database, as behind a load balancer.
    pub async fn another_instance(&self, configure: impl FnOnce(&mut ServeSettings)) -> TestApp {
        start(self.database.clone(), configure).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A GraphQL GET, sent as urql's default client sends it: with no
    /// content type or preflight header.
    pub fn graphql_get(&self) -> reqwest::RequestBuilder {
        self.client.get(self.url("/graphql"))
    }

    /// GETs `path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Runs `query` anonymously: its data, and how many SQL statements it
    /// cost (none when the response cache answered).
    pub async fn read(&self, query: &str) -> (Value, u64) {
        let before = self.statements.get();
        let response = self.query(query, json!({})).await;
        (data(&response).clone(), self.statements.get() - before)
    }

    /// POSTs a GraphQL request and returns the JSON body (whatever the status).
    pub async fn post(&self, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut request = self.client.post(self.url("/graphql")).json(&body);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        (status, response.json().await.expect("JSON body"))
    }

    /// Runs one operation anonymously.
    pub async fn query(&self, query: &str, variables: Value) -> Value {
        self.post(None, json!({ "query": query, "variables": variables }))
            .await
            .1
    }

    /// Runs one operation as the session's user.
    pub async fn query_as(&self, session: &Session, query: &str, variables: Value) -> Value {
        self.post(
            Some(&session.token),
            json!({ "query": query, "variables": variables }),
        )
        .await
        .1
    }

    pub async fn register(&self, username: &str) -> Session {
        let response = self
            .query(
                "mutation($input: RegisterInput!) { register(input: $input) {
                    accessToken refreshToken user { id username } } }",
                json!({ "input": {
                    "username": username,
                    "email": format!("{username}@example.com"),
                    "password": "correct horse battery staple",
                }}),
            )
            .await;
        let payload = data(&response)["register"].clone();
        Session {
            token: payload["accessToken"].as_str().unwrap().to_owned(),
            refresh_token: payload["refreshToken"].as_str().unwrap().to_owned(),
            id: payload["user"]["id"].as_str().unwrap().to_owned(),
            username: payload["user"]["username"].as_str().unwrap().to_owned(),
        }
    }

    /// Registers a user and gives them `role` through the service layer (the
    /// same path as `folio user promote`).
    pub async fn register_with_role(&self, username: &str, role: Role) -> Session {
        let session = self.register(username).await;
        users::assign_role(&self.db, username, role)
            .await
            .expect("role assigned");
        session
    }

    /// Creates an article and returns `{ id slug status tags }`.
    pub async fn create_article(
        &self,
        session: &Session,
        title: &str,
        tags: &[&str],
        publish: bool,
    ) -> Value {
        let response = self
            .query_as(
                session,
                "mutation($input: CreateArticleInput!) { createArticle(input: $input) {
                    id slug status tags } }",
                json!({ "input": {
                    "title": title,
                    "description": format!("About {title}"),
                    "body": format!("The body of {title}."),
                    "tags": tags,
                    "publish": publish,
                }}),
            )
            .await;
        data(&response)["createArticle"].clone()
    }
}

/// A memory figure of a process (`VmRSS`, `VmHWM`, …) from
/// `/proc/<pid>/status`, in bytes; `pid` is `self` for this process.
pub fn memory_of(pid: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with(&format!("{field}:")))
        .unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// The single number `sql` selects, read straight from the database.
pub async fn count_rows(db: &DatabaseConnection, sql: &str) -> i64 {
    let statement = sea_orm::Statement::from_string(db.get_database_backend(), sql);
    let row = db.query_one_raw(statement).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// The `data` of a response that must have no errors.
pub fn data(response: &Value) -> &Value {
    assert!(
        response.get("errors").is_none(),
        "unexpected errors: {response:#}"
    );
    &response["data"]
}

/// The single error of a response: (code, field, message).
pub fn error(response: &Value) -> (String, Option<String>, String) {
    let errors = response["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("expected errors: {response:#}"));
    assert_eq!(errors.len(), 1, "expected one error: {response:#}");
    let error = &errors[0];
    (
        error["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        error["extensions"]["field"].as_str().map(str::to_owned),
        error["message"].as_str().unwrap_or_default().to_owned(),
    )
}

pub fn code(response: &Value) -> String {
    error(response).0
}

/// The string `field` of each node of a connection, in order.
pub fn node_values<'a>(connection: &'a Value, field: &str) -> Vec<&'a str> {
    connection["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {connection:#}"))
        .iter()
        .map(|node| {
            node[field]
                .as_str()
                .unwrap_or_else(|| panic!("no {field} in {node}"))
        })
        .collect()
}
