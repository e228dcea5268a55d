//! `GET` and `POST /graphql`: authenticate, attach per-request data, execute.

use async_graphql::{
    BatchRequest, BatchResponse, CacheControl, ParseRequestError, Request, Response, ServerError,
    parser::types::OperationType,
};
use async_graphql_axum::{GraphQLBatchRequest, rejection::GraphQLRejection};
use futures_util::future::join_all;
use sha2::{Digest, Sha256};
use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Instant,
};

use axum::{
    extract::{ConnectInfo, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response as HttpResponse},
};

use crate::{
    app::{AppState, HttpState},
    graphql::{
        Caller, RequestData, dependencies::DependencyRecorder, errors, needs_no_viewer,
        operation_name, operation_type,
    },
    http::{
        auth::{self, AuthError, Credential},
        caching, cross_origin, persisted, request_log,
    },
    metrics::{CacheLookup, Outcome, PersistedQuery},
};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

pub async fn handle(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    request: Result<GraphQLBatchRequest, GraphQLRejection>,
) -> HttpResponse {
    let started = Instant::now();
    // A POST carries JSON and says so (GraphQL over HTTP), which also keeps
    // out the form and text posts browsers send cross-site without asking
    // (see `cross_origin`).
    if method == Method::POST
        && !is_json(&headers)
        && (state.csrf_prevention || !cross_origin::is_simple_content_type(&headers))
    {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a POST must carry Content-Type: application/json",
            errors::BAD_USER_INPUT,
        );
    }
    let request = match request {
        Ok(request) => request,
        Err(GraphQLRejection(ParseRequestError::PayloadTooLarge)) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                TOO_LARGE,
                errors::BAD_USER_INPUT,
            );
        }
        Err(GraphQLRejection(err)) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                &format!("the request is not a GraphQL request: {err}"),
                errors::BAD_USER_INPUT,
            );
        }
    };
    let client = client_address(&state.app, peer, &headers);
    // A bad or expired token is refused once the operations are known:
    // signing in or refreshing with a stale token still attached works.
    let (credential, stale) = match authenticate(&state.app, &headers).await {
        Ok(credential) => (credential, None),
        Err(rejection) if rejection.status() == StatusCode::UNAUTHORIZED => (None, Some(rejection)),
        Err(rejection) => return rejection,
    };
    let viewer = credential.map(|credential| credential.viewer);
    let session = credential.map(|credential| credential.session_id);
    let (requests, batched) = match request.into_inner() {
        BatchRequest::Single(request) => (vec![request], false),
        BatchRequest::Batch(requests) => (requests, true),
    };
    if requests.len() > state.max_batch {
        return error_response(
            StatusCode::BAD_REQUEST,
            &format!(
                "a batch may hold at most {} operations (this one holds {})",
                state.max_batch,
                requests.len()
            ),
            errors::BAD_USER_INPUT,
        );
    }
    let metrics = &state.app.metrics;
    let mut runnable = Vec::with_capacity(requests.len());
    for mut request in requests {
        let resolved = persisted::resolve(&state.app.persisted, &mut request).await;
        match resolved {
            Ok(Some(outcome)) => metrics.persisted_query(outcome),
            Err(persisted::Refusal::NotFound) => metrics.persisted_query(PersistedQuery::Miss),
            Ok(None) | Err(_) => {}
        }
        let attached = match resolved {
            Ok(_) => state
                .engine
                .attach(&mut request)
                .map_err(Unrunnable::Refused),
            Err(refusal) => Err(Unrunnable::Persisted(refusal)),
        };
        runnable.push(attached.map(|()| request));
    }
    if let Some(rejection) = stale
        && !runnable
            .iter_mut()
            .all(|request| request.as_mut().is_ok_and(needs_no_viewer))
    {
        return rejection;
    }
    let names: Vec<Option<String>> = runnable
        .iter_mut()
        .map(|request| request.as_mut().ok().and_then(operation_name))
        .collect();
    request_log::record_operations(&names);
    if let ([Err(Unrunnable::Persisted(refusal))], false) = (runnable.as_slice(), batched) {
        metrics.operation(None, Outcome::rejected, started.elapsed());
        return persisted_query_refusal(*refusal);
    }
    // GET must not change anything: GET requests can be triggered cross-site
    // and are cached by intermediaries.
    if method == Method::GET && runnable.iter_mut().flatten().any(is_mutation) {
        let mut response = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations are only accepted over POST",
            errors::BAD_USER_INPUT,
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let kind = caching::Request {
        get: method == Method::GET,
        anonymous: viewer.is_none(),
    };
    if let ([Ok(request)], false, None) = (runnable.as_mut_slice(), batched, viewer)
        && state.app.responses.is_on()
        && operation_type(request) == Some(OperationType::Query)
        && let Some(Ok(request)) = runnable.pop()
    {
        let (response, outcome) = through_cache(&state, &headers, kind, client, request).await;
        metrics.operation(names[0].as_deref(), outcome, started.elapsed());
        return response;
    }
    let mut responses = join_all(
        runnable
            .into_iter()
            .zip(&names)
            .map(|(request, name)| async {
                let response = match request {
                    Ok(request) => {
                        let caller = Caller {
                            viewer,
                            session,
                            client,
                        };
                        let request = with_data(&state.app, caller, request);
                        state.engine.execute(request, caller).await
                    }
                    Err(Unrunnable::Persisted(refusal)) => {
                        Response::from_errors(vec![refusal.into_error()])
                    }
                    Err(Unrunnable::Refused(error)) => Response::from_errors(vec![error]),
                };
                metrics.operation(name.as_deref(), outcome(&response), started.elapsed());
                response
            }),
    )
    .await;
    let response = match (batched, responses.pop()) {
        (false, Some(single)) => BatchResponse::Single(single),
        (_, last) => {
            responses.extend(last);
            BatchResponse::Batch(responses)
        }
    };
    let prepared = prepare(&headers, kind, &response, state.max_response_bytes);
    send(&headers, kind, prepared)
}

