//! The per-worker directory of sessions.
//!
//! - [`actor`]: [`SessionDirectory`] itself, and how a request finds its session
//!   ([`Authorize`]);
//! - [`known`]: the addresses it has met ([`KnownSessions`]), which the worker's handlers read
//!   without asking it;
//! - [`create`]: how it creates its worker's sessions ([`Create`](crate::Create)), by itself
//!   when the registry has given it leave to.

mod actor;
mod create;
mod known;

pub use actor::{Authorize, Authorized, SessionDirectory};
pub use known::KnownSessions;
