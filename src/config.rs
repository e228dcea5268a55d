//! Settings, read from the environment (or the equivalent flags) and checked
//! once at startup: a server that starts is a server that is configured.

use std::{net::SocketAddr, time::Duration};

use axum::http::HeaderValue;
use clap::{Args, ValueEnum};

use crate::{http::cross_origin::AllowedOrigins, services::cost_limits::CostLimits};

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// Postgres (`postgres://…`) or SQLite (`sqlite://path?mode=rwc`) URL.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://folio.db?mode=rwc"
    )]
    pub database_url: String,

    /// Size of the connection pool.
    #[arg(long, env = "FOLIO_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything `folio serve` needs.
#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    #[command(flatten)]
    pub database: DatabaseSettings,

    /// Redis URL; without it, caches and limits are kept in process.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key, so several deployments (or test runs) can
    /// share one Redis.
    #[arg(long, env = "FOLIO_REDIS_PREFIX", default_value = "folio:")]
    pub redis_prefix: String,

    /// Address to listen on.
    #[arg(long, env = "FOLIO_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// `production` refuses to start without a strong JWT secret.
    #[arg(long, env = "FOLIO_ENV", value_enum, default_value = "development")]
    pub environment: Environment,

    /// HMAC key for access tokens: at least 32 bytes. Shared by every instance.
    #[arg(long, env = "FOLIO_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Access token lifetime in seconds.
    #[arg(long, env = "FOLIO_ACCESS_TOKEN_TTL", default_value_t = 900)]
    pub access_token_ttl: u32,

    /// Refresh token lifetime in seconds.
    #[arg(long, env = "FOLIO_REFRESH_TOKEN_TTL", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl: u32,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "FOLIO_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest response, in bytes, over HTTP or WebSocket; a larger one is
    /// replaced by a BAD_USER_INPUT error saying so.
    #[arg(long, env = "FOLIO_MAX_RESPONSE_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_response_bytes: usize,

    /// Deepest nesting of selections a query may have.
    #[arg(long, env = "FOLIO_MAX_DEPTH", default_value_t = 15)]
    pub max_depth: usize,

    /// Highest query complexity: each field costs 1 plus its children, and a
    /// connection its page size times the cost of one item.
    #[arg(long, env = "FOLIO_MAX_COMPLEXITY", default_value_t = 20_000)]
    pub max_complexity: usize,

    /// Most aliased fields in one query.
    #[arg(long, env = "FOLIO_MAX_ALIASES", default_value_t = 50)]
    pub max_aliases: usize,

    /// Most root fields in one operation.
    #[arg(long, env = "FOLIO_MAX_ROOT_FIELDS", default_value_t = 20)]
    pub max_root_fields: usize,

    /// Most field selections in one query, fragments expanded.
    #[arg(long, env = "FOLIO_MAX_FIELDS", default_value_t = 2_000)]
    pub max_fields: usize,

    /// Most tokens (names, punctuation, values; not whitespace, commas or
    /// comments) in one document, checked before it is parsed.
    #[arg(long, env = "FOLIO_MAX_TOKENS", default_value_t = crate::graphql::DEFAULT_MAX_TOKENS)]
    pub max_tokens: usize,

    /// Most operations in one batched request.
    #[arg(long, env = "FOLIO_MAX_BATCH", default_value_t = 10)]
    pub max_batch: usize,

    /// Failed logins allowed per account (email) in a window.
    #[arg(long, env = "FOLIO_LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 10)]
    pub login_failures_per_account: u64,

    /// Failed logins allowed per client address in a window.
    #[arg(long, env = "FOLIO_LOGIN_FAILURES_PER_ADDRESS", default_value_t = 100)]
    pub login_failures_per_address: u64,

    /// Registrations allowed per client address in a window (the login
    /// window), so CONFLICT answers cannot list which emails have accounts.
    #[arg(long, env = "FOLIO_REGISTRATIONS_PER_ADDRESS", default_value_t = 20)]
    pub registrations_per_address: u64,

    /// Length of the failed-login window, in seconds.
    #[arg(long, env = "FOLIO_LOGIN_WINDOW", default_value_t = 900)]
    pub login_window: u32,

    /// Take the client address from the last `X-Forwarded-For` hop (the one
    /// the proxy in front of Folio added). Only behind such a proxy: anyone
    /// can send the header.
    #[arg(long, env = "FOLIO_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,

    /// How long a loader's batch waits for more keys once it would go out,
    /// in microseconds (tokio's timer rounds it up to whole milliseconds).
    /// A batch goes out when the operation that opened it has nothing else
    /// to do (`graphql::batching`), which needs no wait and holds every key
    /// of a page at any size; a delay lets subscriptions that share loaders
    /// batch one event's loads together, at that cost in latency for every
    /// level of every query.
    #[arg(long, env = "FOLIO_DATALOADER_DELAY_US", default_value_t = 0)]
    pub dataloader_delay_us: u64,

    /// Skip migrations at startup (run `folio migrate` separately instead).
    #[arg(long, env = "FOLIO_SKIP_MIGRATIONS")]
    pub skip_migrations: bool,

    /// Cache anonymous public query responses (`false` turns the cache off,
    /// e.g. to measure the uncached path).
    #[arg(long, env = "FOLIO_RESPONSE_CACHE", default_value_t = true, action = clap::ArgAction::Set)]
    pub response_cache: bool,

    /// Seconds a persisted query stays registered after its last
    /// registration.
    #[arg(long, env = "FOLIO_APQ_TTL", default_value_t = 24 * 3600)]
    pub apq_ttl: u64,

    /// Query cost each client address may spend per window (the cost is
    /// the complexity `FOLIO_MAX_COMPLEXITY` limits). Defaults to 1,000,000
    /// in production and 100 times that in development; 0 turns it off.
    #[arg(long, env = "FOLIO_COST_PER_ADDRESS")]
    pub cost_per_address: Option<u64>,

    /// Query cost each logged-in user may spend per window, wherever they
    /// connect from. Same defaults as `FOLIO_COST_PER_ADDRESS`.
    #[arg(long, env = "FOLIO_COST_PER_USER")]
    pub cost_per_user: Option<u64>,

    /// Length of the cost window, in seconds.
    #[arg(long, env = "FOLIO_COST_WINDOW", default_value_t = 60)]
    pub cost_window: u32,

    /// Answer introspection queries (`__schema`, `__type`). Tools like
    /// GraphiQL and codegen against a live server need it. On in
    /// development, off in production (publish `schema.graphql` instead).
    /// Without it, validation errors make no "Did you mean …" suggestions
    /// either, which would spell the schema out field by field.
    #[arg(long, env = "FOLIO_INTROSPECTION", action = clap::ArgAction::Set)]
    pub introspection: Option<bool>,

    /// Serve the playground at `/playground` (`false`: 404). On in
    /// development, off in production.
    #[arg(long, env = "FOLIO_PLAYGROUND", action = clap::ArgAction::Set)]
    pub playground: Option<bool>,

    /// Origins whose pages may call Folio from a browser, comma-separated
    /// (`https://app.example.com,https://admin.example.com`), or `*` for any.
    /// Defaults to `*` in development and to none in production.
    #[arg(long, env = "FOLIO_CORS_ORIGINS")]
    pub cors_origins: Option<String>,

    /// Refuse POST bodies a browser could send cross-site without a
    /// preflight (form and text types): a POST must be declared JSON. Off,
    /// a POST may carry its JSON as `text/plain`. GET runs only queries
    /// either way, anonymously unless the client sent `Authorization`,
    /// which needs a preflight cross-site (see `http::cross_origin`).
    #[arg(long, env = "FOLIO_CSRF_PREVENTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub csrf_prevention: bool,

    /// Seconds an HTTP request may take before it is stopped with a
    /// TIMEOUT error (503); 0 means no limit.
    #[arg(long, env = "FOLIO_REQUEST_TIMEOUT", default_value_t = 30.0)]
    pub request_timeout: f64,

    /// Compress responses of 1 KiB or more (gzip, brotli or zstd, as the
    /// client accepts).
    #[arg(long, env = "FOLIO_COMPRESSION", default_value_t = true, action = clap::ArgAction::Set)]
    pub compression: bool,

    /// Serve Prometheus metrics at `/metrics` (`false`: nowhere).
    #[arg(long, env = "FOLIO_METRICS", default_value_t = true, action = clap::ArgAction::Set)]
    pub metrics: bool,

    /// A listener of its own for `/metrics` (e.g. `127.0.0.1:9090`), kept
    /// off the public one. In production `/metrics` is served only there;
    /// in development also on the public listener when this is unset.
    #[arg(long, env = "FOLIO_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// Most connections open at once, WebSockets included; more are
    /// answered 503 and closed. Defaults to the file-descriptor limit
    /// (raised to its hard maximum at start) less a reserve for the
    /// database pool, Redis and files.
    #[arg(long, env = "FOLIO_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,

    /// Seconds a client has to send a request's head (line and headers)
    /// once the connection waits for one.
    #[arg(long, env = "FOLIO_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout: u64,

    /// Seconds a keep-alive connection may sit idle after a response.
    /// Behind a load balancer, keep it above the balancer's own idle
    /// timeout, so the balancer closes first.
    #[arg(long, env = "FOLIO_KEEP_ALIVE_TIMEOUT", default_value_t = 30)]
    pub keep_alive_timeout: u64,

    /// Largest request head (request line and headers) in bytes; larger
    /// ones get 431. Node allows 16 KiB, nginx 32 KiB.
    #[arg(long, env = "FOLIO_MAX_HEADER_BYTES", default_value_t = 32 * 1024)]
    pub max_header_bytes: usize,

    #[command(flatten)]
    pub websocket: WebSocketSettings,
}