/// Why an operation of the request cannot run at all.
enum Unrunnable {
    /// It names a persisted query that cannot be used.
    Persisted(persisted::Refusal),
    /// Its text was refused before parsing.
    Refused(ServerError),
}

/// An anonymous query: served from the shared cache when an entry is
/// current, otherwise run and, if all its fields are public, stored.
async fn through_cache(
    state: &HttpState,
    headers: &HeaderMap,
    kind: caching::Request,
    client: Option<IpAddr>,
    request: Request,
) -> (HttpResponse, Outcome) {
    let cache = &state.app.responses;
    let key = response_key(&request);
    let lookup = cache.lookup(&key).await;
    state
        .app
        .metrics
        .cache_lookup(match (&lookup.hit, &lookup.generations) {
            (Some(_), _) => CacheLookup::Hit,
            (None, Some(_)) => CacheLookup::Miss,
            (None, None) => CacheLookup::Bypassed,
        });
    if let Some(hit) = lookup.hit {
        let hints = CacheControl {
            public: true,
            max_age: i32::try_from(hit.max_age).unwrap_or(i32::MAX),
        };
        let response = send(
            headers,
            kind,
            Prepared {
                status: StatusCode::OK,
                content_type: content_type(headers),
                cache_control: caching::for_hints(kind, hints, false),
                extra_headers: HeaderMap::new(),
                body: hit.body,
            },
        );
        // Only responses without errors are stored.
        return (response, Outcome::ok);
    }
    // The generations were read before running, so a write that commits
    // meanwhile leaves this entry stale rather than passing for newer.
    let recorder = Arc::new(DependencyRecorder::default());
    let caller = Caller {
        viewer: None,
        session: None,
        client,
    };
    let mut request = with_data(&state.app, caller, request).data(recorder.clone());
    let kinds = state.engine.kinds_read(&mut request);
    let single = state.engine.execute(request, caller).await;
    let outcome = outcome(&single);
    let response = BatchResponse::Single(single);
    let prepared = prepare(headers, kind, &response, state.max_response_bytes);
    if let (BatchResponse::Single(single), Some(generations)) = (&response, lookup.generations)
        && single.errors.is_empty()
        && single.cache_control.public
        && let Ok(max_age @ 1..) = u32::try_from(single.cache_control.max_age)
    {
        cache
            .put(
                &key,
                generations,
                &recorder.reads(kinds),
                max_age,
                prepared.body.clone(),
            )
            .await;
    }
    (send(headers, kind, prepared), outcome)
}

/// What identifies an operation's response: its text, name and variables.
fn response_key(request: &Request) -> String {
    let identity = serde_json::json!([request.query, request.operation_name, request.variables]);
    format!("{:x}", Sha256::digest(identity.to_string().as_bytes()))
}

/// A request that names no runnable query, answered as Apollo Server does:
/// a persisted query "not found" is a 200 the client reacts to by sending
/// the query, never cached; a bad hash or extension, or no query at all, is
/// a 400.
fn persisted_query_refusal(refusal: persisted::Refusal) -> HttpResponse {
    let status = match refusal {
        persisted::Refusal::NotFound => StatusCode::OK,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = failure(status, refusal.into_error());
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache, must-revalidate"),
    );
    response
}

