//! What a client may send over a WebSocket, checked before async-graphql
//! reads it. async-graphql reads either protocol's messages on both (a
//! legacy `start` ran a query on graphql-transport-ws), and a `subscribe`
//! reusing the id of a running operation silently replaced it; the
//! graphql-transport-ws protocol closes the connection for each:
//!
//! - 4400 for a message it does not define, or one without its id;
//! - 4409 `Subscriber for <id> already exists` for a `subscribe` whose id
//!   is still running;
//! - 4429 for a second `connection_init`.
//!
//! (4401, for a `subscribe` before `connection_init`, and 4408, for no
//! `connection_init` in time, are the handshake's, in `subscriptions`.)
//! On the legacy protocol, `connection_terminate` closes the connection
//! normally.

use std::{borrow::Cow, collections::HashSet, sync::Mutex};

use async_graphql::http::WebSocketProtocols;
use serde::Deserialize;

use crate::locks::lock;

/// Why the connection must close: its code and reason.
pub type Refusal = (u16, Cow<'static, str>);

/// One connection's running operation ids, and the refusal that ended it.
pub struct Rules {
    kind: WebSocketProtocols,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    initialised: bool,
    running: HashSet<String>,
    refusal: Option<Refusal>,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
}

impl Rules {
    pub fn new(kind: WebSocketProtocols) -> Self {
        Self {
            kind,
            state: Mutex::default(),
        }
    }

    /// Whether async-graphql may read the message `text`; when not, the
    /// connection ends with [`refusal`](Self::refusal).
    pub fn admit(&self, text: &str) -> bool {
        let envelope = serde_json::from_str::<Envelope>(text).ok();
        let mut state = lock(&self.state);
        let refusal = match self.kind {
            WebSocketProtocols::GraphQLWS => transport_ws(&mut state, envelope),
            WebSocketProtocols::SubscriptionsTransportWS => legacy(envelope),
        };
        match refusal {
            None => true,
            Some(refusal) => {
                state.refusal.get_or_insert(refusal);
                false
            }
        }
    }

    /// Notes a message Folio sent: `complete` and `error` end their
    /// operation, whose id the client may then use again.
    pub fn sent(&self, text: &str) {
        // async-graphql writes the type first; a `next` is not parsed.
        let ends = [r#"{"type":"complete""#, r#"{"type":"error""#];
        if !ends.iter().any(|start| text.starts_with(start)) {
            return;
        }
        if let Ok(Envelope { id: Some(id), .. }) = serde_json::from_str(text) {
            lock(&self.state).running.remove(&id);
        }
    }

    pub fn refusal(&self) -> Option<Refusal> {
        lock(&self.state).refusal.clone()
    }
}

fn transport_ws(state: &mut State, envelope: Option<Envelope>) -> Option<Refusal> {
    let invalid = || Some((4400, Cow::Borrowed("Invalid message received")));
    let Some(Envelope { kind, id }) = envelope else {
        return invalid();
    };
    match (kind.as_str(), id) {
        ("connection_init", _) if state.initialised => {
            Some((4429, "Too many initialisation requests".into()))
        }
        ("connection_init", _) => {
            state.initialised = true;
            None
        }
        ("ping" | "pong", _) => None,
        ("subscribe", Some(id)) => match state.running.insert(id.clone()) {
            true => None,
            false => Some((4409, format!("Subscriber for {id} already exists").into())),
        },
        ("complete", Some(id)) => {
            state.running.remove(&id);
            None
        }
        _ => invalid(),
    }
}

fn legacy(envelope: Option<Envelope>) -> Option<Refusal> {
    match envelope {
        Some(Envelope { kind, .. }) if kind == "connection_terminate" => {
            Some((1000, "Normal Closure".into()))
        }
        // async-graphql answers the rest as that protocol says.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connected() -> Rules {
        let rules = Rules::new(WebSocketProtocols::GraphQLWS);
        assert!(rules.admit(r#"{"type":"connection_init"}"#));
        rules
    }

    const SUBSCRIBE: &str = r#"{"type":"subscribe","id":"a","payload":{"query":"{ __typename }"}}"#;

    #[test]
    fn an_id_is_taken_until_either_side_completes_it() {
        let rules = connected();
        assert!(rules.admit(SUBSCRIBE));
        rules.sent(r#"{"type":"next","id":"a","payload":{}}"#);
        rules.sent(r#"{"type":"complete","id":"a"}"#);
        assert!(rules.admit(SUBSCRIBE));
        assert!(rules.admit(r#"{"type":"complete","id":"a"}"#));
        assert!(rules.admit(SUBSCRIBE));
        assert!(!rules.admit(SUBSCRIBE));
        assert_eq!(
            rules.refusal(),
            Some((4409, "Subscriber for a already exists".into()))
        );
    }

    #[test]
    fn messages_the_protocol_does_not_define_close_with_4400() {
        for message in [
            "not json",
            r#"{"type":"start","id":"1","payload":{"query":"{ __typename }"}}"#,
            r#"{"type":"stop","id":"1"}"#,
            r#"{"type":"connection_terminate"}"#,
            r#"{"type":"subscribe","payload":{"query":"{ __typename }"}}"#,
            r#"{"id":"1"}"#,
        ] {
            let rules = connected();
            assert!(!rules.admit(message), "{message}");
            assert_eq!(
                rules.refusal().map(|(code, _)| code),
                Some(4400),
                "{message}"
            );
        }
    }

    #[test]
    fn a_second_init_closes_with_4429() {
        let rules = connected();
        assert!(!rules.admit(r#"{"type":"connection_init"}"#));
        assert_eq!(rules.refusal().map(|(code, _)| code), Some(4429));
    }

    #[test]
    fn the_legacy_protocol_closes_on_terminate() {
        let rules = Rules::new(WebSocketProtocols::SubscriptionsTransportWS);
        assert!(rules.admit(r#"{"type":"connection_init"}"#));
        assert!(rules.admit(r#"{"type":"start","id":"1","payload":{"query":"{ __typename }"}}"#));
        assert!(rules.admit(r#"{"type":"start","id":"1","payload":{"query":"{ __typename }"}}"#));
        assert!(!rules.admit(r#"{"type":"connection_terminate"}"#));
        assert_eq!(rules.refusal().map(|(code, _)| code), Some(1000));
    }
}
