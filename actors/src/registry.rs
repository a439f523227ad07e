//! `SessionRegistry`: the one actor that knows every session.
//!
//! It maps session ids to the addresses of their [`SessionActor`]s and enforces the limit on how
//! many may live at once. It holds no session state itself: once a caller has a session's
//! address it talks to that session directly, so the registry is one quick hash-map step on each
//! request's path, never a place where requests queue behind tool work.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use uuid::Uuid;

use crate::messages::{CloseSubscriptions, Create, CreateError, CreatedSession, Lookup, Shutdown};
use crate::session::{SessionActor, SessionLimits};
use crate::token::Token;

/// How many requests may wait for the registry; senders await room beyond that.
const MAILBOX_CAPACITY: usize = 1024;

/// Daemon-wide bounds on sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryLimits {
    /// The most sessions alive at once; further creations are refused.
    pub max_sessions: usize,
    /// The bounds each session gets.
    pub session: SessionLimits,
}

/// The actor owning the id → session map.
pub struct SessionRegistry {
    limits: RegistryLimits,
    sessions: HashMap<Uuid, Addr<SessionActor>>,
}

impl SessionRegistry {
    /// An empty registry. Start it once per daemon, outside any per-worker factory.
    pub fn new(limits: RegistryLimits) -> Self {
        Self {
            limits,
            sessions: HashMap::new(),
        }
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

    fn handle(&mut self, msg: Create, _: &mut Self::Context) -> Self::Result {
        if self.sessions.len() >= self.limits.max_sessions {
            return Err(CreateError::TooManySessions(self.limits.max_sessions));
        }
        let id = Uuid::new_v4();
        let token = Token::mint();
        let revealed = token.reveal();
        let cwd: Arc<std::path::Path> = Arc::from(msg.cwd);
        let session =
            SessionActor::new(id, token, Arc::clone(&cwd), msg.label, self.limits.session).start();
        self.sessions.insert(id, session.clone());
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
        self.sessions.get(&id).cloned()
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
