//! The GraphQL layer: thin types over the service layer.

mod batching;
mod connection;
mod context;
mod cost_limit;
pub mod dependencies;
mod documents;
mod engine;
pub mod errors;
mod inputs;
pub mod limits;
mod loaders;
mod mutation;
mod nulls;
mod query;
mod selections;
mod subscription;
mod text;
mod tokens;
mod types;

use async_graphql::{
    Request, Schema,
    parser::types::{OperationType, Selection},
};

pub use engine::{Caller, Engine};

pub use context::RequestData;
pub use limits::QueryLimits;
pub use loaders::PublicLoaders;
pub use mutation::MutationRoot;
pub use query::QueryRoot;
pub use subscription::SubscriptionRoot;
pub use tokens::DEFAULT_MAX_TOKENS;

pub type FolioSchema = Schema<QueryRoot, dependencies::Mutations, SubscriptionRoot>;

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Engine::new(None, QueryLimits::default(), true).sdl()
}

/// The type of the operation `request` runs; `None` when it does not parse
/// (execution then reports why).
pub fn operation_type(request: &mut Request) -> Option<OperationType> {
    operation(request).map(|(_, ty)| ty)
}

/// Whether the operation `request` runs is a mutation made only of fields
/// that need no viewer (`login`, `register`, `refreshSession`, `logout`):
/// an expired access token sent along with it (as the usual token-refresh
/// recipes of urql and Apollo do) need not stop it.
pub fn needs_no_viewer(request: &mut Request) -> bool {
    const FIELDS: [&str; 4] = ["login", "register", "refreshSession", "logout"];
    let name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return false;
    };
    let Some(operation) = selections::operation(document, name.as_deref()) else {
        return false;
    };
    let root = &operation.node.selection_set.node.items;
    operation.node.ty == OperationType::Mutation
        && !root.is_empty()
        && root.iter().all(|item| {
            matches!(&item.node, Selection::Field(field)
                if FIELDS.contains(&field.node.name.node.as_str()))
        })
}

/// The name of the operation `request` runs, if it has one.
pub fn operation_name(request: &mut Request) -> Option<String> {
    operation(request).and_then(|(name, _)| name)
}

fn operation(request: &mut Request) -> Option<(Option<String>, OperationType)> {
    let operation_name = request.operation_name.clone();
    let document = request.parsed_query().ok()?;
    let (name, operation) = selections::named_operation(document, operation_name.as_deref())?;
    Some((name.map(str::to_owned), operation.node.ty))
}
