//! What the keeper of resource subscriptions is asked, by whom, and why it may refuse: the
//! messages its handle sends, the subscribers it tells, and its bounds.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::upstream::connection::Upstream;
use crate::upstream::error::UpstreamError;

/// Most resource subscriptions one subscriber may hold.
pub const PER_SUBSCRIBER: usize = 64;

/// Most resource subscriptions in the whole daemon, every subscriber's together.
pub const IN_ALL: usize = 4096;

/// Updates that may wait for one subscriber's stream; more are dropped.
pub const UPDATE_QUEUE: usize = 64;

/// Who holds subscriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// A 2025-11-25 session (`resources/subscribe`): its updates go to its standalone stream.
    Session(Uuid),
    /// A 2026-07-28 `subscriptions/listen` stream: its updates go to it, and its subscriptions
    /// end with it.
    Stream(Uuid),
}

/// A subscriber as the keeper first meets it.
#[derive(Debug, Clone)]
pub struct Subscriber {
    /// Who it is.
    pub key: Key,
    /// Its session (whose own servers, `scope = "session"`, are its alone).
    pub session: Uuid,
    /// Cancelled when its session ends: its subscriptions go then.
    pub ended: CancellationToken,
    /// A stream's own queue of updated URIs (a session's streams attach theirs, see
    /// [`Ask::Attach`]); a stream's subscriptions also end when its reader drops it.
    pub sink: Option<mpsc::Sender<Arc<str>>>,
}

impl Subscriber {
    /// The 2025-11-25 session `id`, which ends with `ended`.
    pub fn session(id: Uuid, ended: CancellationToken) -> Self {
        Self {
            key: Key::Session(id),
            session: id,
            ended,
            sink: None,
        }
    }

    /// A new listen stream of the session `session`, which ends with `ended`, and the queue
    /// it reads the updated URIs from.
    pub fn stream(session: Uuid, ended: CancellationToken) -> (Self, mpsc::Receiver<Arc<str>>) {
        let (sink, updates) = mpsc::channel(UPDATE_QUEUE);
        let subscriber = Self {
            key: Key::Stream(Uuid::new_v4()),
            session,
            ended,
            sink: Some(sink),
        };
        (subscriber, updates)
    }
}

/// A server as subscriptions know it: a shared server by its name (whichever connection it has
/// now), a session-scoped one by its name and its session (its connection is that session's).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerKey {
    /// The server's name.
    pub name: Arc<str>,
    /// The session whose own server it is; `None` for a shared server.
    pub session: Option<Uuid>,
}

/// A resource of a server: what is subscribed to upstream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// Its server.
    pub server: ServerKey,
    /// The resource's URI, the server's own.
    pub uri: Arc<str>,
}

/// Why a subscription was not taken.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Refusal {
    /// Over one of the bounds ([`PER_SUBSCRIBER`], [`IN_ALL`]).
    #[error("{0}")]
    Limit(String),
    /// The server refused it, or could not be asked.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The keeper could not take or answer the ask.
    #[error("{0}")]
    Busy(&'static str),
}

/// Where the answer to a subscription goes, once its server has answered.
pub type Reply = oneshot::Sender<Result<(), Refusal>>;

/// What the keeper is asked.
pub enum Ask {
    /// Subscribe `subscriber` to `uri` of `upstream` (subscribed upstream first, if nobody is
    /// yet).
    Subscribe {
        /// Who.
        subscriber: Subscriber,
        /// The connection a read of `uri` goes to for the subscriber.
        upstream: Upstream,
        /// The URI.
        uri: Arc<str>,
        /// Told once it holds (or why not).
        reply: Reply,
    },
    /// End `key`'s subscription to `uri` (its server unsubscribed, if nobody else holds it).
    Unsubscribe {
        /// Who.
        key: Key,
        /// The URI it subscribed to.
        uri: String,
    },
    /// A new standalone stream of the 2025-11-25 session `session`: its updates go there now.
    Attach {
        /// The session, which ends with `ended`.
        session: Uuid,
        /// Cancelled when the session ends.
        ended: CancellationToken,
        /// The stream's queue.
        sink: mpsc::Sender<Arc<str>>,
    },
}
