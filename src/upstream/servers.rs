//! Every configured server's connection, started once with the daemon and shared by every
//! session: the daemon's one handle on its upstream servers, and on the tools they offer.

use std::sync::Arc;

use futures::future::join_all;
use futures::{Stream, StreamExt as _};
use tokio::sync::watch;

use super::catalog::{self, Catalog};
use super::config::ServersConfig;
use super::connection::{Status, Upstream};
use super::error::UpstreamError;

/// The enabled servers' connections, in name order, and the catalog of their tools.
pub struct Upstreams {
    servers: Vec<Upstream>,
    catalog: watch::Receiver<Arc<Catalog>>,
}

impl Upstreams {
    /// Starts a connection to every enabled server of `config`, on the current tokio runtime;
    /// their tools are offered beside the built-in ones, named `builtin`, and never shadow them.
    /// Returns at once: each server starts (or fails) on its own, blocking nothing.
    pub fn start(config: &ServersConfig, builtin: impl IntoIterator<Item = &'static str>) -> Self {
        let servers: Vec<(Upstream, _)> = config
            .enabled()
            .map(|(name, server)| (Upstream::start(name, server.clone()), server.prefix))
            .collect();
        let handles = servers
            .iter()
            .map(|(upstream, _)| upstream.clone())
            .collect();
        Self {
            servers: handles,
            catalog: catalog::follow(builtin.into_iter().collect(), servers),
        }
    }

    /// Every server's status, asked of all at once (each ask bounded by `ASK_TIMEOUT`).
    pub async fn statuses(&self) -> Vec<Result<Status, UpstreamError>> {
        join_all(self.servers.iter().map(Upstream::status)).await
    }

    /// The upstream tools, prompts and resources on offer now.
    pub fn catalog(&self) -> Arc<Catalog> {
        Arc::clone(&self.catalog.borrow())
    }

    /// One item each time the upstream tools on offer change (a burst may come as one), for
    /// as long as the daemon runs: what `notifications/tools/list_changed` is sent on.
    pub fn tool_list_changes(&self) -> impl Stream<Item = ()> + 'static {
        let mut changes = self.catalog.clone();
        let seen = changes.borrow_and_update().clone();
        // The catalog also changes with resources and prompts: only a change of tools counts.
        // Without servers nothing ever changes, and the stream still stays open.
        futures::stream::unfold((changes, seen), |(mut changes, mut seen)| async move {
            loop {
                changes.changed().await.ok()?;
                let now = changes.borrow_and_update().clone();
                if !now.offers_the_same_tools(&seen) {
                    return Some(((), (changes, now)));
                }
                seen = now;
            }
        })
        .chain(futures::stream::pending())
    }
}
