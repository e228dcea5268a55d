//! Builds the running server: connections, schema, router.

use std::{sync::Arc, time::Duration};

use anyhow::Context as _;
use axum::{Router, extract::DefaultBodyLimit, routing::get};
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower_http::{
    compression::{
        CompressionLayer, CompressionLevel, Predicate as _,
        predicate::{NotForContentType, SizeAbove},
    },
    cors::CorsLayer,
    limit::RequestBodyLimitLayer,
};

use crate::{
    auth::tokens::TokenKeys,
    cache::{Counters, RedisStore, persisted_queries::PersistedQueries, responses::ResponseCache},
    config::{ServeSettings, WebSocketSettings},
    db,
    events::EventBus,
    graphql::Engine,
    http::{self, multiplex::SharedSubscriptions},
    metrics::{Exporter, Levels, Metrics},
    services::{
        accounts::AuthSettings,
        cost_limits::CostLimiter,
        throttle::{AccountLimits, AccountThrottle},
    },
};

/// What every request shares: one instance of this per process.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub auth: Arc<AuthSettings>,
    pub redis: Option<RedisStore>,
    pub statements: db::StatementCounter,
    /// Live-update events, published after their write commits.
    pub events: EventBus,
    pub dataloader_delay: Duration,
    /// Automatic persisted queries.
    pub persisted: PersistedQueries,
    /// Anonymous public responses.
    pub responses: ResponseCache,
    /// Query cost budgets per client and per user.
    pub cost_limiter: CostLimiter,
    /// Whether the client address comes from `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    pub metrics: Metrics,
}

/// The router's state (behind an `Arc`): the shared state plus the engine
/// that runs operations over it.
#[derive(Clone)]
pub struct HttpState {
    pub app: AppState,
    pub engine: Engine,
    /// Most operations in one batched request.
    pub max_batch: usize,
    pub websocket: WebSocketSettings,
    pub lifecycle: Lifecycle,
    /// Running subscriptions, shared by identical subscribers.
    pub subscriptions: SharedSubscriptions,
    pub exporter: Exporter,
    /// Refuse GET operations a page on another site could have sent.
    pub csrf_prevention: bool,
    /// The largest request body, and WebSocket message.
    pub max_body_bytes: usize,
    /// The largest response, and WebSocket message sent.
    pub max_response_bytes: usize,
}

/// What lets a stopping server end its long-lived connections: HTTP
/// requests finish by themselves, WebSockets have to be told.
#[derive(Clone, Default)]
pub struct Lifecycle {
    /// Cancelled when the server starts shutting down.
    pub stopping: CancellationToken,
    /// The open WebSocket connections.
    pub connections: TaskTracker,
}

/// The checked settings of the layers around the routes.
struct Edge {
    cors: Option<CorsLayer>,
    timeout: Option<Duration>,
}

/// Smaller responses gain too little from compression to pay for it.
const COMPRESS_FROM_BYTES: u16 = 1024;

/// How long open WebSockets get to close once the server stops.
const CONNECTIONS_GRACE: Duration = Duration::from_secs(10);

/// A server bound to its port, ready to run. Binding happens in `build`, so a
/// test or benchmark can ask for port 0 and read the real port before serving.
pub struct Application {
    listener: TcpListener,
    router: Router,
    lifecycle: Lifecycle,
    connection_limits: http::serve::ConnectionLimits,
    /// `/metrics` on a listener of its own, when configured.
    metrics: Option<(TcpListener, Router)>,
    pub state: AppState,
}

