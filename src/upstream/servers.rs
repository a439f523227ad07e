//! Every configured server's connections: the shared ones, started once with the daemon and
//! used by every session, and the session-scoped ones, one per session that needs it (see
//! `session_servers`). The daemon's one handle on its upstream servers, and on the tools they
//! offer.

use std::path::PathBuf;
use std::sync::Arc;

use futures::future::join_all;
use futures::{Stream, StreamExt as _};
use tokio::sync::watch;

use super::catalog::{self, Catalog};
use super::config::{Scope, ServersConfig};
use super::connection::{Status, Upstream};
use super::error::UpstreamError;
use super::roots::Roots;
use super::session_servers::{Configured, SessionRef, SessionServers};

/// The enabled shared servers' connections, in name order, the catalog of their tools, and the
/// keeper of the session-scoped ones (when any is configured).
pub struct Upstreams {
    servers: Vec<Upstream>,
    catalog: watch::Receiver<Arc<Catalog>>,
    sessions: Option<SessionServers>,
}

impl Upstreams {
    /// Starts a connection to every enabled shared server of `config`, on the current tokio
    /// runtime, with `workspace` (the workspace roots) as its roots; their tools are offered
    /// beside the built-in ones, named `builtin`, and never shadow them. Session-scoped servers
    /// start later, each in the session that needs it. Returns at once: each server starts (or
    /// fails) on its own, blocking nothing.
    pub fn start(
        config: &ServersConfig,
        builtin: impl IntoIterator<Item = &'static str>,
        workspace: &[PathBuf],
    ) -> Self {
        let builtin: Arc<[&'static str]> = builtin.into_iter().collect();
        let roots = Roots::new(workspace.iter().cloned());
        let scoped = |scope| {
            config
                .enabled()
                .filter(move |(_, server)| server.scope == scope)
        };
        let shared: Vec<(Upstream, _)> = scoped(Scope::Shared)
            .map(|(name, server)| {
                let upstream = Upstream::start_with_roots(name, server.clone(), roots.clone());
                (upstream, server.prefix)
            })
            .collect();
        let own: Vec<_> = scoped(Scope::Session)
            .map(|(name, server)| (Arc::from(name), server.clone()))
            .collect();
        let sessions = (!own.is_empty()).then(|| {
            SessionServers::start(Configured {
                servers: own,
                shared: shared.clone(),
                builtin: Arc::clone(&builtin),
            })
        });
        Self {
            servers: shared
                .iter()
                .map(|(upstream, _)| upstream.clone())
                .collect(),
            catalog: catalog::follow(builtin.to_vec(), shared, Vec::new()),
            sessions,
        }
    }

    /// Every shared server's status, asked of all at once (each ask bounded by `ASK_TIMEOUT`).
    pub async fn statuses(&self) -> Vec<Result<Status, UpstreamError>> {
        join_all(self.servers.iter().map(Upstream::status)).await
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
        let Some(sessions) = &self.sessions else {
            return self.catalog();
        };
        let id = session.id;
        match sessions.catalog(session).await {
            Ok(catalog) => catalog,
            Err(reason) => {
                tracing::warn!(session = %id, reason, "the session's own MCP servers are left out of this request");
                self.catalog()
            }
        }
    }
}
