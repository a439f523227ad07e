//! The session-scoped servers (`scope = "session"`): one connection per session, started in the
//! session's folder when the session first lists or calls tools, and stopped (its process group
//! killed) when the session ends.
//!
//! One task owns every session's connections, in a map from the session's id that nothing else
//! touches; requests reach it through a bounded mailbox, each ask bounded by `ASK_TIMEOUT`, and
//! it never waits on anything while answering (starting a connection only spawns its task). It
//! also enforces each server's `max_sessions`: a session over it has no connection to that
//! server (its tools are not listed and a call to one fails saying why), and asks again at its
//! next `tools/list` or `tools/call`, when another session may have ended.
//!
//! A session's end reaches the task through the session's `ended` token (cancelled when its
//! actor stops: `DELETE`, idle expiry, the daemon stopping): the task drops the session's
//! connections, whose last handles go with the session's catalog.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use construct_actors::ASK_TIMEOUT;
use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::catalog::{Catalog, ServerSet};
use super::config::ServerConfig;
use super::connection::Upstream;
use super::error::UpstreamError;
use super::fleet::{Changes, OwnSet, Published};
use super::roots::Roots;
use super::session_catalog::{Parts, SessionCatalog};

/// Asks that may wait for the task; one more is refused as busy.
const MAILBOX: usize = 256;

/// A session, as its own servers need it.
#[derive(Debug, Clone)]
pub struct SessionRef {
    /// Its id.
    pub id: Uuid,
    /// Its folder: where its servers start, and the root they are given.
    pub cwd: Arc<Path>,
    /// Cancelled when the session ends; its servers stop then.
    pub ended: CancellationToken,
}

/// A handle on the task that keeps every session's own servers.
#[derive(Clone)]
pub struct SessionServers {
    mailbox: mpsc::Sender<Ask>,
}

/// What the task is asked.
enum Ask {
    /// One session's catalog, with its servers started if they are not.
    Open {
        session: SessionRef,
        reply: oneshot::Sender<Option<Arc<SessionCatalog>>>,
    },
    /// Every session's connections, for the administrator.
    Connections(oneshot::Sender<Vec<Connection>>),
    /// The session's catalog as it is replaced, without starting its servers.
    Follow {
        session: SessionRef,
        reply: oneshot::Sender<Followed>,
    },
}

/// One session's catalog as the keeper replaces it (its servers started, restarted by a
/// reload, or one that was refused started at last); `None` until its servers are started.
pub type Followed = watch::Receiver<Option<Arc<SessionCatalog>>>;

/// Where a session's replaced catalogs are told to those following it.
type Followers = watch::Sender<Option<Arc<SessionCatalog>>>;

/// One session's connection to a session-scoped server.
pub struct Connection {
    /// The session.
    pub session: Uuid,
    /// The connection.
    pub upstream: Upstream,
}

impl SessionServers {
    /// Starts the task on the current tokio runtime; the sessions' connections run there too.
    /// It follows the servers `published` (the session-scoped ones as configured, and the
    /// shared ones their sessions also see); the built-in tools are named `builtin`.
    pub fn start(published: Published, builtin: Arc<[&'static str]>) -> Self {
        let (mailbox, requests) = mpsc::channel(MAILBOX);
        let Published { shared, own } = published;
        let keeper = Keeper {
            builtin,
            own: OwnSet::default(),
            shared: ServerSet::from([]),
            shared_in: shared,
            own_in: own,
            sessions: HashMap::new(),
            in_use: HashMap::new(),
            followers: HashMap::new(),
            ends: FuturesUnordered::new(),
            generation: 0,
        };
        tokio::spawn(keeper.run(requests));
        Self { mailbox }
    }

    /// The tools on offer to `session`: the shared servers' and its own, started now if they
    /// are not (the first time, this waits for them to start, within their `start_timeout`).
    /// `None` for a session that has ended.
    pub async fn catalog(&self, session: SessionRef) -> Result<Option<Arc<Catalog>>, &'static str> {
        match self.ask(|reply| Ask::Open { session, reply }).await? {
            Some(catalog) => Ok(Some(catalog.current().await)),
            None => Ok(None),
        }
    }

    /// `session`'s catalog as it is replaced, from now on, without starting its servers: what
    /// tells its clients that its own servers' lists changed.
    pub async fn follow(&self, session: SessionRef) -> Result<Followed, &'static str> {
        self.ask(|reply| Ask::Follow { session, reply }).await
    }

    /// Every session's connections to its own servers, by server name then session.
    pub async fn connections(&self) -> Result<Vec<Connection>, &'static str> {
        self.ask(Ask::Connections).await
    }

    /// Asks the task what `ask` (given where to reply) asks; each step bounded by `ASK_TIMEOUT`.
    async fn ask<T>(&self, ask: impl FnOnce(oneshot::Sender<T>) -> Ask) -> Result<T, &'static str> {
        let (reply, answer) = oneshot::channel();
        self.mailbox
            .send_timeout(ask(reply), ASK_TIMEOUT)
            .await
            .map_err(|_| "the keeper of the sessions' servers is busy")?;
        tokio::time::timeout(ASK_TIMEOUT, answer)
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or("the keeper of the sessions' servers did not answer")
    }
}