impl Application {
    pub async fn build(settings: ServeSettings) -> anyhow::Result<Self> {
        let secret = settings.jwt_secret()?;
        let mut db = db::connect(
            &settings.database.database_url,
            settings.database.db_max_connections,
        )
        .await
        .context("connecting to the database")?;
        let metrics = Metrics::default();
        let statements = db::StatementCounter::attach(&mut db, metrics.clone());
        if !settings.skip_migrations {
            db::migrate(&db).await.context("migrating the database")?;
        }
        // An empty REDIS_URL (as compose files and scripts often leave it)
        // means no Redis.
        let (client, store) = match settings.redis_url.as_deref().filter(|url| !url.is_empty()) {
            Some(url) => {
                let (client, connection) = connect_redis(url).await?;
                let store = RedisStore::new(connection, &settings.redis_prefix);
                (Some(client), Some(store))
            }
            None => (None, None),
        };
        let events = match (client, &store) {
            (Some(client), Some(store)) => EventBus::redis(client, store.clone(), metrics.clone()),
            _ => EventBus::in_process(metrics.clone()),
        };
        let login_window = Duration::from_secs(settings.login_window.into());
        let cost_limits = settings.cost_limits()?;
        let counters = match &store {
            Some(store) => Counters::redis(store.clone()),
            None => Counters::memory(),
        };
        let apq_ttl = Duration::from_secs(settings.apq_ttl);
        let persisted = match &store {
            Some(store) => PersistedQueries::redis(store.clone(), apq_ttl),
            None => PersistedQueries::memory(apq_ttl),
        };
        let responses = match (&store, settings.response_cache) {
            (_, false) => ResponseCache::off(),
            (Some(store), true) => ResponseCache::redis(store.clone()),
            (None, true) => ResponseCache::memory(),
        };
        let state = AppState {
            db,
            auth: Arc::new(AuthSettings {
                keys: TokenKeys::new(
                    &secret,
                    chrono::Duration::seconds(settings.access_token_ttl.into()),
                ),
                refresh_ttl: chrono::Duration::seconds(settings.refresh_token_ttl.into()),
                throttle: AccountThrottle::new(
                    counters.clone(),
                    AccountLimits {
                        per_account: settings.login_failures_per_account,
                        per_address: settings.login_failures_per_address,
                        registrations_per_address: settings.registrations_per_address,
                        window: login_window,
                    },
                    metrics.clone(),
                ),
            }),
            redis: store,
            statements,
            events,
            dataloader_delay: Duration::from_micros(settings.dataloader_delay_us),
            persisted,
            responses,
            cost_limiter: CostLimiter::new(counters, cost_limits),
            trust_forwarded_for: settings.trust_forwarded_for,
            metrics,
        };
        let engine = Engine::new(
            Some(state.clone()),
            settings.query_limits(),
            settings.introspection(),
        );
        let lifecycle = Lifecycle::default();
        let subscriptions = SharedSubscriptions::new(
            state.db.clone(),
            state.dataloader_delay,
            state.metrics.clone(),
            settings.max_response_bytes,
        );
        let exporter = state.metrics.exporter(Levels {
            db: state.db.clone(),
            db_max_connections: settings.database.db_max_connections,
            statements: state.statements.clone(),
            redis: state.redis.clone(),
            connections: lifecycle.connections.clone(),
            subscriptions: subscriptions.clone(),
        });
        // Handlers get the state by value: one reference count per request,
        // where a copy of the state itself was a dozen and 15% of the CPU
        // of `{ __typename }`.
        let http_state = Arc::new(HttpState {
            app: state.clone(),
            engine,
            max_batch: settings.max_batch,
            websocket: settings.websocket.clone(),
            lifecycle: lifecycle.clone(),
            subscriptions,
            exporter,
            csrf_prevention: settings.csrf_prevention,
            max_body_bytes: settings.max_body_bytes,
            max_response_bytes: settings.max_response_bytes,
        });
        let metrics = match settings.metrics_bind.filter(|_| settings.metrics) {
            Some(bind) => {
                let listener = TcpListener::bind(bind)
                    .await
                    .with_context(|| format!("binding the metrics listener {bind}"))?;
                let router = Router::new()
                    .route("/metrics", get(http::metrics::scrape))
                    .with_state(http_state.clone());
                Some((listener, router))
            }
            None => None,
        };
        let router = router(
            http_state,
            &settings,
            Edge {
                cors: http::cross_origin::cors(&settings.allowed_origins()?),
                timeout: settings.request_timeout()?,
            },
        );
        let listener = TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("binding {}", settings.bind))?;
        Ok(Self {
            listener,
            router,
            lifecycle,
            connection_limits: connection_limits(&settings),
            metrics,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|addr| addr.port())
            .unwrap_or_default()
    }

