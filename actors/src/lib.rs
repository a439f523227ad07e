//! The session core of construct-actor: sessions, their events and their followers, as actors.
//!
//! This crate knows nothing of HTTP. A [`SessionRegistry`] owns every session; each session is a
//! [`SessionActor`] holding its identity, activity and subscribers, running on the thread of the
//! HTTP worker that created it; each worker reaches sessions through its own
//! [`SessionDirectory`], so that most requests never cross threads. The daemon asks them things
//! only by sending the messages in [`messages`]; no lock guards any of this state. In cluster mode
//! ([`cluster`]) sessions and their events live in Redis, and a session's actor is one node's face
//! of it.

pub mod cluster;
pub mod directory;
pub mod event;
pub mod history;
pub mod messages;
pub mod queue_bytes;
mod rate_limit;
pub mod registry;
pub mod session;
pub mod session_metrics;
mod settings;
pub mod subscriber;
pub mod ticket;
pub mod token;

/// Longest anyone waits for an actor's answer: a handler for a session or registry reply, a call's
/// end for its session, a stopping session for the registry. An actor that has not answered by
/// then is stuck or overloaded, and the caller answers `503` (or gives up on a best-effort note)
/// rather than hold a connection open.
pub const ASK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Longest session label, or client name, in characters. Both come from a client and are kept for
/// the session's life and shown in every listing, so they are bounded: a label over this is
/// refused when the session is created; a client name (which no one can be asked to fix) is cut.
pub const MAX_LABEL_CHARS: usize = 256;

pub use cluster::Unavailable;
pub use directory::SessionDirectory;
pub use event::{ProgressEvent, ProgressToken, PublishedEvent, SerializedEvent};
pub use messages::{
    AuthError, Authenticate, Authorize, Authorized, BeginCall, BeginCallError, CancelCall,
    CloseSubscriptions, Create, CreateError, CreatedSession, Creator, Describe, EndCall, Forget,
    ListSessions, ListedSession, Locate, Lookup, Publish, SessionInfo, Shutdown, Stop, Subscribe,
    SubscribeAfter, SubscribeError, UpdateSettings,
};
pub use registry::{RegistryLimits, SessionRegistry};
pub use session::{SessionActor, SessionLimits};
pub use settings::SessionSettings;
pub use subscriber::{EndReason, StreamItem};
pub use ticket::{IssueTicket, IssuedTicket, RedeemTicket, TicketBook, TicketError, TicketLimits};
