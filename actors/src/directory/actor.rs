//! `SessionDirectory`: one per HTTP worker, the way a worker's requests reach sessions.
//!
//! Every message between threads costs a wake-up of the other thread, far more than any actor's
//! work (see BENCHMARKS.md). So a session's actor runs on the worker that created it (or first
//! needed it, in cluster mode), and each worker keeps a directory: an actor on the worker's own
//! thread remembering the addresses of the sessions its requests have named. A request for a
//! session the directory knows goes from handler to directory to session without leaving the
//! thread; only the first request for a session on a worker asks the [`SessionRegistry`], which
//! stays the one owner of every session (it creates, limits, lists and forgets them).
//!
//! Each directory also creates its worker's sessions, when the registry has given it leave to
//! ([`create`](super::create)): the new session's actor starts on the worker's thread, and the
//! registry is told afterwards.
//!
//! The addresses it remembers are kept in a [`KnownSessions`] map it shares with the worker's
//! handlers, which read it without a message; the directory is asked only about sessions the
//! worker has not met yet, and to create them. Stale entries (sessions that stopped) are swept
//! periodically.

use std::time::Duration;

use actix::fut::{self, wrap_future};
use actix::prelude::*;
use metrics::Counter;
use uuid::Uuid;

use super::known::KnownSessions;
use crate::admission::Allowances;
use crate::registry::{Locate, SessionRegistry};
use crate::session::{AuthError, Authenticate, SessionActor, SessionInfo};
use crate::session_metrics::sessions_created;

/// How many requests may wait for a directory; senders await room beyond that.
const MAILBOX_CAPACITY: usize = 1024;

/// How often addresses of sessions that have stopped are dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// To a worker's [`SessionDirectory`]: find session `id` and check
/// `token` against it. Replies with the session's actor and facts; an unknown session and a
/// wrong token get the very same refusal.
#[derive(Debug, Message)]
#[rtype(result = "Result<Authorized, AuthError>")]
pub struct Authorize {
    /// The session the caller names.
    pub id: Uuid,
    /// The bearer token the caller presented.
    pub token: String,
}

/// The reply to a successful [`Authorize`].
#[derive(Debug)]
pub struct Authorized {
    /// The session's actor, to talk to next.
    pub session: Addr<SessionActor>,
    /// Its facts, as [`Authenticate`] gives them.
    pub info: SessionInfo,
}

/// One worker's memory of where sessions are.
pub struct SessionDirectory {
    pub(super) registry: Addr<SessionRegistry>,
    /// The sessions met here, shared with the worker's handlers.
    pub(super) known: KnownSessions,
    /// The registry's leave to admit clients' sessions here, by client address.
    pub(super) allowances: Allowances,
    /// Counts the sessions made here.
    pub(super) created: Counter,
}

impl SessionDirectory {
    /// A directory for the worker it is started on, asking `registry` what it does not know.
    pub fn new(registry: Addr<SessionRegistry>) -> Self {
        Self {
            registry,
            known: KnownSessions::default(),
            allowances: Allowances::default(),
            created: sessions_created(),
        }
    }

    /// The map of the sessions met here, for the worker's handlers to read (see [`KnownSessions`]).
    pub fn known(&self) -> KnownSessions {
        self.known.clone()
    }

    /// The session's address: remembered, or else asked of the registry (which starts the
    /// actor on this worker when it has to start one) and remembered.
    fn locate(
        &mut self,
        id: Uuid,
    ) -> ResponseActFuture<Self, Result<Addr<SessionActor>, AuthError>> {
        if let Some(session) = self.known.session(id) {
            return Box::pin(fut::ready(Ok(session)));
        }
        let locate = self.registry.send(Locate {
            id,
            home: Arbiter::current(),
        });
        Box::pin(
            wrap_future(locate).map(move |located, directory: &mut Self, _| {
                // A registry that is gone (shutting down) knows no session.
                let session = located
                    .map_err(|_| AuthError::Unauthorized)??
                    .ok_or(AuthError::Unauthorized)?;
                directory.known.remember(id, &session);
                Ok(session)
            }),
        )
    }
}

impl Actor for SessionDirectory {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        ctx.run_interval(SWEEP_EVERY, |directory, _| directory.known.forget_stopped());
    }
}

impl Handler<Authorize> for SessionDirectory {
    type Result = ResponseActFuture<Self, Result<Authorized, AuthError>>;

    fn handle(
        &mut self,
        Authorize { id, token }: Authorize,
        _: &mut Self::Context,
    ) -> Self::Result {
        Box::pin(self.locate(id).then(move |located, _, _| {
            wrap_future(async move {
                let session = located?;
                // A session that ended meanwhile is answered like an unknown one.
                let info = session
                    .send(Authenticate { token })
                    .await
                    .map_err(|_| AuthError::Unauthorized)??;
                Ok(Authorized { session, info })
            })
        }))
    }
}
