//! Runs operations: the schema, plus what surrounds every run over HTTP and
//! WebSocket alike. Before: the document's shape and cost are checked and
//! the cost charged to the caller's budget. After: failed fields become
//! nulls and every error gets its code. The schema itself has no
//! extension, so async-graphql resolves fields without a hook on each.

use std::{net::IpAddr, sync::Arc};

use async_graphql::{
    Data, Request, Response, ServerError, Variables,
    futures_util::{
        future::ready,
        stream::{self, BoxStream, StreamExt},
    },
    parser::{parse_query, types::ExecutableDocument},
};

use super::{
    FolioSchema, MutationRoot, QueryRoot, SubscriptionRoot, batching, cost_limit,
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
    /// The session the viewer's token belongs to.
    pub session: Option<i64>,
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
            // "Did you mean …" would spell out what introspection hides.
            builder = builder.disable_introspection().disable_suggestions();
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
    /// thing, before anything reads the operation (its type, its name),
    /// and answer with the error when the text has too many tokens to be
    /// parsed at all.
    pub fn attach(&self, request: &mut Request) -> Result<(), ServerError> {
        self.documents.attach(request, self.limits.tokens)
    }

    pub fn sdl(&self) -> String {
        self.schema.sdl()
    }

    /// Runs a query or mutation, its document attached (`attach`).
    pub async fn execute(&self, mut request: Request, caller: Caller) -> Response {
        let budget = match self.admit(&mut request, caller).await {
            Ok((budget, _)) => budget,
            Err(refusal) => return self.finish(*refusal, None),
        };
        let ran = Ran::take(&mut request);
        let mut response = batching::settled(self.schema.execute(request)).await;
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
                Ok((_, cost)) => {
                    let ran = Ran::take(&mut request);
                    let responses = batching::settled(
                        engine
                            .schema
                            .execute_stream_with_session_data(request, session_data),
                    );
                    let charging = engine.clone();
                    // Admission paid for the first response; every later
                    // one (a subscription's events) costs the subscriber
                    // as much again, so many subscriptions started cheaply
                    // cannot turn someone else's write into unbounded work.
                    // Past the budget the subscription ends with the
                    // refusal.
                    responses
                        .enumerate()
                        .then(move |(index, response)| {
                            let engine = charging.clone();
                            async move {
                                if index == 0 {
                                    return (response, true);
                                }
                                match engine.charge_event(caller, cost).await {
                                    Ok(()) => (response, true),
                                    Err(refusal) => (*refusal, false),
                                }
                            }
                        })
                        .scan(true, |going, (response, goes_on)| {
                            let next = going.then_some(response);
                            *going = goes_on;
                            ready(next)
                        })
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

    /// Charges one more event of a running subscription that costs `cost`.
    async fn charge_event(&self, caller: Caller, cost: usize) -> Result<(), Box<Response>> {
        let Some(state) = &self.state else {
            return Ok(());
        };
        match cost_limit::charge(state, caller, cost).await {
            (_, Ok(())) => Ok(()),
            (budget, Err(error)) => {
                let mut response = Response::from_errors(vec![error]);
                cost_limit::report(budget, &mut response);
                Err(Box::new(response))
            }
        }
    }

    /// Checks the document and charges its cost, before anything runs: the
    /// budget to report and the cost, or the response refusing the request.
    async fn admit(
        &self,
        request: &mut Request,
        caller: Caller,
    ) -> Result<(Option<Budget>, usize), Box<Response>> {
        // Capped at the complexity limit, so every document the body limit
        // admits can fit a budget (which is at least that limit).
        let reading = text_cost(&request.query).min(self.limits.complexity);
        let checked = self.check(request);
        let Some(state) = &self.state else {
            return checked
                .map(|cost| (None, cost))
                .map_err(|error| Box::new(Response::from_errors(vec![error])));
        };
        let cost = match checked {
            Ok(cost) => cost.max(reading),
            Err(error) => {
                // Reading a document is work whether or not it passes, so a
                // refused one is charged for its text: a client cannot send
                // megabytes of hostile documents for the price of one query.
                let (budget, _) = cost_limit::charge(state, caller, reading).await;
                let mut response = Response::from_errors(vec![error]);
                cost_limit::report(budget, &mut response);
                return Err(Box::new(response));
            }
        };
        match cost_limit::charge(state, caller, cost).await {
            (budget, Ok(())) => Ok((budget, cost)),
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

/// What parsing and checking a document's text costs against the budgets:
/// reading a kibibyte takes about as long as resolving a hundred fields,
/// so a query is charged the larger of its complexity and this.
fn text_cost(query: &str) -> usize {
    const PER_KIB: usize = 100;
    query.len().saturating_mul(PER_KIB) / 1024
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
