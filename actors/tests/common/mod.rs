//! What the actors crate's integration tests share.

use construct_actors::SessionLimits;

/// Small per-session bounds, so that tests reach them quickly: 8 events queued per follower, 3
/// followers, 2 calls, 16 events of history; sessions never expire.
pub const SESSION_LIMITS: SessionLimits = SessionLimits {
    subscriber_queue: 8,
    subscriber_queue_bytes: 1 << 20,
    max_subscribers: 3,
    max_calls: 2,
    history: 16,
    history_bytes: 1 << 20,
    idle_timeout: None,
    unused_timeout: None,
};