/// Subscription connections.
#[derive(Debug, Clone, Args)]
pub struct WebSocketSettings {
    /// Seconds a new connection may take to send `connection_init` before it
    /// is closed with 4408.
    #[arg(long, env = "FOLIO_WS_INIT_TIMEOUT", default_value_t = 10)]
    pub ws_init_timeout: u64,

    /// Seconds between the server's keep-alive messages (`ping` in
    /// graphql-transport-ws, `ka` in the legacy protocol).
    #[arg(long, env = "FOLIO_WS_KEEPALIVE", default_value_t = 15)]
    pub ws_keepalive: u64,

    /// Messages a subscriber may leave unread before it is disconnected with
    /// 1013 (try again later), so a stalled client cannot hold memory or
    /// delay anyone else.
    #[arg(long, env = "FOLIO_WS_BUFFER", default_value_t = 256)]
    pub ws_buffer: usize,

    /// Operations one connection may have running at once (subscriptions,
    /// and queries or mutations not yet answered); more are refused with
    /// RATE_LIMITED until some end.
    #[arg(long, env = "FOLIO_WS_MAX_OPERATIONS", default_value_t = 100)]
    pub ws_max_operations: usize,
}

pub const MIN_JWT_SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("FOLIO_JWT_SECRET must be set when FOLIO_ENV=production")]
    MissingJwtSecret,
    #[error("FOLIO_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes (got {0})")]
    WeakJwtSecret(usize),
    #[error(
        "FOLIO_JWT_SECRET is {0}: anyone could forge tokens with it; use `openssl rand -base64 48`"
    )]
    GuessableJwtSecret(&'static str),
    #[error("FOLIO_ACCESS_TOKEN_TTL and FOLIO_REFRESH_TOKEN_TTL must be positive")]
    ZeroTokenLifetime,
    #[error(
        "a cost budget ({0}) below FOLIO_MAX_COMPLEXITY ({1}) would refuse the largest allowed queries forever"
    )]
    BudgetBelowComplexity(u64, usize),
    #[error("FOLIO_COST_WINDOW must be positive")]
    ZeroCostWindow,
    #[error("FOLIO_CORS_ORIGINS: {0:?} is not an origin like https://app.example.com")]
    BadOrigin(String),
    #[error("FOLIO_REQUEST_TIMEOUT must be a number of seconds, 0 or more")]
    BadTimeout,
}

