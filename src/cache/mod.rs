//! What Folio keeps outside the database: in Redis when it is configured, so
//! every instance sees the same state, and in process otherwise.

pub mod counters;
pub mod persisted_queries;
pub mod responses;
pub mod store;

pub use counters::{Counters, Window};
pub use store::{RedisStore, StoreError};