fn with_data(state: &AppState, caller: Caller, request: Request) -> Request {
    request.data(RequestData::new(state, caller))
}

/// The client's address: the TCP peer, or behind a trusted proxy the last
/// `X-Forwarded-For` hop, which that proxy appended (earlier hops are
/// whatever the client chose to send).
fn client_address(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> Option<IpAddr> {
    if !state.trust_forwarded_for {
        return Some(peer.ip());
    }
    let last_hop = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .next_back();
    // A last hop that is not an address is not trusted to name anyone.
    last_hop
        .and_then(|hop| hop.trim().parse().ok())
        .or(Some(peer.ip()))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

fn is_mutation(request: &mut Request) -> bool {
    operation_type(request).is_some_and(|ty| ty != OperationType::Query)
}

/// The viewer named by `Authorization: Bearer …`. No header means anonymous;
/// a header with a bad or expired token is refused outright (401) so the
/// client knows to refresh instead of silently getting anonymous answers.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Credential>, HttpResponse> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or_default();
    match auth::viewer_from_bearer(state, value).await {
        Ok(credential) => Ok(Some(credential)),
        Err(AuthError::Internal) => Err(error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error",
            errors::INTERNAL_SERVER_ERROR,
        )),
        Err(err @ AuthError::Unavailable) => {
            let mut response = error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &err.to_string(),
                errors::SERVICE_UNAVAILABLE,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Err(response)
        }
        Err(err) => {
            let mut response = error_response(
                StatusCode::UNAUTHORIZED,
                &err.to_string(),
                errors::UNAUTHENTICATED,
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            Err(response)
        }
    }
}

/// A body refused for its size before any handler read it (its
/// `Content-Length` is over the limit) gets the same JSON error as one
/// found too large while reading.
pub async fn explain_too_large(response: HttpResponse) -> HttpResponse {
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE
        || response.headers().contains_key(header::CONTENT_TYPE)
            && response.headers()[header::CONTENT_TYPE] == "application/json"
    {
        return response;
    }
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        TOO_LARGE,
        errors::BAD_USER_INPUT,
    )
}

pub const TOO_LARGE: &str = "the request body is too large";

/// A response carrying only an error with `code`, and that code in the log.
pub fn error_response(status: StatusCode, message: &str, code: &'static str) -> HttpResponse {
    request_log::record_error_codes(&[code]);
    failure(status, errors::coded(message, code))
}

/// A response carrying only `error`.
fn failure(status: StatusCode, error: ServerError) -> HttpResponse {
    let body = Response::from_errors(vec![error]);
    (status, json(&body)).into_response()
}

fn json(body: &impl serde::Serialize) -> ([(header::HeaderName, &'static str); 1], String) {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned()),
    )
}

/// A response about to be sent.
struct Prepared {
    status: StatusCode,
    content_type: &'static str,
    cache_control: String,
    extra_headers: HeaderMap,
    body: String,
}

/// Every answer of `/graphql` in the media type the client accepts,
/// refusals made before GraphQL (401, 405, 413, 415, a timeout's 503)
/// included: Apollo Client reads the errors of a non-2xx answer only from
/// `application/graphql-response+json`, and otherwise cannot see the
/// `UNAUTHENTICATED` its token-refresh recipe waits for.
pub async fn negotiate(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> HttpResponse {
    let wanted = request.uri().path() == "/graphql"
        && content_type(request.headers()) == GRAPHQL_RESPONSE_JSON;
    let mut response = next.run(request).await;
    let plain_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value == "application/json");
    if wanted && plain_json {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(GRAPHQL_RESPONSE_JSON),
        );
    }
    response
}

fn content_type(headers: &HeaderMap) -> &'static str {
    let wants_graphql_json = headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains(GRAPHQL_RESPONSE_JSON));
    if wants_graphql_json {
        GRAPHQL_RESPONSE_JSON
    } else {
        "application/json"
    }
}

/// Serializes the response in the media type the client asked for. With
/// `application/graphql-response+json`, a request that failed before
/// execution (no `data`) is a 400, as GraphQL over HTTP specifies.
fn prepare(
    headers: &HeaderMap,
    kind: caching::Request,
    response: &BatchResponse,
    limit: usize,
) -> Prepared {
    let body = serialize(response);
    if body.len() > limit {
        let refusal = || Response::from_errors(vec![errors::too_large(body.len(), limit)]);
        let refused = match response {
            BatchResponse::Single(_) => BatchResponse::Single(refusal()),
            BatchResponse::Batch(responses) => {
                BatchResponse::Batch(responses.iter().map(|_| refusal()).collect())
            }
        };
        let body = serialize(&refused);
        return prepared(headers, kind, &refused, body);
    }
    prepared(headers, kind, response, body)
}