    /// Serves until SIGINT/SIGTERM.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes, then stops accepting connections,
    /// finishes the HTTP requests in flight and closes WebSockets with 1001
    /// (going away), so clients reconnect elsewhere.
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(address = %self.listener.local_addr()?, "Folio is listening");
        let Lifecycle {
            stopping,
            connections,
        } = self.lifecycle;
        if let Some((listener, router)) = self.metrics {
            tracing::info!(address = %listener.local_addr()?, "metrics are served here");
            let stopped = stopping.clone();
            tokio::spawn(async move {
                let _ = axum::serve(listener, router)
                    .with_graceful_shutdown(async move { stopped.cancelled().await })
                    .await;
            });
        }
        let signal = stopping.clone();
        tokio::spawn(async move {
            stop.await;
            signal.cancel();
        });
        http::serve::serve(self.listener, self.router, self.connection_limits, stopping).await;
        connections.close();
        if tokio::time::timeout(CONNECTIONS_GRACE, connections.wait())
            .await
            .is_err()
        {
            tracing::warn!("some WebSocket connections did not close in time");
        }
        Ok(())
    }
}

/// The bounds on connections. Raises this process's soft limit on open
/// files to its hard limit (as nginx's `worker_rlimit_nofile` does), and by
/// default admits as many connections as that leaves room for.
fn connection_limits(settings: &ServeSettings) -> http::serve::ConnectionLimits {
    // Descriptors kept for the database pool, Redis, logs and files.
    const RESERVED: u64 = 64;
    let files = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let room = files.saturating_sub(RESERVED + u64::from(settings.database.db_max_connections));
    http::serve::ConnectionLimits {
        max_connections: settings
            .max_connections
            .unwrap_or_else(|| usize::try_from(room.max(1)).unwrap_or(usize::MAX)),
        header_timeout: Duration::from_secs(settings.header_timeout.max(1)),
        keep_alive_timeout: Duration::from_secs(settings.keep_alive_timeout.max(1)),
        max_header_bytes: settings.max_header_bytes,
    }
}

async fn connect_redis(
    url: &str,
) -> anyhow::Result<(redis::Client, redis::aio::ConnectionManager)> {
    let client = redis::Client::open(url).context("parsing REDIS_URL")?;
    // Redis holds caches, counters and events: when it is away, requests go
    // on without it, so a command must fail fast rather than wait through a
    // long reconnect schedule. The manager still reconnects on later commands.
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(100));
    let connection = redis::aio::ConnectionManager::new_with_config(client.clone(), config)
        .await
        .context("connecting to Redis")?;
    Ok((client, connection))
}

fn router(state: Arc<HttpState>, settings: &ServeSettings, edge: Edge) -> Router {
    let metrics = state.app.metrics.clone();
    let mut router = Router::new()
        .route(
            "/graphql",
            get(http::subscriptions::get_or_upgrade).post(http::graphql::handle),
        )
        .route("/graphql/ws", get(http::subscriptions::handle))
        .merge(if settings.playground() {
            http::playground::routes()
        } else {
            Router::new()
        })
        .route("/health/live", get(http::health::live))
        .route("/health/ready", get(http::health::ready))
        .merge(if settings.metrics_on_public_listener() {
            Router::new().route("/metrics", get(http::metrics::scrape))
        } else {
            Router::new()
        })
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .layer(RequestBodyLimitLayer::new(settings.max_body_bytes))
        .layer(axum::middleware::map_response(
            http::graphql::explain_too_large,
        ))
        .layer(axum::middleware::from_fn_with_state(
            settings.max_body_bytes,
            http::body_limit::refuse_oversized,
        ));
    // Layers added later wrap the ones before.
    if let Some(deadline) = edge.timeout {
        router = router.layer(axum::middleware::from_fn_with_state(
            deadline,
            http::timeout::limit,
        ));
    }
    router = router.layer(axum::middleware::from_fn(http::graphql::negotiate));
    if settings.compression {
        router = router.layer(
            // Level 1 of each codec: API responses are made fresh for each
            // request, and brotli's default (4) cost 14% of the CPU of an
            // article page; level 1 still shrinks JSON several times.
            CompressionLayer::new()
                .quality(CompressionLevel::Precise(1))
                .compress_when(
                    SizeAbove::new(COMPRESS_FROM_BYTES)
                        .and(NotForContentType::IMAGES)
                        .and(NotForContentType::SSE),
                ),
        );
    }
    if let Some(cors) = edge.cors {
        router = router.layer(cors);
    }
    router
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            http::metrics::count_responses,
        ))
        // Outermost last: the id is set before the span that logs it, and
        // copied to the response after.
        .layer(http::request_log::propagate_request_id())
        .layer(http::request_log::trace())
        .layer(http::request_log::set_request_id())
        .layer(axum::middleware::map_request(
            http::request_log::refuse_unplain_request_id,
        ))
        .with_state(state)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
