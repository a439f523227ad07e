//! Sessions: one [`SessionActor`] per session on this node, and the stores that keep them.
//!
//! The actor owns the session's state here: identity, activity, followers and running calls. It
//! knows which tool calls run in the session, by request id, so that a client's
//! `notifications/cancelled` can reach the right call, a per-session limit on concurrent calls can
//! be enforced, and ending the session cancels everything it started.
//!
//! Where the session is kept is behind one seam ([`store`]): in this process alone ([`local`]:
//! the actor is the session, its events in a bounded history), or in the cluster's Redis
//! ([`cluster`]: the actor serves, on this node, a session every node can reach, and its events
//! come back to it through this node's [`feed`]). The [`handlers`] are the same for both.
//!
//! - [`actor`]: the actor's state, its idle timer, publishing and ending;
//! - [`followers`]: handing events to followers without ever waiting for one;
//! - [`handlers`]: what it does with each of its [`messages`].

mod actor;
mod cluster;
mod feed;
mod followers;
mod handlers;
mod local;
mod messages;
mod store;

pub use actor::{Forget, SessionActor};
pub(crate) use local::LocalStore;
pub use messages::{
    AuthError, Authenticate, BeginCall, BeginCallError, CancelCall, CloseSubscriptions, Describe,
    EndCall, Publish, SessionInfo, Stop, Subscribe, SubscribeAfter, SubscribeError, UpdateSettings,
};
pub(crate) use store::{SessionStore, StoredSession};
