//! `SessionRegistry`: the one actor that knows every session.
//!
//! It maps session ids to the addresses of their [`SessionActor`]s and enforces the limits on how
//! many clients' sessions may live at once and how fast one client address may create them (the
//! daemon's own sessions, which no client can multiply, count against neither). It holds no session
//! state itself: once a caller has a session's address it talks to that session directly, so the
//! registry is one quick hash-map step on each request's path, never a place where requests queue
//! behind tool work.
//!
//! A session that stops, however it ends, tells the registry to forget it ([`Forget`]). Should
//! that word be lost, a dead session is still dropped when a lookup meets it or when the limit
//! of sessions is reached, so the map never holds sessions that no longer exist for long.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use uuid::Uuid;

use crate::messages::{
    CloseSubscriptions, Create, CreateError, CreatedSession, Creator, Forget, ListSessions,
    ListedSession, Lookup, Shutdown,
};
use crate::meters::{RefusedReason, RegistryMeters};
use crate::rate_limit::CreationLimiter;
use crate::session::{SessionActor, SessionLimits};
use crate::token::Token;

/// How many requests may wait for the registry; senders await room beyond that.
const MAILBOX_CAPACITY: usize = 1024;

/// Daemon-wide bounds on sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryLimits {
    /// The most clients' sessions alive at once; further creations are refused.
    pub max_sessions: usize,
    /// How many sessions one client address may create per minute.
    pub create_per_minute: usize,
    /// The bounds each session gets.
    pub session: SessionLimits,
}

/// The actor owning the id → session map.
pub struct SessionRegistry {
    limits: RegistryLimits,
    sessions: HashMap<Uuid, Addr<SessionActor>>,
    /// Which of `sessions` the daemon created for itself.
    own: HashSet<Uuid>,
    creations: CreationLimiter,
    meters: RegistryMeters,
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
        }
    }

    /// How many of the sessions clients created.
    fn clients(&self) -> usize {
        self.sessions.len() - self.own.len()
    }

    /// Whether a client may have one more session, after dropping any that stopped unnoticed.
    fn has_room(&mut self) -> bool {
        if self.clients() >= self.limits.max_sessions {
            self.sessions.retain(|_, session| session.connected());
            let sessions = &self.sessions;
            self.own.retain(|id| sessions.contains_key(id));
        }
        self.clients() < self.limits.max_sessions
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
    type Result = Result<CreatedSession, CreateError>;

    fn handle(&mut self, msg: Create, ctx: &mut Self::Context) -> Self::Result {
        let limits = match msg.by {
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
                self.limits.session
            }
            Creator::Daemon => SessionLimits {
                idle_timeout: None,
                ..self.limits.session
            },
        };
        let id = Uuid::new_v4();
        let token = Token::mint();
        let revealed = token.reveal();
        let cwd: Arc<std::path::Path> = Arc::from(msg.cwd);
        let registry = ctx.address().recipient();
        let session =
            SessionActor::new(id, token, Arc::clone(&cwd), msg.label, limits, registry).start();
        self.sessions.insert(id, session.clone());
        if msg.by == Creator::Daemon {
            self.own.insert(id);
        } else {
            self.meters.created.increment(1);
        }
        self.record_live();
        Ok(CreatedSession {
            id,
            token: revealed,
            cwd,
            session,
        })
    }
}

impl Handler<Lookup> for SessionRegistry {
    type Result = Option<Addr<SessionActor>>;

    fn handle(&mut self, Lookup(id): Lookup, _: &mut Self::Context) -> Self::Result {
        let session = self.sessions.get(&id)?;
        if session.connected() {
            return Some(session.clone());
        }
        // It stopped, and its word has not arrived yet (or was lost).
        self.forget(id);
        None
    }
}

impl Handler<ListSessions> for SessionRegistry {
    type Result = MessageResult<ListSessions>;

    fn handle(&mut self, _: ListSessions, _: &mut Self::Context) -> Self::Result {
        self.sessions.retain(|_, session| session.connected());
        let sessions = &self.sessions;
        self.own.retain(|id| sessions.contains_key(id));
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

    fn handle(&mut self, Forget(id): Forget, _: &mut Self::Context) {
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
