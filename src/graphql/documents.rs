//! Parsed operations, kept by their text. Clients send the same few
//! operations over and over (Apollo Client sends each query's text
//! unchanged), and parsing one is a tenth of the CPU a small query costs;
//! copying a parsed document is a fraction of parsing it. Apollo Server
//! keeps the same kind of cache.

use std::sync::Arc;

use async_graphql::{Request, ServerError, parser::types::ExecutableDocument};
use moka::sync::Cache;

/// How much query text the cache holds: a bound on its memory, since a
/// document takes a small multiple of its text.
const CAPACITY_BYTES: u64 = 8 * 1024 * 1024;

#[derive(Clone)]
pub struct ParsedDocuments(Cache<Arc<str>, Arc<ExecutableDocument>>);

impl Default for ParsedDocuments {
    fn default() -> Self {
        Self(
            Cache::builder()
                .max_capacity(CAPACITY_BYTES)
                .weigher(|query: &Arc<str>, _| u32::try_from(query.len()).unwrap_or(u32::MAX))
                .build(),
        )
    }
}

impl ParsedDocuments {
    /// The document kept for `query`.
    pub fn get(&self, query: &str) -> Option<Arc<ExecutableDocument>> {
        self.0.get(query)
    }

    /// Gives `request` its parsed document: the kept one, or a fresh parse
    /// that is kept. A text of more than `max_tokens` tokens is refused
    /// unparsed; a query that does not parse is left for execution to
    /// report, and not kept.
    pub fn attach(&self, request: &mut Request, max_tokens: usize) -> Result<(), ServerError> {
        if let Some(document) = self.0.get(request.query.as_str()) {
            request.set_parsed_query(ExecutableDocument::clone(&document));
            return Ok(());
        }
        super::tokens::check(&request.query, max_tokens)?;
        if let Ok(document) = request.parsed_query() {
            let document = Arc::new(document.clone());
            self.0.insert(Arc::from(request.query.as_str()), document);
        }
        Ok(())
    }
}
