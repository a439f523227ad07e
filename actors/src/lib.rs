//! The session core of construct-actor: sessions, their events and their followers, as actors.
//!
//! This crate knows nothing of HTTP. A [`SessionRegistry`] owns every session on a node; each
//! session is a [`SessionActor`] holding its identity, activity, followers and running calls,
//! running on the thread of the HTTP worker that created it; each worker reaches sessions through
//! its own [`SessionDirectory`], so that most requests never cross threads. The daemon asks them
//! things only by sending them messages (each declared beside the actor that handles it); no
//! lock guards any of this state.
//!
//! Where sessions are kept is behind one seam, two traits with one implementation per mode:
//! the registry asks a store to keep new sessions and to find sessions it has no actor of, and
//! each session's actor asks its stored session to publish, replay, refresh and end it. A daemon
//! alone keeps sessions in this process (the actor is the session); in cluster mode ([`cluster`])
//! they live in Redis, every node reaching every session, and each node's actor of a session
//! serves it there. The registry's and the actors' handlers are the same in both modes.
//!
//! Modules from the top down, none importing one above it: [`SessionDirectory`] (one per worker)
//! → [`SessionRegistry`] → the sessions (actor, messages, the seam and its two stores) → the
//! cluster's Redis store → events, followers' queues, history, tokens, settings and [limits]
//! (`limits`).

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
pub use directory::{Authorize, Authorized, SessionDirectory};
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
