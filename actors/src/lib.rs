//! The session core of construct-actor: sessions, their events and their followers, as actors.
//!
//! This crate knows nothing of HTTP. A [`SessionRegistry`] owns every session; each session is a
//! [`SessionActor`] holding its identity, activity and subscribers, running on the thread of the
//! HTTP worker that created it; each worker reaches sessions through its own
//! [`SessionDirectory`], so that most requests never cross threads. The daemon asks them things
//! only by sending them messages, each declared beside the actor that handles it; no lock guards
//! any of this state. In cluster mode
//! ([`cluster`]) sessions and their events live in Redis, and a session's actor is one node's face
//! of it.

pub mod cluster;
pub mod directory;
pub mod event;
pub mod history;
mod limits;
pub mod queue_bytes;
mod rate_limit;
pub mod registry;
pub mod session;
pub mod session_metrics;
mod settings;
pub mod subscriber;
pub mod ticket;
pub mod token;

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