/// Cost budgets per window when none are configured: enough for a busy
/// frontend in production (a page of 20 articles with authors and tags
/// costs a few hundred), and out of a developer's way in development.
const PRODUCTION_COST_BUDGET: u64 = 1_000_000;
const DEVELOPMENT_COST_BUDGET: u64 = 100 * PRODUCTION_COST_BUDGET;

impl ServeSettings {
    pub fn query_limits(&self) -> crate::graphql::QueryLimits {
        crate::graphql::QueryLimits {
            depth: self.max_depth,
            complexity: self.max_complexity,
            aliases: self.max_aliases,
            root_fields: self.max_root_fields,
            fields: self.max_fields,
            tokens: self.max_tokens,
        }
    }

    /// The cost budgets, checked: each must fit the costliest query allowed.
    pub fn cost_limits(&self) -> Result<CostLimits, ConfigError> {
        if self.cost_window == 0 {
            return Err(ConfigError::ZeroCostWindow);
        }
        let default = match self.environment {
            Environment::Production => PRODUCTION_COST_BUDGET,
            Environment::Development => DEVELOPMENT_COST_BUDGET,
        };
        let budget = |configured: Option<u64>| match configured.unwrap_or(default) {
            0 => Ok(None),
            budget if budget < self.max_complexity as u64 => Err(
                ConfigError::BudgetBelowComplexity(budget, self.max_complexity),
            ),
            budget => Ok(Some(budget)),
        };
        Ok(CostLimits {
            per_address: budget(self.cost_per_address)?,
            per_user: budget(self.cost_per_user)?,
            window: Duration::from_secs(self.cost_window.into()),
        })
    }