/// The task's state.
struct Keeper {
    /// The built-in tools' names.
    builtin: Arc<[&'static str]>,
    /// The session-scoped servers as configured now.
    own: OwnSet,
    /// The shared servers now, which every session also sees.
    shared: ServerSet,
    shared_in: watch::Receiver<ServerSet>,
    own_in: watch::Receiver<OwnSet>,
    sessions: HashMap<Uuid, Held>,
    /// Connections per server, across sessions.
    in_use: HashMap<Arc<str>, usize>,
    /// Those following each session's catalog, and the session's end.
    followers: HashMap<Uuid, (Followers, CancellationToken)>,
    /// Each held (or followed) session's end: its id and the generation it was held under.
    ends: FuturesUnordered<BoxFuture<'static, (Uuid, u64)>>,
    generation: u64,
}

/// One session's connections.
struct Held {
    generation: u64,
    session: SessionRef,
    own: BTreeMap<Arc<str>, Upstream>,
    catalog: Arc<SessionCatalog>,
}

impl Keeper {
    async fn run(mut self, mut requests: mpsc::Receiver<Ask>) {
        self.reconfigure();
        loop {
            tokio::select! {
                Ok(()) = self.own_in.changed() => self.reconfigure(),
                Ok(()) = self.shared_in.changed() => self.reconfigure(),
                Some((id, generation)) = self.ends.next(), if !self.ends.is_empty() => {
                    if self.sessions.get(&id).is_some_and(|held| held.generation == generation) {
                        self.forget(id);
                    }
                    if self.followers.get(&id).is_some_and(|(_, ended)| ended.is_cancelled()) {
                        self.followers.remove(&id);
                    }
                }
                ask = requests.recv() => match ask {
                    Some(Ask::Open { session, reply }) => {
                        let _ = reply.send(self.open(session));
                    }
                    Some(Ask::Connections(reply)) => {
                        let _ = reply.send(self.connections());
                    }
                    Some(Ask::Follow { session, reply }) => {
                        let _ = reply.send(self.follow(session));
                    }
                    None => break,
                },
            }
        }
    }

    /// Every held session's connections, by server name then session.
    fn connections(&self) -> Vec<Connection> {
        let mut connections: Vec<Connection> = self
            .sessions
            .iter()
            .filter(|(_, held)| !held.session.ended.is_cancelled())
            .flat_map(|(id, held)| {
                held.own.values().map(|upstream| Connection {
                    session: *id,
                    upstream: upstream.clone(),
                })
            })
            .collect();
        connections
            .sort_by(|a, b| (a.upstream.name(), a.session).cmp(&(b.upstream.name(), b.session)));
        connections
    }

    /// The session's catalog; its servers started first if they are not (or were refused).
    /// `None` for a session that has ended (a request that raced its `DELETE`): nothing is
    /// started for it.
    fn open(&mut self, session: SessionRef) -> Option<Arc<SessionCatalog>> {
        let id = session.id;
        if session.ended.is_cancelled() {
            return None;
        }
        let held = self
            .sessions
            .get(&id)
            .is_some_and(|held| !held.session.ended.is_cancelled());
        if held {
            self.retry(id);
        } else {
            // A session's actor that stopped and came back (cluster mode) is held anew.
            self.forget(id);
            self.hold(session);
        }
        Some(Arc::clone(&self.sessions[&id].catalog))
    }

    /// Starts holding `session`, and its servers.
    fn hold(&mut self, session: SessionRef) {
        self.generation += 1;
        let (id, generation) = (session.id, self.generation);
        let ended = session.ended.clone();
        self.ends.push(Box::pin(async move {
            ended.cancelled_owned().await;
            (id, generation)
        }));
        let mut own = BTreeMap::new();
        let refused = self.start_missing(&session, &mut own);
        let catalog = Arc::new(self.catalog_of(&session, &own, refused));
        let held = Held {
            generation,
            session,
            own,
            catalog,
        };
        self.sessions.insert(id, held);
        self.publish(id);
    }

    /// Starts the servers the held session `id` was refused, if there is room now; it gets a
    /// new catalog when any started.
    fn retry(&mut self, id: Uuid) {
        let Some(mut held) = self.sessions.remove(&id) else {
            return;
        };
        let before = held.own.len();
        if before < self.own.len() {
            let refused = self.start_missing(&held.session, &mut held.own);
            if held.own.len() > before {
                held.catalog = Arc::new(self.catalog_of(&held.session, &held.own, refused));
            }
        }
        self.sessions.insert(id, held);
        self.publish(id);
    }

