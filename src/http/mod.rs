//! HTTP endpoints around the schema.

pub mod auth;
pub mod body_limit;
pub mod caching;
pub mod cross_origin;
pub mod graphql;
pub mod health;
pub mod metrics;
pub mod multiplex;
pub mod outbox;
pub mod persisted;
pub mod playground;
pub mod request_log;
pub mod serve;
pub mod subscriptions;
pub mod timeout;
pub mod ws_messages;
