//! `SessionRegistry`: the one actor that knows every session.
//!
//! It maps session ids to the addresses of their [`SessionActor`]s and enforces the limits on how
//! many clients' sessions may live at once and how fast one client address may create them (the
//! daemon's own sessions, which no client can multiply, count against neither). It holds no session
//! state itself: callers (each worker's [`SessionDirectory`](crate::SessionDirectory)) ask it for
//! a session's address once and then talk to that session directly, so the registry is not on
//! the path of most requests, and never a place where requests queue behind tool work. It starts
//! each session's actor on the arbiter it is asked to (the creating worker's).
//!
//! A session that stops, however it ends, tells the registry to forget it ([`Forget`]). Should
//! that word be lost, a dead session is still dropped when a lookup meets it or when the limit
//! of sessions is reached, so the map never holds sessions that no longer exist for long.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use actix::ArbiterHandle;
use actix::fut::{self, wrap_future};
use actix::prelude::*;
use chrono::Utc;
use uuid::Uuid;

use crate::cluster::{ClusterStore, SessionRecord, Unavailable};
use crate::limits::{RegistryLimits, SessionLimits};
use crate::rate_limit::CreationLimiter;
use crate::session::{CloseSubscriptions, Forget, SessionActor};
use crate::session_metrics::{RefusedReason, RegistryMeters};
use crate::settings::SessionSettings;
use crate::token::Token;

mod messages;

pub use messages::{
    Create, CreateError, CreatedSession, Creator, ListSessions, ListedSession, Locate, Lookup,
    Shutdown,
};

/// How many requests may wait for the registry; senders await room beyond that.
const MAILBOX_CAPACITY: usize = 1024;

/// What a session's actor is started from.
struct Face {
    /// Who the session is.
    record: SessionRecord,
    /// Cluster mode: the store that holds it, of which the actor is this node's face.
    store: Option<ClusterStore>,
    /// Its bounds.
    limits: SessionLimits,
    /// The arbiter to run it on; `None`: the registry's.
    home: Option<ArbiterHandle>,
}

/// The actor owning the id → session map.
pub struct SessionRegistry {
    limits: RegistryLimits,
    sessions: HashMap<Uuid, Addr<SessionActor>>,
    /// Which of `sessions` the daemon created for itself.
    own: HashSet<Uuid>,
    creations: CreationLimiter,
    meters: RegistryMeters,
    /// Cluster mode: where clients' sessions are kept, for every node to find.
    store: Option<ClusterStore>,
}

impl SessionRegistry {
    /// An empty registry. Start it once per daemon, outside any per-worker factory.
    pub fn new(limits: RegistryLimits) -> Self {
        Self {
            limits,
            sessions: HashMap::new(),
            own: HashSet::new(),
            creations: CreationLimiter::new(limits.create_per_minute),
            meters: RegistryMeters::new(),
            store: None,
        }
    }

    /// A registry of one node of a cluster: clients' sessions are created in `store`, and a
    /// session another node created is loaded from it the first time a request names it here.
    pub fn in_cluster(limits: RegistryLimits, store: ClusterStore) -> Self {
        Self {
            store: Some(store),
            ..Self::new(limits)
        }
    }

    /// The limits a new session of `by` gets, or why it may not be created.
    fn admit(
        &mut self,
        by: Creator,
        unused_timeout: Option<std::time::Duration>,
    ) -> Result<SessionLimits, CreateError> {
        match by {
            Creator::Client(address) => {
                self.creations
                    .admit(address, Instant::now())
                    .map_err(|wait| {
                        RegistryMeters::refused(RefusedReason::RateLimited);
                        CreateError::RateLimited {
                            limit: self.limits.create_per_minute,
                            retry_after_secs: wait.as_secs().max(1),
                        }
                    })?;
                if !self.has_room() {
                    RegistryMeters::refused(RefusedReason::TooManySessions);
                    return Err(CreateError::TooManySessions(self.limits.max_sessions));
                }
                Ok(SessionLimits {
                    unused_timeout,
                    ..self.limits.session
                })
            }
            Creator::Daemon => Ok(SessionLimits {
                idle_timeout: None,
                ..self.limits.session
            }),
        }
    }

    /// Starts the actor of a new session and keeps its address.
    fn register(
        &mut self,
        face: Face,
        by: Creator,
        token: String,
        ctx: &mut Context<Self>,
    ) -> CreatedSession {
        let id = face.record.id;
        let cwd: Arc<Path> = Arc::from(face.record.cwd.as_path());
        let session = self.start(face, ctx);
        if by == Creator::Daemon {
            self.own.insert(id);
        } else {
            self.meters.created.increment(1);
        }
        self.record_live();
        CreatedSession {
            id,
            token,
            cwd,
            session,
        }
    }

    /// Starts a session's actor and keeps its address.
    fn start(&mut self, face: Face, ctx: &mut Context<Self>) -> Addr<SessionActor> {
        let Face {
            record,
            store,
            limits,
            home,
        } = face;
        let id = record.id;
        let actor = SessionActor::new(record, store, limits, ctx.address().recipient());
        let session = match home {
            Some(home) => SessionActor::start_in_arbiter(&home, move |_| actor),
            None => actor.start(),
        };
        self.sessions.insert(id, session.clone());
        session
    }

