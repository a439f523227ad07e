//! Every message the session actors understand, one small struct each, with the reply it gets.
//!
//! The daemon talks to sessions only through these. Messages that untrusted input can drive are
//! sent with `send` (which waits for mailbox room) or `try_send`, never `do_send`, whose disregard
//! for the mailbox bound would let a flood grow memory without limit.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix::ArbiterHandle;
use actix::prelude::*;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::cluster::Unavailable;
use crate::event::SerializedEvent;
use crate::session::SessionActor;
use crate::settings::SessionSettings;
use crate::subscriber::StreamItem;

/// To the registry: create a session for `cwd`. Replies with its id, token and address.
#[derive(Debug, Message)]
#[rtype(result = "Result<CreatedSession, CreateError>")]
pub struct Create {
    /// The session's working directory, already made absolute and checked by the caller.
    pub cwd: PathBuf,
    /// A free-form name for dashboards.
    pub label: Option<String>,
    /// Who asks for it.
    pub by: Creator,
    /// The arbiter (thread) the session's actor should run on: the HTTP worker that asked, so
    /// that its requests there reach the session without crossing threads. `None`: the
    /// registry's own.
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
}

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
    /// The shared store (cluster mode) could not record the session.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// To the registry: the actor of session `0`, if it exists.
#[derive(Debug, Message)]
#[rtype(result = "Option<Addr<SessionActor>>")]
pub struct Lookup(pub Uuid);

/// To the registry: the actor of session `id`, loading it from the shared store (cluster mode)
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

/// To a worker's [`SessionDirectory`](crate::SessionDirectory): find session `id` and check
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
    /// Its actor, to ask for [`Describe`].
    pub session: Addr<SessionActor>,
    /// Whether the daemon created it for itself ([`Creator::Daemon`]) rather than a client.
    pub own: bool,
}

/// To the registry, from a session's actor that has stopped, however it ended: forget it.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Forget {
    /// The session.
    pub id: Uuid,
    /// The actor that stopped. In cluster mode a session may get a new actor here while the
    /// old one's word is on its way; only the actor named is forgotten.
    pub session: Addr<SessionActor>,
}

/// To the registry: the daemon is shutting down. Every session's event streams close, so that
/// followers do not hold the shutdown up; running calls go on, to finish within the daemon's
/// grace period.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// To a session: check a presented token. Counts as activity, which keeps the session from
/// expiring. Replies with the session's facts.
#[derive(Debug, Message)]
#[rtype(result = "Result<SessionInfo, AuthError>")]
pub struct Authenticate {
    /// The bearer token the client presented.
    pub token: String,
}

/// To a session: its facts, for a caller the daemon has already authorized by other means (an
/// administrator). Unlike [`Authenticate`] it takes no token and is not activity: looking at a
/// session does not keep it alive.
#[derive(Debug, Message)]
#[rtype(result = "SessionInfo")]
pub struct Describe;

/// What a session is, as an authenticated caller may see it.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// The session's id.
    pub id: Uuid,
    /// Its working directory: tools resolve relative paths against it.
    pub cwd: Arc<Path>,
    /// Its label, if the creator gave one.
    pub label: Option<Arc<str>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The last time it was used: a request authenticated against it, or one of its events
    /// streams or tool calls ended.
    pub last_activity: DateTime<Utc>,
    /// How many events streams follow it right now.
    pub subscribers: usize,
    /// How many tool calls run in it right now.
    pub running_calls: usize,
    /// What the client said about itself at `initialize` and since.
    pub settings: SessionSettings,
}

/// To a session: record what the client established. `None` fields are left as they are.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct UpdateSettings(pub SessionSettings);

/// Why [`Authenticate`] or [`Authorize`] was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// No such session (any more), or the presented token is not its token: callers answer
    /// both the same way, so that nobody can probe which sessions exist.
    #[error("the token does not match the session")]
    Unauthorized,
    /// In cluster mode, whether the session still exists could not be checked.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// To a session: follow its events. Replies with a bounded receiver of every event published from
/// now on, with explicit notice of any it had to drop and of the session's end (see
/// [`StreamItem`]); dropping the receiver unsubscribes. An open subscription keeps the session
/// from expiring.
#[derive(Debug, Message)]
#[rtype(result = "Result<mpsc::Receiver<StreamItem>, SubscribeError>")]
pub struct Subscribe;

/// To a session: follow its events from just after event `0`, as a follower reconnecting with
/// `Last-Event-ID` asks. The receiver first holds the events after that one still in the
/// session's history (opening with a [`StreamItem::Lagged`] count of those no longer there),
/// then continues exactly as for [`Subscribe`], with no gap and no duplicate between the two.
#[derive(Debug, Message)]
#[rtype(result = "Result<mpsc::Receiver<StreamItem>, SubscribeError>")]
pub struct SubscribeAfter(pub u64);

/// Why [`Subscribe`] was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubscribeError {
    /// The session already has its configured maximum of subscribers.
    #[error("the session already has its maximum of {0} subscribers")]
    TooManySubscribers(usize),
    /// The session ended meanwhile (cluster mode: on another node, or it expired).
    #[error("the session has ended")]
    Ended,
    /// In cluster mode, the session's events could not be read from the shared store.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// To a session: deliver an event to every subscriber. Never waits on a slow subscriber.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Publish(pub SerializedEvent);

/// To a session: a tool call is starting. Replies whether the session admits it; an admitted
/// call must be followed by [`EndCall`] with the same key when it ends, however it ends.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), BeginCallError>")]
pub struct BeginCall {
    /// The call's request id, as JSON text (so `1` and `"1"` differ).
    pub key: String,
    /// Cancelled by [`CancelCall`] or when the session ends.
    pub cancel: CancellationToken,
}

/// Why [`BeginCall`] was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BeginCallError {
    /// The session already runs its configured maximum of calls.
    #[error("this session already runs its maximum of {0} tool calls")]
    TooManyCalls(usize),
    /// A call with the same request id is still running in this session.
    #[error("a call with request id {0} is already running in this session")]
    DuplicateId(String),
}

/// To a session: the call with this key has ended.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct EndCall {
    /// The key given to [`BeginCall`].
    pub key: String,
}

/// To a session: cancel the running call with this key. Replies whether one was running.
#[derive(Debug, Message)]
#[rtype(result = "bool")]
pub struct CancelCall {
    /// The request id of the call, as JSON text.
    pub key: String,
}

/// To a session: close every events stream following it, without a word (the daemon is shutting
/// down).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct CloseSubscriptions;

/// To a session: end now. Its followers get [`StreamItem::SessionEnded`] and their streams close,
/// its running calls are cancelled, and the registry forgets it. In cluster mode it ends on every
/// node; refused, and nothing ends, when the shared store cannot be reached.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), Unavailable>")]
pub struct Stop;
