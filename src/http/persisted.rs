//! Automatic persisted queries, Apollo's protocol: a client sends
//! `extensions.persistedQuery { version: 1, sha256Hash }` and, the first
//! time, is told `PersistedQueryNotFound`; it then sends the query text with
//! the hash, which registers it. Later requests (over GET too, which caches
//! well) carry the hash alone.

use async_graphql::{Request, ServerError};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{cache::persisted_queries::PersistedQueries, graphql::errors, metrics::PersistedQuery};

#[derive(Deserialize)]
struct Extension {
    version: i32,
    #[serde(rename = "sha256Hash")]
    sha256_hash: String,
}

/// Why a persisted-query request could not be run.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    /// The hash is not registered (or expired): the client retries with
    /// the query text. Not a failure, so it is answered with 200.
    #[error("PersistedQueryNotFound")]
    NotFound,
    #[error("provided sha does not match query")]
    HashMismatch,
    #[error("the persistedQuery extension must be {{ version: 1, sha256Hash }}")]
    Malformed,
    /// Neither a query nor a persisted query's hash.
    #[error("a GraphQL request needs a non-empty `query` or a `persistedQuery` extension")]
    NoQuery,
}

impl Refusal {
    pub fn into_error(self) -> ServerError {
        let code = match self {
            Self::NotFound => errors::PERSISTED_QUERY_NOT_FOUND,
            Self::HashMismatch | Self::Malformed | Self::NoQuery => errors::BAD_USER_INPUT,
        };
        errors::coded(self.to_string(), code)
    }
}

/// Fills in `request`'s query from the store when it names a persisted one,
/// and registers the query it brings with its hash: which of the two
/// happened, if either. A request with neither is refused here too.
pub async fn resolve(
    store: &PersistedQueries,
    request: &mut Request,
) -> Result<Option<PersistedQuery>, Refusal> {
    let Some(extension) = request.extensions.remove("persistedQuery") else {
        return if request.query.trim().is_empty() {
            Err(Refusal::NoQuery)
        } else {
            Ok(None)
        };
    };
    let persisted: Extension =
        async_graphql::from_value(extension).map_err(|_| Refusal::Malformed)?;
    if persisted.version != 1 {
        return Err(Refusal::Malformed);
    }
    let hash = persisted.sha256_hash.to_ascii_lowercase();
    if hash.len() != 64 || !hash.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(Refusal::Malformed);
    }
    if request.query.is_empty() {
        let query = store.get(&hash).await.ok_or(Refusal::NotFound)?;
        request.query = query.to_string();
        return Ok(Some(PersistedQuery::Hit));
    }
    if format!("{:x}", Sha256::digest(request.query.as_bytes())) != hash {
        return Err(Refusal::HashMismatch);
    }
    store.put(&hash, &request.query).await;
    Ok(Some(PersistedQuery::Registered))
}