    /// The origins browsers may call from.
    pub fn allowed_origins(&self) -> Result<AllowedOrigins, ConfigError> {
        let configured = match (&self.cors_origins, self.environment) {
            (Some(configured), _) => configured.as_str(),
            (None, Environment::Development) => "*",
            (None, Environment::Production) => "",
        };
        if configured.trim() == "*" {
            return Ok(AllowedOrigins::Any);
        }
        configured
            .split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty())
            .map(|origin| {
                let bad = || ConfigError::BadOrigin(origin.to_owned());
                let url = url::Url::parse(origin).map_err(|_| bad())?;
                // An origin is scheme, host and port: nothing else.
                let serialized = url.origin().ascii_serialization();
                if serialized != origin.trim_end_matches('/') {
                    return Err(bad());
                }
                HeaderValue::from_str(&serialized).map_err(|_| bad())
            })
            .collect::<Result<_, _>>()
            .map(AllowedOrigins::List)
    }

    fn production(&self) -> bool {
        self.environment == Environment::Production
    }

    /// Whether introspection is answered: as configured, else only in
    /// development.
    pub fn introspection(&self) -> bool {
        self.introspection.unwrap_or(!self.production())
    }

    /// Whether the playground is served: as configured, else only in
    /// development.
    pub fn playground(&self) -> bool {
        self.playground.unwrap_or(!self.production())
    }

    /// Whether the public listener serves `/metrics`: in development when
    /// no listener of its own is configured, never in production.
    pub fn metrics_on_public_listener(&self) -> bool {
        self.metrics && self.metrics_bind.is_none() && !self.production()
    }

    /// The request deadline, if any.
    pub fn request_timeout(&self) -> Result<Option<Duration>, ConfigError> {
        match Duration::try_from_secs_f64(self.request_timeout) {
            Ok(Duration::ZERO) => Ok(None),
            Ok(timeout) => Ok(Some(timeout)),
            Err(_) => Err(ConfigError::BadTimeout),
        }
    }

    /// The JWT secret to use. In development a missing secret is replaced by a
    /// random one (tokens then die with the process); in production it is an
    /// error, as is a short secret anywhere.
    pub fn jwt_secret(&self) -> Result<Vec<u8>, ConfigError> {
        if self.access_token_ttl == 0 || self.refresh_token_ttl == 0 {
            return Err(ConfigError::ZeroTokenLifetime);
        }
        match (&self.jwt_secret, self.environment) {
            (Some(secret), _) if secret.len() < MIN_JWT_SECRET_BYTES => {
                Err(ConfigError::WeakJwtSecret(secret.len()))
            }
            (Some(secret), Environment::Production) if let Some(why) = guessable(secret) => {
                Err(ConfigError::GuessableJwtSecret(why))
            }
            (Some(secret), _) => Ok(secret.as_bytes().to_vec()),
            (None, Environment::Production) => Err(ConfigError::MissingJwtSecret),
            (None, Environment::Development) => {
                tracing::warn!(
                    "FOLIO_JWT_SECRET is not set: using a random secret; tokens will not survive a restart"
                );
                let mut secret = vec![0u8; 32];
                rand::fill(&mut secret[..]);
                Ok(secret)
            }
        }
    }
}

