//! The per-worker directory of sessions.
//!
//! - [`actor`]: [`SessionDirectory`] itself, and how a request finds its session
//!   ([`Authorize`]).

mod actor;

pub use actor::{Authorize, Authorized, SessionDirectory};
