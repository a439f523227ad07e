//! The messages a session's actor understands, one small struct each, with the reply it gets.
//!
//! The daemon talks to a session only through these, and they read the same whether the session
//! lives in this process alone or in the cluster's store. Messages that untrusted input can drive
//! are sent with `send` (which waits for mailbox room) or `try_send`, never `do_send`, whose
//! disregard for the mailbox bound would let a flood grow memory without limit.
//!
//! None of them names the actor itself, so that the actor's own file can import them and nothing
//! here imports it back.

use std::path::Path;
use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::cluster::Unavailable;
use crate::event::SerializedEvent;
use crate::settings::SessionSettings;
use crate::subscriber::StreamItem;

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
    /// Cancelled when the session's actor stops (the session ended, or in cluster mode its
    /// actor on this node went idle): what lives only as long as it, such as its own upstream
    /// MCP servers, ends with it.
    pub ended: CancellationToken,
}

/// To a session: record what the client established. `None` fields are left as they are.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct UpdateSettings(pub SessionSettings);

/// Why [`Authenticate`] or [`Authorize`](crate::Authorize) was refused.
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
    /// In cluster mode, the session's events could not be read from the cluster store.
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
/// node; refused, and nothing ends, when the cluster store cannot be reached.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), Unavailable>")]
pub struct Stop;
