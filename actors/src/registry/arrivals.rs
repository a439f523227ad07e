//! Sessions that workers started themselves, on their way to the registry without waking it.
//!
//! Why: a worker that creates a client's session with its [`Allowance`](crate::admission)
//! used to tell the registry with a message, and each message woke the registry's thread: an
//! `eventfd` write by the worker and a round of `epoll` on the main thread, about a quarter of a
//! creation's CPU in a profile of `POST /session`. The registry needs to know a session only
//! before it answers something about it, and everything it answers comes through its mailbox.
//! So a worker puts the session here instead, in a channel whose receiver is never polled (no
//! waker is registered, so sending wakes nobody), and the registry takes whatever has arrived
//! before it handles any message, and once a second besides, so that its live-sessions gauge and
//! its sweeps stay current when nobody asks.
//!
//! A session is put here before its client hears of it, so any request naming it reaches the
//! registry after it. The channel is unbounded in type only: every session in it was counted
//! against `max_sessions` first.

use std::sync::mpsc::{Receiver, Sender, channel};

use actix::Addr;
use uuid::Uuid;

use crate::session::SessionActor;

/// A client's session a worker admitted (counted already) and started on its own thread.
#[derive(Debug)]
pub(crate) struct Arrival {
    /// The session.
    pub(crate) id: Uuid,
    /// Its actor.
    pub(crate) session: Addr<SessionActor>,
}

/// The workers' end: handed out with every allowance.
#[derive(Debug, Clone)]
pub(crate) struct Arrivals(Sender<Arrival>);

impl Arrivals {
    /// Tells the registry of `session`, without waking it.
    pub(crate) fn announce(&self, id: Uuid, session: Addr<SessionActor>) {
        // Fails only once the registry is gone, with the daemon: nobody is left to tell.
        let _ = self.0.send(Arrival { id, session });
    }
}

/// The registry's end.
#[derive(Debug)]
pub(crate) struct Arrived(Receiver<Arrival>);

impl Arrived {
    /// Every session that has arrived since the last call.
    pub(crate) fn take(&self) -> impl Iterator<Item = Arrival> + '_ {
        self.0.try_iter()
    }
}

/// A new channel of arrivals.
pub(crate) fn channel_pair() -> (Arrivals, Arrived) {
    let (sender, receiver) = channel();
    (Arrivals(sender), Arrived(receiver))
}
