//! The addresses of the sessions a worker's requests have named, kept for the worker.
//!
//! A request for a session its worker already knows went handler → directory → session: two
//! messages, each a task woken and a reply sent back, of which the first only read a map. So the
//! map is shared between the worker's [`SessionDirectory`](super::SessionDirectory) and the
//! worker's handlers, which read it themselves ([`KnownSessions::session`]) before asking anyone.
//!
//! It is an `Rc`, not a lock: the directory (its only writer) and the handlers (its readers) run
//! on the worker's one thread, and the type cannot leave it. Each worker of each server has its
//! own, made with its directory, so two daemons in one process (as in tests) never see each
//! other's sessions. It holds addresses, never session state: whether a session exists, its token
//! and everything else stay the session actor's to answer. An address here can be stale only by
//! its session having stopped (session ids are never reused), which the address itself tells.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use actix::Addr;
use uuid::Uuid;

use crate::session::SessionActor;

/// One worker's map of the sessions it has met; clones share it.
#[derive(Clone, Default)]
pub struct KnownSessions(Rc<RefCell<HashMap<Uuid, Addr<SessionActor>>>>);

impl KnownSessions {
    /// Session `id`'s actor, when this worker's directory has met it and it still runs; `None`
    /// means "ask the directory", never "no such session".
    pub fn session(&self, id: Uuid) -> Option<Addr<SessionActor>> {
        let known = self.0.borrow();
        known
            .get(&id)
            .filter(|session| session.connected())
            .cloned()
    }

    /// Remembers where session `id` is, for this worker's requests.
    pub(super) fn remember(&self, id: Uuid, session: &Addr<SessionActor>) {
        self.0.borrow_mut().insert(id, session.clone());
    }

    /// Forgets the sessions that have stopped: the map holds at most the sessions met on this
    /// worker since the last sweep.
    pub(super) fn forget_stopped(&self) {
        self.0.borrow_mut().retain(|_, session| session.connected());
    }
}
