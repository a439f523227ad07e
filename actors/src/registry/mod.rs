//! The registry: the one actor that knows every session on this node.
//!
//! - [`actor`]: [`SessionRegistry`] itself: its map of sessions, the limits it enforces, what it
//!   does on each message;
//! - [`messages`]: what it understands, with their replies.

mod actor;
mod messages;

pub use actor::SessionRegistry;
pub use messages::{
    Create, CreateError, CreatedSession, Creator, ListSessions, ListedSession, Locate, Lookup,
    Shutdown,
};
pub(crate) use messages::{CreateCounted, Register};
