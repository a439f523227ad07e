//! Header names of the Construct protocol that both sides of this crate use: the daemon reads
//! them, and the client commands write them into the CLIs' configurations.

/// The header naming the session a request acts in, next to `Authorization: Bearer <token>`.
pub const SESSION_HEADER: &str = "X-Construct-Session";
