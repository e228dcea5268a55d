//! A page's items get their relations from one loader call per relation,
//! made by the connection before any item resolves, instead of one call
//! per item. Per item, the executor polls a page's fields in slices
//! (futures-util's `FuturesUnordered` yields every 32 futures), so under
//! load one page's keys split over several batches: an article page with 50
//! comments went from 4 statements at 16 connections to 10 at 64. The calls
//! still go through the request's loaders, so sibling pages (a list of
//! users' article lists) share their batches.

use std::{collections::HashMap, hash::Hash};

use async_graphql::{Context, dataloader::Loader};

use super::{context::ContextExt, loaders::LoadError};

/// Whether the connection's items select `field`, through `nodes` or
/// `edges { node }`.
pub fn selects(ctx: &Context<'_>, field: &str) -> bool {
    let selection = ctx.look_ahead();
    selection.field("nodes").field(field).exists()
        || selection.field("edges").field("node").field(field).exists()
}

/// The values of `keys` from the loader `pick` names, when the items select
/// `field`; `None` when they do not, so nothing is loaded.
pub async fn load<'c, L, K>(
    ctx: &'c Context<'_>,
    field: &str,
    pick: impl FnOnce(&'c super::loaders::Loaders) -> &'c async_graphql::dataloader::DataLoader<L>,
    keys: impl IntoIterator<Item = K>,
) -> Result<Option<HashMap<K, L::Value>>, LoadError>
where
    L: Loader<K, Error = LoadError>,
    K: Send + Sync + Hash + Eq + Clone + 'static,
{
    if !selects(ctx, field) {
        return Ok(None);
    }
    pick(ctx.loaders()).load_many(keys).await.map(Some)
}

/// [`load`] for the `keys` the list did not read with its page; nothing
/// when it read them all.
pub async fn load_missing<'c, L, K>(
    ctx: &'c Context<'_>,
    field: &str,
    pick: impl FnOnce(&'c super::loaders::Loaders) -> &'c async_graphql::dataloader::DataLoader<L>,
    keys: Vec<K>,
) -> Result<Option<HashMap<K, L::Value>>, LoadError>
where
    L: Loader<K, Error = LoadError>,
    K: Send + Sync + Hash + Eq + Clone + 'static,
{
    if keys.is_empty() {
        return Ok(None);
    }
    load(ctx, field, pick, keys).await
}
