//! HTTP endpoints around the schema.

pub mod auth;
pub mod caching;
pub mod graphql;
pub mod health;
pub mod multiplex;
pub mod outbox;
pub mod persisted;
pub mod playground;
pub mod request_log;
pub mod subscriptions;
