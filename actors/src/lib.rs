//! The session core of construct-actor: sessions, their events and their followers, as actors.
//!
//! This crate knows nothing of HTTP. A [`SessionRegistry`] owns every session on a node; each
//! session is a [`SessionActor`] holding its identity, activity, followers and running calls,
//! running on the thread of the HTTP worker that created it; each worker reaches and creates
//! sessions through its own [`SessionDirectory`], so that most requests never cross threads (a
//! worker creates a session itself with leave from the registry, which keeps the limits: see
//! `admission.rs`). The daemon asks them things only by sending them messages (each declared
//! beside the actor that handles it); no lock guards any of this state.
//!
//! Where sessions are kept is behind one seam (`session/store.rs`), so that the registry and the
//! session actors read the same whether the daemon runs alone or as one node of a cluster:
//!
//! - the registry asks a `SessionStore` to keep each new session and to find a session it has no
//!   actor of; each session's actor asks its `StoredSession` to number and keep events, replay
//!   them to a follower who resumes, refresh the session's time to live, and end it;
//! - alone (`session/local.rs`), the actor is the session: every answer is known at once and its
//!   events are kept in a bounded [`History`](history::History);
//! - in cluster mode (`session/cluster.rs`, over the Redis store in [`cluster`]), the session lives
//!   in Redis for every node, its actor serves it on this node, and its events come back to that
//!   actor through this node's feed of the session's stream.
//!
//! From the top down, no module importing one above it: [`SessionDirectory`] (one per worker),
//! [`SessionRegistry`], the admission both share, the sessions (actor, messages, the seam and its
//! two stores), the Redis store, then events, followers' queues, history, tokens, settings and
//! the limits ([`RegistryLimits`], [`SessionLimits`], [`ASK_TIMEOUT`], [`MAX_LABEL_CHARS`]).

// No function over 80 lines (clippy.toml sets the limit; tests are other crates).
#![warn(clippy::too_many_lines)]

mod admission;
pub mod cluster;
mod directory;
pub mod event;
pub mod history;
mod limits;
pub mod queue_bytes;
mod rate_limit;
mod registry;
mod session;
pub mod session_metrics;
mod settings;
pub mod subscriber;
pub mod ticket;
pub mod token;

pub use cluster::Unavailable;
pub use directory::{Authorize, Authorized, KnownSessions, SessionDirectory};
pub use event::{ProgressEvent, ProgressToken, PublishedEvent, SerializedEvent};
pub use limits::{ASK_TIMEOUT, MAX_LABEL_CHARS, RegistryLimits, SessionLimits};
pub use registry::{
    Create, CreateError, CreatedSession, Creator, ListSessions, ListedSession, Locate, Lookup,
    SessionRegistry, Shutdown,
};
pub use session::{
    AuthError, Authenticate, BeginCall, BeginCallError, CancelCall, CloseSubscriptions, Describe,
    EndCall, Forget, Publish, SessionActor, SessionInfo, Stop, Subscribe, SubscribeAfter,
    SubscribeError, UpdateSettings,
};
pub use settings::SessionSettings;
pub use subscriber::{EndReason, StreamItem};
pub use ticket::{IssueTicket, IssuedTicket, RedeemTicket, TicketBook, TicketError, TicketLimits};
