//! Every message the session actors understand, one small struct each, with the reply it gets.
//!
//! The daemon talks to sessions only through these. Messages that untrusted input can drive are
//! sent with `send` (which waits for mailbox room) or `try_send`, never `do_send`, whose disregard
//! for the mailbox bound would let a flood grow memory without limit.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::event::{PublishedEvent, SerializedEvent};
use crate::session::SessionActor;

/// To the registry: create a session for `cwd`. Replies with its id, token and address.
#[derive(Debug, Message)]
#[rtype(result = "Result<CreatedSession, CreateError>")]
pub struct Create {
    /// The session's working directory, already made absolute and checked by the caller.
    pub cwd: PathBuf,
    /// A free-form name for dashboards.
    pub label: Option<String>,
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
    /// The configured maximum number of live sessions is reached.
    #[error("the daemon already holds its maximum of {0} sessions")]
    TooManySessions(usize),
}

/// To the registry: the actor of session `0`, if it exists.
#[derive(Debug, Message)]
#[rtype(result = "Option<Addr<SessionActor>>")]
pub struct Lookup(pub Uuid);

/// To the registry: the daemon is shutting down. Every session's event streams close, so that
/// followers do not hold the shutdown up; running calls go on, to finish within the daemon's
/// grace period.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// To a session: check a presented token. Counts as activity. Replies with the session's facts.
#[derive(Debug, Message)]
#[rtype(result = "Result<SessionInfo, Unauthorized>")]
pub struct Authenticate {
    /// The bearer token the client presented.
    pub token: String,
}

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
    /// The last time a request authenticated against it.
    pub last_activity: DateTime<Utc>,
    /// How many events streams follow it right now.
    pub subscribers: usize,
    /// How many tool calls run in it right now.
    pub running_calls: usize,
    /// What the client said about itself at `initialize` and since.
    pub settings: SessionSettings,
}

/// Protocol facts a standard MCP client established for its session: the revision negotiated at
/// `initialize` and the level set by `logging/setLevel`. Both absent for Construct sessions until
/// their client says otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionSettings {
    /// The protocol revision negotiated at `initialize`.
    pub protocol_version: Option<Arc<str>>,
    /// The minimum level of log messages the client wants (`debug` … `emergency`).
    pub log_level: Option<Arc<str>>,
}

/// To a session: record what the client established. `None` fields are left as they are.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct UpdateSettings {
    /// Set at `initialize`.
    pub protocol_version: Option<String>,
    /// Set by `logging/setLevel`.
    pub log_level: Option<String>,
}

/// The presented token is not the session's.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the token does not match the session")]
pub struct Unauthorized;

/// To a session: follow its events. Replies with a bounded receiver of every event published from
/// now on; dropping the receiver unsubscribes.
#[derive(Debug, Message)]
#[rtype(result = "Result<mpsc::Receiver<PublishedEvent>, SubscribeError>")]
pub struct Subscribe;

/// Why [`Subscribe`] was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubscribeError {
    /// The session already has its configured maximum of subscribers.
    #[error("the session already has its maximum of {0} subscribers")]
    TooManySubscribers(usize),
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

/// To a session: close every events stream following it (the daemon is shutting down).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct CloseSubscriptions;

/// To a session: end now. Its subscribers' streams close and its running calls are cancelled.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Stop;
