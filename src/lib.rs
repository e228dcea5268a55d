//! Folio: a GraphQL API server for a publishing platform.

pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod graphql;
pub mod http;
mod locks;
pub mod metrics;
pub mod policy;
pub mod services;

pub use app::Application;
pub mod cache;
pub mod events;
pub mod seed;
