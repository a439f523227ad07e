//! Every configured server's connections: the shared ones, started once with the daemon and
//! used by every session, and the session-scoped ones, one per session that needs it (see
//! `session_servers`). The daemon's one handle on its upstream servers, and on the tools they
//! offer.

use std::path::PathBuf;
use std::sync::Arc;

use futures::StreamExt as _;
use futures::future::join_all;
use futures::stream::BoxStream;
use tokio::sync::watch;
use uuid::Uuid;

use super::catalog::{self, Catalog, Listing, ServerSet};
use super::config::ServersConfig;
use super::connection::Status;
use super::error::UpstreamError;
use super::fleet::{Fleet, OwnSet};
use super::list_changes;
use super::roots::Roots;
use super::session_servers::{SessionRef, SessionServers};
use super::subscriptions::Subscriptions;

/// One session's connection to a session-scoped server: the session, and the status.
pub type SessionConnection = (Uuid, Result<Status, UpstreamError>);

/// A configured server, as the administrator sees it.
pub enum ServerView {
    /// A shared server: its one connection's status.
    Shared(Result<Status, UpstreamError>),
    /// A session-scoped server: the sessions' connections to it.
    Session {
        /// Its name.
        name: Arc<str>,
        /// How many sessions may have a connection to it at once.
        max_sessions: usize,
        /// Each session's connection's status, by session; or why they are not known.
        connections: Result<Vec<SessionConnection>, &'static str>,
    },
}

impl ServerView {
    /// The server's name.
    pub fn name(&self) -> &str {
        match self {
            ServerView::Shared(Ok(status)) => &status.server,
            ServerView::Shared(Err(err)) => &err.server,
            ServerView::Session { name, .. } => name,
        }
    }
}

/// The daemon's handle on its servers: the shared ones' connections, the catalog of their
/// tools, and the keeper of the session-scoped ones. What servers there are is the [`Fleet`]'s
/// to say (it changes on a reload); this follows it.
pub struct Upstreams {
    shared: watch::Receiver<ServerSet>,
    own: watch::Receiver<OwnSet>,
    catalog: watch::Receiver<Arc<Catalog>>,
    sessions: SessionServers,
    subscriptions: Subscriptions,
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
        let catalog = catalog::follow(Arc::clone(&builtin), published.shared.clone(), Vec::new());
        let upstreams = Self {
            shared: published.shared.clone(),
            own: published.own.clone(),
            subscriptions: Subscriptions::start(catalog.clone()),
            catalog,
            sessions: SessionServers::start(published, builtin),
        };
        (upstreams, fleet)
    }

    /// The keeper of the clients' resource subscriptions.
    pub fn subscriptions(&self) -> &Subscriptions {
        &self.subscriptions
    }

    /// Every configured server as the administrator sees it, by name: each connection's status,
    /// asked of all at once (each ask bounded by `ASK_TIMEOUT`).
    pub async fn views(&self) -> Vec<ServerView> {
        let shared = ServerSet::clone(&self.shared.borrow());
        let own = OwnSet::clone(&self.own.borrow());
        let held = match own.is_empty() {
            true => Ok(Vec::new()),
            false => self.sessions.connections().await,
        };
        let connections = held.as_deref().unwrap_or_default();
        let (shared, sessions) = tokio::join!(
            join_all(shared.iter().map(|(upstream, _)| upstream.status())),
            join_all(connections.iter().map(|held| held.upstream.status())),
        );
        let mut views: Vec<ServerView> = shared.into_iter().map(ServerView::Shared).collect();
        for (name, config) in own.iter() {
            let of_server = connections.iter().zip(&sessions);
            let connections = of_server
                .filter(|(held, _)| held.upstream.name() == name)
                .map(|(held, status)| (held.session, status.clone()))
                .collect();
            views.push(ServerView::Session {
                name: Arc::clone(name),
                max_sessions: config.max_sessions,
                connections: held.as_ref().map(|_| connections).map_err(|err| *err),
            });
        }
        views.sort_by(|a, b| a.name().cmp(b.name()));
        views
    }

    /// Whether any server is configured now, shared or session-scoped.
    pub fn any_configured(&self) -> bool {
        !self.shared.borrow().is_empty() || !self.own.borrow().is_empty()
    }

    /// The shared servers' tools, prompts and resources on offer now.
    pub fn catalog(&self) -> Arc<Catalog> {
        Arc::clone(&self.catalog.borrow())
    }

    /// One item each time `listing` changes for `session` (the shared servers' and its own
    /// session-scoped servers'), or in the daemon's catalog without a session, for as long as
    /// the daemon runs: what `notifications/…/list_changed` is sent on. A burst of changes may
    /// come as one.
    pub fn list_changes(
        &self,
        listing: Listing,
        session: Option<SessionRef>,
    ) -> BoxStream<'static, ()> {
        let shared = self.catalog.clone();
        let changes = match session {
            // Followed even with no session-scoped server configured now: a reload may add one.
            Some(session) => {
                let sessions = self.sessions.clone();
                futures::stream::once(async move {
                    let id = session.id;
                    match sessions.follow(session).await {
                        Ok(followed) => list_changes::of_session(shared, followed, listing).boxed(),
                        Err(reason) => {
                            tracing::warn!(session = %id, reason, "changes of the session's own MCP servers' lists are not told on this stream");
                            list_changes::of_catalog(shared, listing).boxed()
                        }
                    }
                })
                .flatten()
                .boxed()
            }
            _ => list_changes::of_catalog(shared, listing).boxed(),
        };
        // Without servers nothing ever changes, and the stream still stays open.
        changes.chain(futures::stream::pending()).boxed()
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
            Ok(Some(catalog)) => catalog,
            Ok(None) => self.catalog(),
            Err(reason) => {
                tracing::warn!(session = %id, reason, "the session's own MCP servers are left out of this request");
                self.catalog()
            }
        }
    }
}
