//! The request decoder: any body is decoded as a GraphQL request (or a
//! batch) or refused, and each request's document is parsed and checked
//! for shape and cost as the engine does before running it. Nothing panics
//! and nothing takes unbounded time.
#![no_main]

use std::sync::LazyLock;

use async_graphql::BatchRequest;
use folio::graphql::{Engine, QueryLimits};
use libfuzzer_sys::fuzz_target;

static ENGINE: LazyLock<Engine> = LazyLock::new(|| Engine::new(None, QueryLimits::default(), true));

fuzz_target!(|body: &[u8]| {
    let Ok(batch) = serde_json::from_slice::<BatchRequest>(body) else {
        return;
    };
    let requests = match batch {
        BatchRequest::Single(request) => vec![request],
        BatchRequest::Batch(requests) => requests,
    };
    for mut request in requests {
        if ENGINE.attach(&mut request).is_err() {
            continue;
        }
        let _ = folio::graphql::operation_type(&mut request);
        let _ = folio::graphql::operation_name(&mut request);
        let _ = ENGINE.kinds_read(&mut request);
        let _ = ENGINE.check(&mut request);
    }
});
