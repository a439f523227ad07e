//! The messages the [`SessionRegistry`](super::SessionRegistry) understands, with their replies.
//!
//! Replies hand out a session's actor (`Addr<SessionActor>`) to talk to next; the registry stands
//! above the sessions, so naming their actor here ties nothing back. (A session's own word to the
//! registry when it stops, [`Forget`](crate::Forget), is declared beside the session's actor for
//! the same reason.)

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use actix::ArbiterHandle;
use actix::prelude::*;
use uuid::Uuid;

use crate::admission::Allowance;
use crate::cluster::Unavailable;
use crate::session::SessionActor;

/// To the registry, or to a worker's [`SessionDirectory`](crate::SessionDirectory) (which
/// creates the session itself when it holds leave to, and asks the registry otherwise): create a
/// session for `cwd`. Replies with its id, token and address.
#[derive(Debug, Message)]
#[rtype(result = "Result<CreatedSession, CreateError>")]
pub struct Create {
    /// The session's working directory, already made absolute and checked by the caller. Shared:
    /// most sessions have the daemon's default, and each would otherwise keep a copy of it.
    pub cwd: Arc<Path>,
    /// A free-form name for dashboards.
    pub label: Option<String>,
    /// Who asks for it.
    pub by: Creator,
    /// The arbiter (thread) the session's actor should run on: the HTTP worker that asked, so
    /// that its requests there reach the session without crossing threads. `None`: the
    /// registry's own. A directory always starts the session on its own worker.
    pub home: Option<ArbiterHandle>,
    /// A shorter idle timeout that applies until the session's first tool call (see
    /// [`SessionLimits::unused_timeout`](crate::SessionLimits::unused_timeout)); `None`: the
    /// idle timeout from the start.
    pub unused_timeout: Option<std::time::Duration>,
}

/// Who creates a session, which decides the limits it is created under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creator {
    /// A client at this address: creations are rate-limited per address, and the session ends
    /// when it has been idle for the configured timeout.
    Client(IpAddr),
    /// The daemon itself, for its own use: neither rate-limited, nor counted against the limit
    /// of sessions, nor ever idle.
    Daemon,
}

/// The reply to [`Create`]: everything the client needs, and the actor to talk to next.
#[derive(Debug)]
pub struct CreatedSession {
    /// The new session's id.
    pub id: Uuid,
    /// The token, in the only form it will ever be shown.
    pub token: String,
    /// The session's working directory.
    pub cwd: Arc<Path>,
    /// The session's actor.
    pub session: Addr<SessionActor>,
    /// For a client's session made by the registry: leave for the worker that asked to admit
    /// that client's next sessions itself (see [`admission`](crate::admission)).
    pub(crate) allowance: Option<Allowance>,
}

/// To the registry, from a worker's directory: [`Create`], for a client whose creation the worker
/// counted against the client's window already (its allowance found no room under
/// `max_sessions`), so that only that limit is left to check.
#[derive(Debug, Message)]
#[rtype(result = "Result<CreatedSession, CreateError>")]
pub(crate) struct CreateCounted(pub(crate) Create);

/// Why [`Create`] was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CreateError {
    /// The configured maximum number of live clients' sessions is reached.
    #[error("the daemon already holds its maximum of {0} sessions")]
    TooManySessions(usize),
    /// The client's address has created its allowance of sessions for this minute.
    #[error(
        "this client address already created {limit} sessions this minute; try again in {retry_after_secs} s"
    )]
    RateLimited {
        /// Sessions one address may create per minute.
        limit: usize,
        /// Seconds until it may create one again.
        retry_after_secs: u64,
    },
    /// The cluster store could not record the session.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// The registry did not answer a worker in time: it is overloaded, or the daemon is
    /// shutting down.
    #[error("the session registry did not answer; the daemon is busy or shutting down")]
    Unanswered,
}

/// To the registry: the actor of session `0`, if it exists.
#[derive(Debug, Message)]
#[rtype(result = "Option<Addr<SessionActor>>")]
pub struct Lookup(pub Uuid);

/// To the registry: the actor of session `id`, loading it from the cluster store (cluster mode)
/// when no actor of it runs here; one loaded is started on `home`. `None` when there is no such
/// session.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<Addr<SessionActor>>, Unavailable>")]
pub struct Locate {
    /// The session.
    pub id: Uuid,
    /// Where to start its actor, should it have to be started.
    pub home: ArbiterHandle,
}

/// To the registry: every live session, in no particular order, for an administrator's listing.
/// Sessions that stopped unnoticed are dropped from the answer (and from the registry).
#[derive(Debug, Message)]
#[rtype(result = "Vec<ListedSession>")]
pub struct ListSessions;

/// One entry of the reply to [`ListSessions`].
#[derive(Debug, Clone)]
pub struct ListedSession {
    /// The session's id.
    pub id: Uuid,
    /// Its actor, to ask for [`Describe`](crate::Describe).
    pub session: Addr<SessionActor>,
    /// Whether the daemon created it for itself ([`Creator::Daemon`]) rather than a client.
    pub by_daemon: bool,
}

/// To the registry: the daemon is shutting down. Every session's event streams close, so that
/// followers do not hold the shutdown up; running calls go on, to finish within the daemon's
/// grace period.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Shutdown;