    /// The actor of session `id`: running here, or else (cluster mode) loaded from the store.
    /// `None` when there is no such session.
    fn find(
        &mut self,
        id: Uuid,
        home: ArbiterHandle,
    ) -> ResponseActFuture<Self, Result<Option<Addr<SessionActor>>, Unavailable>> {
        let store = match (self.live(id), &self.store) {
            (Some(session), _) => return Box::pin(fut::ready(Ok(Some(session)))),
            (None, None) => return Box::pin(fut::ready(Ok(None))),
            (None, Some(store)) => store.clone(),
        };
        let load = {
            let store = store.clone();
            async move { store.load_session(id).await }
        };
        Box::pin(
            wrap_future(load).map(move |loaded, registry: &mut Self, ctx| {
                let Some(record) = loaded? else {
                    return Ok(None);
                };
                // Another request may have loaded it meanwhile.
                if let Some(session) = registry.live(id) {
                    return Ok(Some(session));
                }
                let face = Face {
                    record,
                    store: Some(store),
                    limits: registry.limits.session,
                    home: Some(home),
                };
                let session = registry.start(face, ctx);
                registry.record_live();
                Ok(Some(session))
            }),
        )
    }

    /// How many of the sessions clients created.
    fn clients(&self) -> usize {
        self.sessions.len() - self.own.len()
    }

    /// Whether a client may have one more session, after dropping any that stopped unnoticed.
    fn has_room(&mut self) -> bool {
        if self.clients() >= self.limits.max_sessions {
            self.sweep();
        }
        self.clients() < self.limits.max_sessions
    }

    /// Drops the sessions that stopped unnoticed.
    fn sweep(&mut self) {
        self.sessions.retain(|_, session| session.connected());
        let sessions = &self.sessions;
        self.own.retain(|id| sessions.contains_key(id));
    }

    /// The actor of session `id`, if it is still running.
    fn live(&mut self, id: Uuid) -> Option<Addr<SessionActor>> {
        let session = self.sessions.get(&id)?;
        if session.connected() {
            return Some(session.clone());
        }
        // It stopped, and its word has not arrived yet (or was lost).
        self.forget(id);
        None
    }

    fn forget(&mut self, id: Uuid) {
        self.sessions.remove(&id);
        self.own.remove(&id);
        self.record_live();
    }

    /// Sets the live-sessions gauge from the map itself, so it cannot drift. A session dropped
    /// unnoticed elsewhere still sends its [`Forget`], which sets it right.
    fn record_live(&self) {
        self.meters.live.set(self.clients() as f64);
    }
}

impl Actor for SessionRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }
}

impl Handler<Create> for SessionRegistry {
    type Result = ResponseActFuture<Self, Result<CreatedSession, CreateError>>;

    fn handle(&mut self, msg: Create, ctx: &mut Self::Context) -> Self::Result {
        let limits = match self.admit(msg.by, msg.unused_timeout) {
            Ok(limits) => limits,
            Err(refused) => return Box::pin(fut::ready(Err(refused))),
        };
        let token = Token::mint();
        let now = Utc::now();
        let record = SessionRecord {
            id: Uuid::new_v4(),
            token_digest: token.digest(),
            cwd: msg.cwd,
            label: msg.label,
            created_at: now,
            last_activity: now,
            settings: SessionSettings::default(),
        };
        let token = token.reveal();
        let (by, home) = (msg.by, msg.home);
        let store = match (&self.store, by) {
            (Some(store), Creator::Client(_)) => store.clone(),
            // The daemon's own sessions serve this node alone: they stay here.
            _ => {
                let face = Face {
                    record,
                    store: None,
                    limits,
                    home,
                };
                return Box::pin(fut::ready(Ok(self.register(face, by, token, ctx))));
            }
        };
        let saved = {
            let store = store.clone();
            async move {
                store
                    .create_session(&record, limits.first_idle_timeout())
                    .await
                    .map(|()| record)
            }
        };
        Box::pin(
            wrap_future(saved).map(move |saved, registry: &mut Self, ctx| {
                let face = Face {
                    record: saved.map_err(Unavailable::from)?,
                    store: Some(store),
                    limits,
                    home,
                };
                Ok(registry.register(face, by, token, ctx))
            }),
        )
    }
}

impl Handler<Lookup> for SessionRegistry {
    type Result = Option<Addr<SessionActor>>;

    fn handle(&mut self, Lookup(id): Lookup, _: &mut Self::Context) -> Self::Result {
        self.live(id)
    }
}

impl Handler<Locate> for SessionRegistry {
    type Result = ResponseActFuture<Self, Result<Option<Addr<SessionActor>>, Unavailable>>;

    fn handle(&mut self, Locate { id, home }: Locate, _: &mut Self::Context) -> Self::Result {
        self.find(id, home)
    }
}

impl Handler<ListSessions> for SessionRegistry {
    type Result = MessageResult<ListSessions>;

    fn handle(&mut self, _: ListSessions, _: &mut Self::Context) -> Self::Result {
        self.sweep();
        MessageResult(
            self.sessions
                .iter()
                .map(|(id, session)| ListedSession {
                    id: *id,
                    session: session.clone(),
                    own: self.own.contains(id),
                })
                .collect(),
        )
    }
}

impl Handler<Forget> for SessionRegistry {
    type Result = ();

    fn handle(&mut self, Forget { id, session }: Forget, _: &mut Self::Context) {
        if self
            .sessions
            .get(&id)
            .is_some_and(|known| *known != session)
        {
            // A newer actor of the same session (cluster mode: loaded again since).
            return;
        }
        self.forget(id);
    }
}

impl Handler<Shutdown> for SessionRegistry {
    type Result = ();

    fn handle(&mut self, _: Shutdown, _: &mut Self::Context) {
        for session in self.sessions.values() {
            // One message per session, once, at shutdown: not a path input can drive.
            session.do_send(CloseSubscriptions);
        }
    }
}
