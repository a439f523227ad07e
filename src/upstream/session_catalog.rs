//! One session's view of the upstream tools: the shared servers' and its own session-scoped
//! servers', merged under the same naming rules (`names`) as if they were all shared, and
//! followed like the daemon's catalog.
//!
//! It is made when the session first needs its servers, and its first reader waits (bounded by
//! the servers' `start_timeout`) until each of the session's own servers has started or failed,
//! so that the session's first `tools/list` shows their tools rather than an empty list while a
//! process starts. Later readers take the current snapshot at once. Several first readers at
//! the same time wait together: the following task is started once.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tokio::runtime::Handle;
use tokio::sync::{OnceCell, watch};

use super::catalog::{self, Catalog, ServerSet};
use super::config::Prefix;
use super::connection::Upstream;
use super::error::UpstreamError;

/// One session's catalog, followed once its own servers have started.
pub struct SessionCatalog {
    followed: OnceCell<watch::Receiver<Arc<Catalog>>>,
    builtin: Arc<[&'static str]>,
    /// The shared servers and the session's own, in name order.
    servers: ServerSet,
    /// The session's own servers, whose start the first reader waits for.
    own: Vec<Upstream>,
    /// The session-scoped servers it may not have now, and why.
    refused: Vec<UpstreamError>,
    /// Longest the first reader waits for `own` to start.
    start_wait: Duration,
    /// Where the catalog is built and followed: the runtime it was made on (the keeper's),
    /// never the HTTP worker of the request that first reads it.
    runtime: Handle,
}

/// What a session's catalog is made of.
pub struct Parts {
    /// The built-in tools' names, which no upstream tool takes.
    pub builtin: Arc<[&'static str]>,
    /// The shared servers, with their prefixes.
    pub shared: ServerSet,
    /// The session's own servers, with their prefixes.
    pub own: Vec<(Upstream, Prefix)>,
    /// The session-scoped servers it may not have now, and why.
    pub refused: Vec<UpstreamError>,
    /// Longest the first reader waits for `own` to start.
    pub start_wait: Duration,
}

impl SessionCatalog {
    /// The catalog of `parts`, to be built on the current runtime; nothing is followed until it
    /// is first read.
    pub fn new(parts: Parts) -> Self {
        let own = parts
            .own
            .iter()
            .map(|(upstream, _)| upstream.clone())
            .collect();
        let mut servers: Vec<(Upstream, Prefix)> =
            parts.shared.iter().cloned().chain(parts.own).collect();
        servers.sort_by(|(a, _), (b, _)| a.name().cmp(b.name()));
        Self {
            followed: OnceCell::new(),
            builtin: parts.builtin,
            servers: servers.into(),
            own,
            refused: parts.refused,
            start_wait: parts.start_wait,
            runtime: Handle::current(),
        }
    }

    /// The tools on offer to the session now: after its own servers' start, the first time.
    pub async fn current(&self) -> Arc<Catalog> {
        Arc::clone(&self.followed().await.borrow())
    }

    /// What is on offer to the session, as it changes: after its own servers' start, the first
    /// time.
    pub async fn followed(&self) -> &watch::Receiver<Arc<Catalog>> {
        self.followed.get_or_init(|| self.follow()).await
    }

    /// Waits for the session's own servers to start (or fail), then follows every server.
    async fn follow(&self) -> watch::Receiver<Arc<Catalog>> {
        // A connection that is ready publishes its tools, then its other lists; one that failed
        // empties both, in the same order: its lists changing is the end of either.
        let started = join_all(self.own.iter().map(|upstream| {
            let mut lists = upstream.lists();
            async move {
                let _ = lists.changed().await;
            }
        }));
        if tokio::time::timeout(self.start_wait, started)
            .await
            .is_err()
        {
            tracing::warn!(wait = ?self.start_wait, "a session's own MCP servers are still starting; listed without them");
        }
        // The session's servers are fixed: a reload makes the session a new catalog.
        let (fixed, servers) = watch::channel(ServerSet::clone(&self.servers));
        let (builtin, refused) = (Arc::clone(&self.builtin), self.refused.clone());
        // Thousands of items may be merged and renamed: not on the HTTP worker that asked.
        let built = self.runtime.spawn(async move {
            drop(fixed);
            catalog::follow(builtin, servers, refused)
        });
        built.await.unwrap_or_else(|err| {
            tracing::error!(%err, "a session's catalog could not be built; listed without its servers");
            watch::channel(Arc::default()).1
        })
    }
}
