//! The GraphQL layer: thin types over the service layer.

mod connection;
mod context;
mod cost_limit;
pub mod dependencies;
pub mod documents;
pub mod errors;
mod hooks;
mod inputs;
pub mod limits;
mod loaders;
mod mutation;
mod prefetch;
mod query;
mod subscription;
mod types;

use async_graphql::{Request, Schema, parser::types::OperationType};

pub use context::RequestData;
pub use limits::QueryLimits;
pub use loaders::PublicLoaders;
pub use mutation::MutationRoot;
pub use query::QueryRoot;
pub use subscription::SubscriptionRoot;

use crate::app::AppState;

pub type FolioSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Builds the schema. `state` is shared by every request; per-request data
/// (viewer, loaders) is attached by the HTTP handler.
pub fn build_schema(
    state: Option<AppState>,
    limits: QueryLimits,
    introspection: bool,
) -> FolioSchema {
    let mut builder = Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .extension(hooks::Hooks(limits))
        .limit_depth(limits.depth)
        .limit_complexity(limits.complexity);
    if let Some(state) = state {
        builder = builder.data(state);
    }
    if !introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    build_schema(None, QueryLimits::default(), true).sdl()
}

/// The type of the operation `request` runs; `None` when it does not parse
/// (execution then reports why).
pub fn operation_type(request: &mut Request) -> Option<OperationType> {
    operation(request).map(|(_, ty)| ty)
}

/// The name of the operation `request` runs, if it has one.
pub fn operation_name(request: &mut Request) -> Option<String> {
    operation(request).and_then(|(name, _)| name)
}

fn operation(request: &mut Request) -> Option<(Option<String>, OperationType)> {
    let operation_name = request.operation_name.clone();
    let document = request.parsed_query().ok()?;
    let (name, operation) = match &operation_name {
        Some(name) => document
            .operations
            .iter()
            .find(|(op_name, _)| op_name.is_some_and(|op| op.as_str() == name)),
        None => document.operations.iter().next(),
    }?;
    Some((name.map(|name| name.to_string()), operation.node.ty))
}
