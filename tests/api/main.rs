//! Integration tests through real HTTP against a server on a free port.
//! One test binary (faster to build); each test gets its own database.
//!
//! By default every test runs on a fresh SQLite file with no Redis. With
//! `FOLIO_TEST_DATABASE_URL=postgres://…` each test creates (and drops) its
//! own Postgres database; with `FOLIO_TEST_REDIS_URL` the server uses Redis
//! under a per-test key prefix.

mod accounts;
mod articles;
mod authority;
mod authorization;
mod binary;
mod client_errors;
mod comments;
mod concurrent_writers;
mod connections;
mod cost_side_doors;
mod database_faults;
mod events;
mod hardening;
mod helpers;
mod hostile_input;
mod http;
mod http_cache;
mod limits;
mod linear_analysis;
mod logs;
mod memory_bounds;
mod metrics;
mod migrations;
mod n_plus_one;
mod pagination;
mod persisted;
mod playground;
mod production;
mod rate_limits;
mod redis_faults;
mod response_cache;
mod schema;
mod search;
mod seed;
mod shutdown;
mod social;
mod subscriptions;
mod throttle;
