//! Cluster mode's store: the sessions and events several daemons share through one Redis.
//!
//! Alone, a daemon keeps each session in a [`SessionActor`](crate::SessionActor). In a cluster a
//! client may reach any node, so whatever another node must see lives in Redis instead: who the
//! session is (a [`SessionRecord`], with a [`TokenDigest`](crate::token::TokenDigest), never the
//! token) and the numbered events it published. Every node then authenticates, replays and
//! follows any session the same way, and event `N` means the same event on all of them. (How a
//! node's actors use this store is the seam in `session/store.rs`, implemented for it in
//! `session/cluster.rs`.)
//!
//! - [`ClusterStore`]: one multiplexed, self-reconnecting connection per daemon, for every short
//!   command; the multi-key steps are Lua scripts so that no two nodes can interleave them.
//! - [`SessionFeed`]: one follower's blocking read of a session's events, on a connection of its
//!   own so that waiting never holds up the shared one.
//!
//! The store never makes the daemon fail to start: it connects lazily, and while Redis is away
//! every call ends within the configured timeout with [`StoreError::Unavailable`].

mod config;
mod entry;
mod error;
mod feed;
mod keys;
mod record;
mod scripts;
mod store;

pub use config::{ClusterConfig, DEFAULT_PREFIX, DEFAULT_TIMEOUT};
pub use entry::{EntryKind, StreamEntry};
pub use error::{StoreError, Unavailable};
pub use feed::{FeedItem, SessionFeed};
pub use record::SessionRecord;
pub use store::{ClusterStore, END_GRACE};
