//! Prometheus metrics, served at `/metrics` in the OpenMetrics text format.
//!
//! Events are counted where they happen, through a [`Metrics`] handle every
//! component holds a clone of. Levels (open connections, pool use, running
//! subscriptions) are read from their owners at scrape time instead, so
//! they can never drift from the truth. Each server owns its registry: no
//! global state, so several servers in one process (tests) do not mix.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, text},
    metrics::{
        counter::{ConstCounter, Counter},
        family::Family,
        gauge::ConstGauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::{Registry, Unit},
};
use sea_orm::{DatabaseConnection, DbBackend};
use tokio_util::task::TaskTracker;

use crate::locks::lock;
use crate::{cache::RedisStore, db::StatementCounter, http::multiplex::SharedSubscriptions};

/// Distinct operation names kept as label values; later ones are counted as
/// `(other)`, so clients cannot grow the metrics without bound by inventing
/// names.
const MAX_OPERATION_NAMES: usize = 200;
/// Longest operation name kept as a label of its own.
const MAX_OPERATION_NAME_BYTES: usize = 64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: Arc<str>,
    pub outcome: Outcome,
}

/// How an operation ended.
#[derive(
    Clone, Copy, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelValue,
)]
#[allow(non_camel_case_types)] // label values are lower case
pub enum Outcome {
    /// Data and no errors.
    ok,
    /// Ran, with errors for some fields.
    error,
    /// Refused before anything ran: parse, validation, limits, persisted
    /// query lookups.
    rejected,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    event: &'static str,
}

type Latency = Family<OperationLabels, Histogram, fn() -> Histogram>;

fn operation_latency() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

