use std::{
    net::IpAddr,
    sync::{Arc, Mutex},
};

use async_graphql::Context;
use sea_orm::DatabaseConnection;

use super::{
    engine::Caller,
    loaders::{Loaders, PublicLoaders},
};
use crate::{app::AppState, cache::responses::Scope, policy::Viewer};

/// What one request carries: who is asking and that request's loaders. The
/// loaders that answer for a viewer are created per request, so an answer
/// computed for one viewer can never be served to another; none of them
/// cache between batches.
pub struct RequestData {
    pub viewer: Option<Viewer>,
    /// The session the viewer's token belongs to.
    pub session: Option<i64>,
    /// The client's address, when known.
    pub client: Option<IpAddr>,
    pub loaders: Loaders,
    /// The parts of their kinds the running mutation changed (see
    /// `dependencies::wrote_within`).
    pub written: Mutex<Vec<Scope>>,
}

impl RequestData {
    pub fn new(state: &AppState, caller: Caller) -> Self {
        Self {
            viewer: caller.viewer,
            session: caller.session,
            client: caller.client,
            loaders: Loaders::new(state.db.clone(), caller.viewer, state.dataloader_delay),
            written: Mutex::default(),
        }
    }

    /// For a subscriber: viewer-independent loads go through `public`,
    /// shared with every other subscriber, so one event's loads for a
    /// thousand subscribers become one batch.
    pub fn sharing(public: Arc<PublicLoaders>, caller: Caller) -> Self {
        Self {
            viewer: caller.viewer,
            session: caller.session,
            client: caller.client,
            loaders: Loaders::sharing(public, caller.viewer),
            written: Mutex::default(),
        }
    }
}

pub trait ContextExt {
    fn state(&self) -> &AppState;
    fn db(&self) -> &DatabaseConnection {
        &self.state().db
    }
    fn request(&self) -> &RequestData;
    fn viewer(&self) -> Option<&Viewer> {
        self.request().viewer.as_ref()
    }
    fn loaders(&self) -> &Loaders {
        &self.request().loaders
    }
}

impl ContextExt for Context<'_> {
    fn state(&self) -> &AppState {
        self.data_unchecked::<AppState>()
    }

    fn request(&self) -> &RequestData {
        self.data_unchecked::<RequestData>()
    }
}
