//! HTTP endpoints around the schema.

pub mod graphql;
pub mod health;
pub mod playground;
