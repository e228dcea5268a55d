use std::net::IpAddr;

use async_graphql::Context;
use sea_orm::DatabaseConnection;

use super::loaders::Loaders;
use crate::{app::AppState, policy::Viewer};

/// What one request carries: who is asking and that request's loaders. The
/// loaders are created per request so a batched or cached answer computed for
/// one viewer can never be served to another.
pub struct RequestData {
    pub viewer: Option<Viewer>,
    /// The client's address, when known.
    pub client: Option<IpAddr>,
    pub loaders: Loaders,
}

impl RequestData {
    pub fn new(state: &AppState, viewer: Option<Viewer>, client: Option<IpAddr>) -> Self {
        Self {
            viewer,
            client,
            loaders: Loaders::new(state.db.clone(), viewer, state.dataloader_delay),
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
