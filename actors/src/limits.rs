//! Every bound the session core works within: those the daemon configures ([`RegistryLimits`],
//! [`SessionLimits`]) and the two fixed ones the daemon shares with it ([`ASK_TIMEOUT`],
//! [`MAX_LABEL_CHARS`]).
//!
//! They are kept apart from the actors that enforce them so that each is written once, and so
//! that the registry, the sessions and the daemon can all name them without naming each other.

use std::time::Duration;

/// Longest anyone waits for an actor's answer: a handler for a session or registry reply, a call's
/// end for its session, a stopping session for the registry. An actor that has not answered by
/// then is stuck or overloaded, and the caller answers `503` (or gives up on a best-effort note)
/// rather than hold a connection open.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest session label, or client name, in characters. Both come from a client and are kept for
/// the session's life and shown in every listing, so they are bounded: a label over this is
/// refused when the session is created; a client name (which no one can be asked to fix) is cut.
pub const MAX_LABEL_CHARS: usize = 256;

/// Daemon-wide bounds on sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryLimits {
    /// The most clients' sessions alive at once; further creations are refused.
    pub max_sessions: usize,
    /// How many sessions one client address may create per minute.
    pub create_per_minute: usize,
    /// The bounds each session gets.
    pub session: SessionLimits,
}

/// Per-session bounds, from the daemon's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Events that may wait for one subscriber (besides what a resuming one is replayed) before
    /// further ones are dropped, and counted, for it.
    pub subscriber_queue: usize,
    /// Bytes of event JSON that may wait for one subscriber (besides its replay), likewise.
    pub subscriber_queue_bytes: usize,
    /// How many events streams may follow one session at once.
    pub max_subscribers: usize,
    /// How many tool calls may run in one session at once.
    pub max_calls: usize,
    /// How many recent events the session keeps for followers resuming with `Last-Event-ID`.
    pub history: usize,
    /// How many bytes of their JSON it keeps at most (the newest event is always kept).
    pub history_bytes: usize,
    /// How long the session may go unused before it ends; `None`: it never expires.
    pub idle_timeout: Option<Duration>,
    /// A shorter idle timeout that applies until the first tool call begins in the session
    /// (the shorter of the two applies); `None`: `idle_timeout` from the start.
    pub unused_timeout: Option<Duration>,
}

impl SessionLimits {
    /// How long a new session may go unused: the shorter of `unused_timeout` and
    /// `idle_timeout`; `None`: it never expires.
    pub fn first_idle_timeout(&self) -> Option<Duration> {
        match (self.unused_timeout, self.idle_timeout) {
            (Some(unused), Some(idle)) => Some(unused.min(idle)),
            (unused, idle) => unused.or(idle),
        }
    }
}
