//! The registry: the one actor that knows every session on this node.
//!
//! - [`actor`]: [`SessionRegistry`] itself: its map of sessions, the limits it enforces, what it
//!   does on each message;
//! - [`messages`]: what it understands, with their replies;
//! - [`arrivals`]: the sessions workers started themselves, on their way to it without a message.

mod actor;
pub(crate) mod arrivals;
mod messages;

pub use actor::SessionRegistry;
pub(crate) use arrivals::Arrivals;
pub(crate) use messages::CreateCounted;
pub use messages::{
    Create, CreateError, CreatedSession, Creator, ListSessions, ListedSession, Locate, Lookup,
    Shutdown,
};