/// `response`, serialized as `body`, with its status and headers.
fn prepared(
    headers: &HeaderMap,
    kind: caching::Request,
    response: &BatchResponse,
    body: String,
) -> Prepared {
    let content_type = content_type(headers);
    let codes: Vec<&str> = match response {
        BatchResponse::Single(single) => std::slice::from_ref(single),
        BatchResponse::Batch(responses) => responses.as_slice(),
    }
    .iter()
    .flat_map(|single| &single.errors)
    .filter_map(errors::code)
    .collect();
    request_log::record_error_codes(&codes);
    let extra_headers = match response {
        BatchResponse::Single(single) => single.http_headers.clone(),
        // One value per header: the longest `Retry-After`, and otherwise
        // the last operation's (its budget is the most current).
        BatchResponse::Batch(responses) => {
            let seconds = |value: &HeaderValue| value.to_str().ok()?.parse::<u64>().ok();
            let mut merged = HeaderMap::new();
            for (name, value) in responses.iter().flat_map(|r| r.http_headers.iter()) {
                let shorter = name == header::RETRY_AFTER
                    && merged
                        .get(name)
                        .is_some_and(|kept| seconds(kept) >= seconds(value));
                if !shorter {
                    merged.insert(name, value.clone());
                }
            }
            merged
        }
    };
    let status = match response {
        // Refused for its cost before anything ran: an HTTP-level refusal,
        // which clients and proxies know to back off from.
        BatchResponse::Single(single)
            if failed_before_execution(single) && rate_limited(single) =>
        {
            StatusCode::TOO_MANY_REQUESTS
        }
        BatchResponse::Single(single)
            if content_type == GRAPHQL_RESPONSE_JSON && failed_before_execution(single) =>
        {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::OK,
    };
    Prepared {
        status,
        content_type,
        cache_control: caching::cache_control(kind, response),
        extra_headers,
        body,
    }
}

/// The response body. A response refused before execution has no `data`
/// entry at all (the GraphQL spec's "data is not present"), which
/// async-graphql would write as `"data": null`.
fn serialize(response: &BatchResponse) -> String {
    let refused = |single: &Response| {
        let mut value = serde_json::to_value(single).unwrap_or_default();
        if let Some(fields) = value.as_object_mut() {
            fields.remove("data");
        }
        value
    };
    let body = match response {
        BatchResponse::Single(single) if failed_before_execution(single) => {
            serde_json::to_string(&refused(single))
        }
        BatchResponse::Batch(responses) if responses.iter().any(failed_before_execution) => {
            let each: Vec<serde_json::Value> = responses
                .iter()
                .map(|single| {
                    if failed_before_execution(single) {
                        refused(single)
                    } else {
                        serde_json::to_value(single).unwrap_or_default()
                    }
                })
                .collect();
            serde_json::to_string(&each)
        }
        _ => serde_json::to_string(response),
    };
    body.unwrap_or_else(|_| "{}".to_owned())
}

fn outcome(response: &Response) -> Outcome {
    if failed_before_execution(response) {
        Outcome::rejected
    } else if response.errors.is_empty() {
        Outcome::ok
    } else {
        Outcome::error
    }
}

/// No execution started: the request was refused before any resolver ran
/// (execution errors always carry the path of their field).
fn failed_before_execution(response: &Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

fn rate_limited(response: &Response) -> bool {
    response
        .errors
        .iter()
        .any(|error| errors::code(error) == Some(errors::RATE_LIMITED))
}

/// Sends `prepared`. GET responses carry an `ETag`, and a matching
/// `If-None-Match` gets a 304.
fn send(headers: &HeaderMap, kind: caching::Request, prepared: Prepared) -> HttpResponse {
    let Prepared {
        status,
        content_type,
        cache_control,
        extra_headers,
        body,
    } = prepared;
    let mut cache_headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&cache_control) {
        cache_headers.insert(header::CACHE_CONTROL, value);
    }
    if kind.get && status == StatusCode::OK {
        let etag = caching::etag(&body);
        cache_headers.insert(
            header::VARY,
            HeaderValue::from_static("Authorization, Accept"),
        );
        if caching::not_modified(headers, &etag) {
            cache_headers.insert(header::ETAG, etag);
            return (StatusCode::NOT_MODIFIED, cache_headers).into_response();
        }
        cache_headers.insert(header::ETAG, etag);
    }
    (
        status,
        extra_headers,
        cache_headers,
        [(header::CONTENT_TYPE, content_type)],
        body,
    )
        .into_response()
}
