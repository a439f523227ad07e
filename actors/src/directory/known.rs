//! The addresses of the sessions a worker's requests have named, kept on the worker's thread.
//!
//! A request for a session its worker already knows went handler → directory → session: two
//! messages, each a task woken and a reply sent back, of which the first only read a map. So the
//! map lives here, beside the [`SessionDirectory`](super::SessionDirectory) but outside its
//! mailbox, and a worker's handlers read it themselves ([`session`]) before asking anyone.
//!
//! It is a thread-local, not a lock: a worker's directory (its only writer) and its handlers (its
//! readers) run on the worker's one thread, and no other thread ever sees it. It holds addresses,
//! never session state: whether a session exists, its token and everything else stay the
//! session actor's to answer. An address here can be stale only by its session having stopped
//! (session ids are never reused), which the address itself tells.

use std::cell::RefCell;
use std::collections::HashMap;

use actix::Addr;
use uuid::Uuid;

use crate::session::SessionActor;

thread_local! {
    static KNOWN: RefCell<HashMap<Uuid, Addr<SessionActor>>> = RefCell::new(HashMap::new());
}

/// Session `id`'s actor, when this thread's directory has met it and it still runs; `None`
/// means "ask the directory", never "no such session".
pub fn session(id: Uuid) -> Option<Addr<SessionActor>> {
    KNOWN.with_borrow(|known| {
        known
            .get(&id)
            .filter(|session| session.connected())
            .cloned()
    })
}

/// Remembers where session `id` is, for this thread's requests.
pub(super) fn remember(id: Uuid, session: &Addr<SessionActor>) {
    KNOWN.with_borrow_mut(|known| known.insert(id, session.clone()));
}

/// Forgets the sessions that have stopped: the map holds at most the sessions met on this thread
/// since the last sweep.
pub(super) fn forget_stopped() {
    KNOWN.with_borrow_mut(|known| known.retain(|_, session| session.connected()));
}
