//! Runs operations: the schema, plus what surrounds every run over HTTP and
//! WebSocket alike. Before: the document's shape and cost are checked and
//! the cost charged to the caller's budget. After: failed fields become
//! nulls and every error gets its code. The schema itself has no
//! extension, so async-graphql resolves fields without a hook on each.

use std::{net::IpAddr, sync::Arc};

use async_graphql::{
    Data, Request, Response, ServerError, Variables,
    futures_util::stream::{self, BoxStream, StreamExt},
    parser::{parse_query, types::ExecutableDocument},
};

use super::{
    FolioSchema, MutationRoot, QueryRoot, SubscriptionRoot, cost_limit,
    dependencies::{self, Mutations},
    documents::ParsedDocuments,
    errors, limits, nulls,
    selections::{self, SchemaTypes},
    text,
};
use crate::{
    app::AppState, cache::responses::Dependencies, policy::Viewer, services::cost_limits::Budget,
};

/// Who runs an operation, for charging its cost.
#[derive(Clone, Copy, Default)]
pub struct Caller {
    pub viewer: Option<Viewer>,
    pub client: Option<IpAddr>,
}

#[derive(Clone)]
pub struct Engine {
    schema: FolioSchema,
    types: Arc<SchemaTypes>,
    limits: limits::QueryLimits,
    state: Option<AppState>,
    documents: ParsedDocuments,
}

impl Engine {
    /// `state` is shared by every request; per-request data (viewer,
    /// loaders) comes with each request.
    pub fn new(state: Option<AppState>, limits: limits::QueryLimits, introspection: bool) -> Self {
        let mut builder =
            async_graphql::Schema::build(QueryRoot, Mutations(MutationRoot), SubscriptionRoot)
                .limit_depth(limits.depth);
        if let Some(state) = &state {
            builder = builder.data(state.clone());
        }
        if !introspection {
            builder = builder.disable_introspection();
        }
        let schema = builder.finish();
        Self {
            types: Arc::new(SchemaTypes::from_sdl(&schema.sdl())),
            schema,
            limits,
            state,
            documents: ParsedDocuments::default(),
        }
    }

    /// Gives `request` its parsed document, kept from an earlier request
    /// with the same text when there was one. Callers attach it first
    /// thing, before anything reads the operation (its type, its name).
    pub fn attach(&self, request: &mut Request) {
        self.documents.attach(request);
    }

    pub fn sdl(&self) -> String {
        self.schema.sdl()
    }

    /// Runs a query or mutation, its document attached (`attach`).
    pub async fn execute(&self, mut request: Request, caller: Caller) -> Response {
        let budget = match self.admit(&mut request, caller).await {
            Ok(budget) => budget,
            Err(refusal) => return self.finish(*refusal, None),
        };
        let ran = Ran::take(&mut request);
        let mut response = self.schema.execute(request).await;
        cost_limit::report(budget, &mut response);
        self.finish(response, Some(&ran))
    }

    /// Runs any operation as a stream of responses (a subscription's
    /// events, or the one response of a query or mutation over WebSocket),
    /// its document attached (`attach`).
    pub fn execute_stream(
        &self,
        mut request: Request,
        session_data: Arc<Data>,
        caller: Caller,
    ) -> BoxStream<'static, Response> {
        let engine = self.clone();
        stream::once(async move {
            match engine.admit(&mut request, caller).await {
                Ok(_) => {
                    let ran = Ran::take(&mut request);
                    let responses = engine
                        .schema
                        .execute_stream_with_session_data(request, session_data);
                    responses
                        .map(move |response| engine.finish(response, Some(&ran)))
                        .boxed()
                }
                Err(refusal) => stream::once(async move { engine.finish(*refusal, None) }).boxed(),
            }
        })
        .flatten()
        .boxed()
    }

    /// The kinds of data the operation `request` runs reads.
    pub fn kinds_read(&self, request: &mut Request) -> Dependencies {
        let name = request.operation_name.clone();
        let Ok(document) = request.parsed_query() else {
            return Dependencies::ALL;
        };
        selections::operation(document, name.as_deref()).map_or(Dependencies::ALL, |operation| {
            dependencies::kinds_read(document, &operation.node, &self.types)
        })
    }

    /// Parses the request's document and checks its shape and cost, as
    /// [`execute`](Self::execute) does first, without charging or running
    /// anything: the cost, or the error refusing the request.
    pub fn check(&self, request: &mut Request) -> Result<usize, ServerError> {
        let name = request.operation_name.clone();
        let variables = std::mem::take(&mut request.variables);
        let cost = match request.parsed_query() {
            Err(error) => Err(errors::parse_failed(error)),
            Ok(document) => text::check(document, &variables)
                .and_then(|()| self.cost(document, name.as_deref(), &variables)),
        };
        request.variables = variables;
        cost
    }

    /// Checks the document and charges its cost, before anything runs: the
    /// budget to report, or the response refusing the request.
    async fn admit(
        &self,
        request: &mut Request,
        caller: Caller,
    ) -> Result<Option<Budget>, Box<Response>> {
        let cost = match self.check(request) {
            Ok(cost) => cost,
            Err(error) => return Err(Box::new(Response::from_errors(vec![error]))),
        };
        let Some(state) = &self.state else {
            return Ok(None);
        };
        match cost_limit::charge(state, caller, cost).await {
            (budget, Ok(())) => Ok(budget),
            (budget, Err(error)) => {
                let mut response = Response::from_errors(vec![error]);
                cost_limit::report(budget, &mut response);
                Err(Box::new(response))
            }
        }
    }

    fn cost(
        &self,
        document: &ExecutableDocument,
        name: Option<&str>,
        variables: &Variables,
    ) -> Result<usize, ServerError> {
        limits::check_shape(document, &self.limits)?;
        // An operation that is not there is reported by execution.
        let Some(operation) = selections::operation(document, name) else {
            return Ok(0);
        };
        limits::cost(
            document,
            &operation.node,
            variables,
            &self.types,
            &self.limits,
        )
    }

    fn finish(&self, mut response: Response, ran: Option<&Ran>) -> Response {
        errors::validation_failed(&mut response);
        if let Some(ran) = ran
            && response.errors.iter().any(|error| !error.path.is_empty())
        {
            let document = self
                .documents
                .get(&ran.query)
                .or_else(|| parse_query(&ran.query).ok().map(Arc::new));
            if let Some(document) = &document
                && let Some(operation) = selections::operation(document, ran.operation.as_deref())
            {
                nulls::fill(
                    &mut response.data,
                    &response.errors,
                    document,
                    &operation.node,
                    &self.types,
                );
            }
        }
        let metrics = self.state.as_ref().map(|state| &state.metrics);
        errors::finish(response, metrics)
    }
}

/// What is needed of a request after it ran.
struct Ran {
    query: String,
    operation: Option<String>,
}

impl Ran {
    /// Takes the text out of an admitted request: its document is parsed
    /// and attached, and async-graphql reads the text only to parse it.
    fn take(request: &mut Request) -> Self {
        Self {
            query: std::mem::take(&mut request.query),
            operation: request.operation_name.clone(),
        }
    }
}
