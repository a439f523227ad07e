//! Every configured server's connections: the shared ones, started once with the daemon and
//! used by every session, and the session-scoped ones, one per session that needs it (see
//! `session_servers`). The daemon's one handle on its upstream servers, and on the tools they
//! offer.

use std::path::PathBuf;
use std::sync::Arc;

use futures::future::join_all;
use futures::{Stream, StreamExt as _};
use tokio::sync::watch;

use super::catalog::{self, Catalog, ServerSet};
use super::config::ServersConfig;
use super::connection::Status;
use super::error::UpstreamError;
use super::fleet::{Fleet, OwnSet};
use super::roots::Roots;
use super::session_servers::{SessionRef, SessionServers};

/// The daemon's handle on its servers: the shared ones' connections, the catalog of their
/// tools, and the keeper of the session-scoped ones. What servers there are is the [`Fleet`]'s
/// to say (it changes on a reload); this follows it.
pub struct Upstreams {
    shared: watch::Receiver<ServerSet>,
    own: watch::Receiver<OwnSet>,
    catalog: watch::Receiver<Arc<Catalog>>,
    sessions: SessionServers,
}

impl Upstreams {
    /// Starts a connection to every enabled shared server of `config`, on the current tokio
    /// runtime, with `workspace` (the workspace roots) as its roots; their tools are offered
    /// beside the built-in ones, named `builtin`, and never shadow them. Session-scoped servers
    /// start later, each in the session that needs it. Returns at once: each server starts (or
    /// fails) on its own, blocking nothing. The fleet returned is what a reload changes.
    pub fn start(
        config: &ServersConfig,
        builtin: impl IntoIterator<Item = &'static str>,
        workspace: &[PathBuf],
    ) -> (Self, Fleet) {
        let builtin: Arc<[&'static str]> = builtin.into_iter().collect();
        let (fleet, published) = Fleet::start(config, Roots::new(workspace.iter().cloned()));
        let upstreams = Self {
            shared: published.shared.clone(),
            own: published.own.clone(),
            catalog: catalog::follow(Arc::clone(&builtin), published.shared.clone(), Vec::new()),
            sessions: SessionServers::start(published, builtin),
        };
        (upstreams, fleet)
    }

    /// Every shared server's status, asked of all at once (each ask bounded by `ASK_TIMEOUT`).
    pub async fn statuses(&self) -> Vec<Result<Status, UpstreamError>> {
        let shared = ServerSet::clone(&self.shared.borrow());
        join_all(shared.iter().map(|(upstream, _)| upstream.status())).await
    }

    /// The shared servers' tools, prompts and resources on offer now.
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

    /// The tools on offer to `session` now: the shared servers' and, when session-scoped
    /// servers are configured, its own (started on its first ask, which waits for them within
    /// their `start_timeout`). With none configured it is [`Upstreams::catalog`], asking nobody.
    pub async fn session_catalog(&self, session: SessionRef) -> Arc<Catalog> {
        if self.own.borrow().is_empty() {
            return self.catalog();
        }
        let id = session.id;
        match self.sessions.catalog(session).await {
            Ok(catalog) => catalog,
            Err(reason) => {
                tracing::warn!(session = %id, reason, "the session's own MCP servers are left out of this request");
                self.catalog()
            }
        }
    }
}