    /// Starts each server `session` has no connection to in `own`, within its `max_sessions`;
    /// the servers over it, and why.
    fn start_missing(
        &mut self,
        session: &SessionRef,
        own: &mut BTreeMap<Arc<str>, Upstream>,
    ) -> Vec<UpstreamError> {
        let mut refused = Vec::new();
        let configured = Arc::clone(&self.own);
        for (name, config) in configured.iter() {
            if own.contains_key(name) {
                continue;
            }
            let in_use = self.in_use.entry(Arc::clone(name)).or_default();
            if *in_use >= config.max_sessions {
                let reason = format!(
                    "has no room for this session: {} sessions have their own connection to it \
                     (max_sessions); try again when one ends",
                    config.max_sessions
                );
                refused.push(UpstreamError::new(name, reason));
                continue;
            }
            *in_use += 1;
            own.insert(Arc::clone(name), start(name, config, session));
        }
        refused
    }

    /// The catalog of `session` with the connections `own` and the `refused` servers.
    fn catalog_of(
        &self,
        session: &SessionRef,
        own: &BTreeMap<Arc<str>, Upstream>,
        refused: Vec<UpstreamError>,
    ) -> SessionCatalog {
        for error in &refused {
            tracing::warn!(session = %session.id, server = %error.server, "not started for the session: {}", error.reason);
        }
        SessionCatalog::new(Parts {
            builtin: Arc::clone(&self.builtin),
            shared: ServerSet::clone(&self.shared),
            own: own
                .iter()
                .map(|(name, upstream)| (upstream.clone(), self.own[name].prefix))
                .collect(),
            refused,
            start_wait: self.start_wait(),
        })
    }

    /// Follows a reload: the sessions' connections to servers removed or changed are stopped,
    /// those changed or added are started, and each session held gets a new catalog (the
    /// shared servers may have changed too). Sessions themselves are untouched.
    fn reconfigure(&mut self) {
        let own = self.own_in.borrow_and_update().clone();
        self.shared = self.shared_in.borrow_and_update().clone();
        let changes = Changes::between(&self.own, &own);
        self.own = own;
        let ids: Vec<Uuid> = self.sessions.keys().copied().collect();
        for id in ids {
            if self.sessions[&id].session.ended.is_cancelled() {
                // Its end is on its way: nothing is started for it.
                self.forget(id);
                continue;
            }
            let Some(mut held) = self.sessions.remove(&id) else {
                continue;
            };
            for name in changes.stopped.iter().chain(&changes.restarted) {
                if let Some(upstream) = held.own.remove(name) {
                    upstream.stop();
                    self.release(name);
                }
            }
            let refused = self.start_missing(&held.session, &mut held.own);
            held.catalog = Arc::new(self.catalog_of(&held.session, &held.own, refused));
            self.sessions.insert(id, held);
            self.publish(id);
        }
    }

    /// `session`'s catalog as it is replaced: the one it has now, if it is held, then each new
    /// one. Its end ends the following.
    fn follow(&mut self, session: SessionRef) -> Followed {
        let id = session.id;
        if let Some((followers, ended)) = self.followers.get(&id)
            && !ended.is_cancelled()
        {
            return followers.subscribe();
        }
        let current = self
            .sessions
            .get(&id)
            .filter(|held| !held.session.ended.is_cancelled())
            .map(|held| Arc::clone(&held.catalog));
        let (followers, followed) = watch::channel(current);
        let ended = session.ended.clone();
        // Generation 0 is no held session's: this end only ends the following.
        self.ends.push(Box::pin(async move {
            ended.cancelled_owned().await;
            (id, 0)
        }));
        self.followers.insert(id, (followers, session.ended));
        followed
    }

    /// Tells those following the session `id` its current catalog, if it is a new one.
    fn publish(&self, id: Uuid) {
        let (Some((followers, _)), Some(held)) = (self.followers.get(&id), self.sessions.get(&id))
        else {
            return;
        };
        followers.send_if_modified(|current| {
            let new = !current
                .as_ref()
                .is_some_and(|current| Arc::ptr_eq(current, &held.catalog));
            if new {
                *current = Some(Arc::clone(&held.catalog));
            }
            new
        });
    }

    /// Longest a session's first reader waits for its servers to start.
    fn start_wait(&self) -> Duration {
        let waits = self.own.values().map(|config| config.start_timeout);
        waits.max().unwrap_or_default()
    }

    /// One connection to the server `name` fewer.
    fn release(&mut self, name: &str) {
        if let Some(in_use) = self.in_use.get_mut(name) {
            *in_use = in_use.saturating_sub(1);
        }
    }

    /// Stops holding the session `id`, and its connections, whoever else still holds them.
    fn forget(&mut self, id: Uuid) {
        let Some(held) = self.sessions.remove(&id) else {
            return;
        };
        for (name, upstream) in &held.own {
            upstream.stop();
            self.release(name);
        }
        tracing::info!(session = %id, servers = held.own.len(), "the session's own MCP servers stop with it");
    }
}

/// Starts the server `name` for `session`: in the session's folder, with it as the one root.
fn start(name: &Arc<str>, config: &ServerConfig, session: &SessionRef) -> Upstream {
    let mut config = config.clone();
    if config.command.is_some() {
        config.cwd = Some(session.cwd.to_path_buf());
    }
    tracing::info!(session = %session.id, server = %name, cwd = %session.cwd.display(), "starting the session's own MCP server");
    Upstream::start_with_roots(name, config, Roots::single(&session.cwd))
}