/// The secrets this repository's tests, benchmarks and examples use: public,
/// so never fit for production.
const PUBLISHED_SECRETS: [&str; 8] = [
    "test-secret-that-is-at-least-32-bytes-long",
    "client-tests-secret-of-32-bytes-or-more",
    "soak-secret-of-at-least-32-bytes-long",
    "benchmark-secret-of-at-least-32-bytes",
    "comparison-secret-of-at-least-32-bytes",
    "scale-out-test-secret-shared-by-both-instances",
    "a-secret-of-enough-length-for-tests!",
    "another-secret-of-enough-length!!!!",
];

/// A secret whose characters carry less than this (estimated from their
/// frequencies: 32 × `a` carries none) is a placeholder, not a key. The
/// estimate undercounts short random strings (32 random hex digits, 128
/// bits, estimate at about 118), hence the margin below 128.
const MIN_SECRET_BITS: f64 = 96.0;

/// Why `secret` is guessable, if it is.
fn guessable(secret: &str) -> Option<&'static str> {
    if PUBLISHED_SECRETS.contains(&secret) {
        return Some("one published in Folio's repository");
    }
    let mut counts = std::collections::HashMap::new();
    for byte in secret.bytes() {
        *counts.entry(byte).or_insert(0usize) += 1;
    }
    let length = secret.len() as f64;
    let bits_per_byte: f64 = counts
        .values()
        .map(|&count| {
            let p = count as f64 / length;
            -p * p.log2()
        })
        .sum();
    (bits_per_byte * length < MIN_SECRET_BITS).then_some("of too little entropy")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeSettings,
    }

    fn settings(args: &[&str]) -> ServeSettings {
        Cli::parse_from(std::iter::once("folio").chain(args.iter().copied())).serve
    }

    #[test]
    fn production_requires_a_strong_secret() {
        let production = settings(&["--environment", "production"]);
        assert_eq!(production.jwt_secret(), Err(ConfigError::MissingJwtSecret));
        let weak = settings(&["--environment", "production", "--jwt-secret", "short"]);
        assert_eq!(weak.jwt_secret(), Err(ConfigError::WeakJwtSecret(5)));
        let strong = settings(&[
            "--environment",
            "production",
            "--jwt-secret",
            "9f86d081884c7d659a2feaa0c55ad015",
        ]);
        assert_eq!(strong.jwt_secret().unwrap().len(), 32);
    }

    #[test]
    fn production_refuses_published_and_low_entropy_secrets() {
        let with = |secret: &str| {
            settings(&["--environment", "production", "--jwt-secret", secret]).jwt_secret()
        };
        for weak in [
            "a".repeat(32),
            " ".repeat(32),
            "ab".repeat(20),
            "test-secret-that-is-at-least-32-bytes-long".to_owned(),
        ] {
            assert!(
                matches!(with(&weak), Err(ConfigError::GuessableJwtSecret(_))),
                "{weak:?}"
            );
        }
        // 48 random bytes in base64, and 32 in hex, are fine.
        assert!(with("q3Vh1v0cYy5kq8rQm2o7Zt9nW4xJ6bL0pE1sD3fG5hK7jM9nB2vC4xZ6aS8dF0gH").is_ok());
        assert!(with("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08").is_ok());
        // Development takes what it is given.
        assert!(
            settings(&["--jwt-secret", &"a".repeat(32)])
                .jwt_secret()
                .is_ok()
        );
    }

    #[test]
    fn production_hides_the_schema_and_the_metrics_by_default() {
        let production = settings(&["--environment", "production"]);
        assert!(!production.introspection() && !production.playground());
        assert!(!production.metrics_on_public_listener());
        let development = settings(&[]);
        assert!(development.introspection() && development.playground());
        assert!(development.metrics_on_public_listener());
        let opted_in = settings(&[
            "--environment",
            "production",
            "--introspection",
            "true",
            "--playground",
            "true",
        ]);
        assert!(opted_in.introspection() && opted_in.playground());
    }

    #[test]
    fn development_defaults_need_no_setup() {
        let dev = settings(&[]);
        assert_eq!(dev.bind.to_string(), "127.0.0.1:8080");
        assert!(dev.database.database_url.starts_with("sqlite://"));
        assert_eq!(dev.jwt_secret().unwrap().len(), 32);
    }

    #[test]
    fn cost_budgets_default_by_environment_and_must_fit_the_largest_query() {
        let dev = settings(&[]).cost_limits().unwrap();
        let production = settings(&["--environment", "production"])
            .cost_limits()
            .unwrap();
        assert!(dev.per_address > production.per_address);
        assert_eq!(production.per_user, Some(PRODUCTION_COST_BUDGET));
        let off = settings(&["--cost-per-address", "0"])
            .cost_limits()
            .unwrap();
        assert_eq!(off.per_address, None);
        assert_eq!(
            settings(&["--cost-per-user", "100"]).cost_limits(),
            Err(ConfigError::BudgetBelowComplexity(100, 20_000))
        );
    }

    #[test]
    fn cors_origins_default_by_environment_and_must_be_origins() {
        assert_eq!(settings(&[]).allowed_origins(), Ok(AllowedOrigins::Any));
        assert_eq!(
            settings(&["--environment", "production"]).allowed_origins(),
            Ok(AllowedOrigins::List(vec![]))
        );
        assert_eq!(
            settings(&[
                "--cors-origins",
                "https://a.example, http://localhost:3000/"
            ])
            .allowed_origins(),
            Ok(AllowedOrigins::List(vec![
                HeaderValue::from_static("https://a.example"),
                HeaderValue::from_static("http://localhost:3000"),
            ]))
        );
        for bad in [
            "a.example",
            "https://a.example/app",
            "https://a.example?x=1",
        ] {
            assert_eq!(
                settings(&["--cors-origins", bad]).allowed_origins(),
                Err(ConfigError::BadOrigin(bad.to_owned()))
            );
        }
    }

    #[test]
    fn every_setting_is_in_the_readme_configuration_reference() {
        use clap::CommandFactory;
        let readme = include_str!("../README.md");
        let reference = &readme[readme
            .find("## Configuration reference")
            .expect("the README has a configuration reference")..];
        let missing: Vec<String> = Cli::command()
            .get_arguments()
            .filter_map(|argument| argument.get_env())
            .map(|env| env.to_string_lossy().into_owned())
            .filter(|env| !reference.contains(&format!("`{env}`")))
            .collect();
        assert!(missing.is_empty(), "not documented: {missing:?}");
    }

    #[test]
    fn request_timeout_zero_means_none() {
        assert_eq!(
            settings(&[]).request_timeout(),
            Ok(Some(Duration::from_secs(30)))
        );
        assert_eq!(
            settings(&["--request-timeout", "0"]).request_timeout(),
            Ok(None)
        );
        assert_eq!(
            settings(&["--request-timeout=-1"]).request_timeout(),
            Err(ConfigError::BadTimeout)
        );
    }
}