fn statement_latency() -> Histogram {
    // 0.1 ms to about 3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// What components record into. Cheap to clone (one shared pointer: it is
/// cloned with the state of every request).
#[derive(Clone, Default)]
pub struct Metrics(Arc<Series>);

struct Series {
    operations: Family<OperationLabels, Counter>,
    operation_seconds: Latency,
    operation_names: Arc<Mutex<HashSet<Arc<str>>>>,
    errors: Family<CodeLabels, Counter>,
    http_responses: Family<HttpLabels, Counter>,
    statement_seconds: Histogram,
    statement_failures: Counter,
    response_cache: Family<ResultLabels, Counter>,
    persisted_queries: Family<ResultLabels, Counter>,
    rate_limited: Family<LimitLabels, Counter>,
    events_published: Family<EventLabels, Counter>,
    events_received: Counter,
    subscription_messages: Family<ResultLabels, Counter>,
}

impl Default for Series {
    fn default() -> Self {
        Self {
            operations: Family::default(),
            operation_seconds: Latency::new_with_constructor(operation_latency),
            operation_names: Arc::default(),
            errors: Family::default(),
            http_responses: Family::default(),
            statement_seconds: statement_latency(),
            statement_failures: Counter::default(),
            response_cache: Family::default(),
            persisted_queries: Family::default(),
            rate_limited: Family::default(),
            events_published: Family::default(),
            events_received: Counter::default(),
            subscription_messages: Family::default(),
        }
    }
}

/// Response cache lookups.
#[derive(Clone, Copy, Debug)]
pub enum CacheLookup {
    Hit,
    Miss,
    /// The cache could not be used (Redis away, or an invalidation not yet
    /// delivered).
    Bypassed,
}

/// What happened to a request's persisted query.
#[derive(Clone, Copy, Debug)]
pub enum PersistedQuery {
    /// Found by its hash.
    Hit,
    /// The hash is unknown: the client is asked for the text.
    Miss,
    /// The text came with its hash and was stored.
    Registered,
}

/// Which limit refused a request.
#[derive(Clone, Copy, Debug)]
pub enum Limit {
    Cost,
    Login,
}

impl Metrics {
    /// One GraphQL operation finished.
    pub fn operation(&self, name: Option<&str>, outcome: Outcome, elapsed: Duration) {
        let labels = OperationLabels {
            operation: self.operation_label(name),
            outcome,
        };
        self.0.operations.get_or_create(&labels).inc();
        self.0
            .operation_seconds
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    fn operation_label(&self, name: Option<&str>) -> Arc<str> {
        let Some(name) = name else {
            return Arc::from("(anonymous)");
        };
        // A label is kept in every scrape for the life of the process, so
        // neither its length nor the number of them may be the client's
        // choice: five 200 KB names made `/metrics` 20 MB.
        if name.len() > MAX_OPERATION_NAME_BYTES {
            return Arc::from("(long name)");
        }
        let mut names = lock(&self.0.operation_names);
        if let Some(known) = names.get(name) {
            return known.clone();
        }
        if names.len() >= MAX_OPERATION_NAMES {
            return Arc::from("(other)");
        }
        let name: Arc<str> = Arc::from(name);
        names.insert(name.clone());
        name
    }

    /// An error reached a client with `code`.
    pub fn error(&self, code: &str) {
        self.0
            .errors
            .get_or_create(&CodeLabels {
                code: code.to_owned(),
            })
            .inc();
    }

    /// An HTTP response was sent for `route` (the matched route pattern, so
    /// the label set stays bounded).
    pub fn http_response(&self, route: &'static str, status: u16) {
        self.0
            .http_responses
            .get_or_create(&HttpLabels { route, status })
            .inc();
    }

    /// A SQL statement ran.
    pub fn statement(&self, elapsed: Duration, failed: bool) {
        self.0.statement_seconds.observe(elapsed.as_secs_f64());
        if failed {
            self.0.statement_failures.inc();
        }
    }

    pub fn cache_lookup(&self, lookup: CacheLookup) {
        let result = match lookup {
            CacheLookup::Hit => "hit",
            CacheLookup::Miss => "miss",
            CacheLookup::Bypassed => "bypassed",
        };
        self.0
            .response_cache
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    pub fn persisted_query(&self, outcome: PersistedQuery) {
        let result = match outcome {
            PersistedQuery::Hit => "hit",
            PersistedQuery::Miss => "miss",
            PersistedQuery::Registered => "registered",
        };
        self.0
            .persisted_queries
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    pub fn rate_limited(&self, limit: Limit) {
        let limit = match limit {
            Limit::Cost => "cost",
            Limit::Login => "login",
        };
        self.0
            .rate_limited
            .get_or_create(&LimitLabels { limit })
            .inc();
    }

    /// This instance published an event (to every instance, with Redis).
    pub fn event_published(&self, event: &'static str) {
        self.0
            .events_published
            .get_or_create(&EventLabels { event })
            .inc();
    }

    /// An event published by some instance arrived through Redis.
    pub fn event_received(&self) {
        self.0.events_received.inc();
    }

    /// A subscription result was queued for a subscriber, or dropped
    /// because that subscriber stopped reading.
    pub fn subscription_message(&self, delivered: bool) {
        let result = if delivered { "delivered" } else { "dropped" };
        self.0
            .subscription_messages
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    /// The registry to scrape: these counters plus the levels read from
    /// `levels` at scrape time.
    pub fn exporter(&self, levels: Levels) -> Exporter {
        let mut registry = Registry::with_prefix("folio");
        registry.register(
            "graphql_operations",
            "GraphQL operations by operation name and outcome",
            self.0.operations.clone(),
        );
        registry.register_with_unit(
            "graphql_operation_duration",
            "Time to answer a GraphQL operation",
            Unit::Seconds,
            self.0.operation_seconds.clone(),
        );
        registry.register(
            "graphql_errors",
            "Errors in operation results, by extensions.code (requests refused before \
             parsing show in folio_http_responses_total)",
            self.0.errors.clone(),
        );
        registry.register(
            "http_responses",
            "HTTP responses by route and status",
            self.0.http_responses.clone(),
        );
        registry.register_with_unit(
            "db_statement_duration",
            "Time to run a SQL statement",
            Unit::Seconds,
            self.0.statement_seconds.clone(),
        );
        registry.register(
            "db_statement_failures",
            "SQL statements that failed",
            self.0.statement_failures.clone(),
        );
        registry.register(
            "response_cache_lookups",
            "Response cache lookups for anonymous queries, by result",
            self.0.response_cache.clone(),
        );
        registry.register(
            "persisted_queries",
            "Automatic persisted query lookups and registrations",
            self.0.persisted_queries.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused by a rate limit, by limit",
            self.0.rate_limited.clone(),
        );
        registry.register(
            "events_published",
            "Live-update events this instance published, by event",
            self.0.events_published.clone(),
        );
        registry.register(
            "events_received",
            "Live-update events received from Redis (from any instance)",
            self.0.events_received.clone(),
        );
        registry.register(
            "subscription_messages",
            "Subscription results queued for subscribers, or dropped for a stalled one",
            self.0.subscription_messages.clone(),
        );
        registry.register_collector(Box::new(levels));
        Exporter(Arc::new(registry))
    }
}

/// The owners of the levels reported at scrape time.
pub struct Levels {
    pub db: DatabaseConnection,
    pub db_max_connections: u32,
    pub statements: StatementCounter,
    pub redis: Option<RedisStore>,
    pub connections: TaskTracker,
    pub subscriptions: SharedSubscriptions,
}

impl std::fmt::Debug for Levels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Levels")
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

impl Collector for Levels {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        counter(
            &mut encoder,
            "db_statements",
            "SQL statements run",
            self.statements.get(),
        )?;
        let (size, idle) = match self.db.get_database_backend() {
            DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            DbBackend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
            _ => (0, 0),
        };
        let size = i64::from(size);
        let idle = i64::try_from(idle).unwrap_or(i64::MAX);
        let pool = ConstGauge::new(0i64);
        let mut family = encoder.encode_descriptor(
            "db_pool_connections",
            "Database pool connections by state",
            None,
            pool.metric_type(),
        )?;
        for (state, value) in [("in_use", size - idle), ("idle", idle)] {
            ConstGauge::new(value).encode(family.encode_family(&StateLabels { state })?)?;
        }
        gauge(
            &mut encoder,
            "db_pool_max_connections",
            "Largest size of the database pool",
            i64::from(self.db_max_connections),
        )?;
        if let Some(redis) = &self.redis {
            counter(
                &mut encoder,
                "redis_failures",
                "Redis commands that failed (the server carried on without Redis)",
                redis.failures(),
            )?;
        }
        gauge(
            &mut encoder,
            "websocket_connections",
            "Open WebSocket connections",
            i64::try_from(self.connections.len()).unwrap_or(i64::MAX),
        )?;
        let (running, subscribers) = self.subscriptions.counts();
        gauge(
            &mut encoder,
            "subscriptions",
            "Active subscriptions (one per subscriber)",
            i64::try_from(subscribers).unwrap_or(i64::MAX),
        )?;
        gauge(
            &mut encoder,
            "subscription_executions",
            "Running subscription executions, each shared by identical subscribers",
            i64::try_from(running).unwrap_or(i64::MAX),
        )
    }
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let counter = ConstCounter::new(value);
    counter.encode(encoder.encode_descriptor(name, help, None, counter.metric_type())?)
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
}

/// A server's metrics registry, ready to scrape.
#[derive(Clone)]
pub struct Exporter(Arc<Registry>);

impl Exporter {
    /// The exposition, in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut body = String::new();
        // Writing into a String cannot fail.
        let _ = text::encode(&mut body, &self.0);
        body
    }
}
