//! The `[sessions]` section: how many sessions may live and be created, how long an idle one
//! lasts, and the bounds on its followers, its history, a call's queue and stream tickets, with
//! the checks of its values.
//!
//! The daemon hands these to the session core ([`construct_actors`]) at start, which keeps no
//! settings file of its own; the HTTP streams read the reconnect hint and the call queue.

use std::time::Duration;

use construct_actors::{RegistryLimits, SessionLimits};
use serde::{Deserialize, Serialize};

use crate::setting::{self, InvalidSetting};

/// `[sessions]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionsConfig {
    /// The most sessions alive at once; creating one more is answered `503`.
    pub max_sessions: usize,
    /// Sessions one client address may create per minute; one more is answered `429`.
    pub create_per_minute: usize,
    /// A session with no request, no open events stream and no running call for this long ends.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// The most events streams following one session; one more is answered `429`.
    pub max_subscribers: usize,
    /// Events that may wait for one slow follower before further ones are dropped for it (and
    /// counted, in an `event: lagged`).
    pub subscriber_queue: usize,
    /// Bytes of events that may wait for one slow follower, likewise: whichever of the two bounds
    /// is reached first drops.
    pub subscriber_queue_bytes: usize,
    /// Recent events each session keeps for followers resuming with `Last-Event-ID`.
    pub history: usize,
    /// Bytes of recent events each session keeps at most; the oldest go first, and a follower
    /// resuming before them is told how many it missed.
    pub history_bytes: usize,
    /// How soon a follower whose events stream broke should reconnect (the SSE `retry:` field).
    #[serde(with = "humantime_serde")]
    pub retry: Duration,
    /// Progress notifications that may wait for a slow `tools/call` reader before further ones
    /// are dropped for it (the final response is never dropped).
    pub call_queue: usize,
    /// How long a stream ticket (`POST /session/{id}/ticket`) stays good.
    #[serde(with = "humantime_serde")]
    pub ticket_ttl: Duration,
    /// Stream tickets outstanding at most, daemon-wide; one more is answered `503`.
    pub max_tickets: usize,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        Self {
            max_sessions: 10_000,
            create_per_minute: 60,
            idle_timeout: Duration::from_secs(24 * 60 * 60),
            max_subscribers: 64,
            subscriber_queue: 256,
            subscriber_queue_bytes: 256 * 1024,
            history: 256,
            history_bytes: 256 * 1024,
            retry: Duration::from_secs(3),
            call_queue: 256,
            ticket_ttl: Duration::from_secs(30),
            max_tickets: 1024,
        }
    }
}

impl SessionsConfig {
    /// The bounds the session core works within; `max_calls` comes from `[tools]`.
    pub fn registry_limits(&self, max_calls: usize) -> RegistryLimits {
        RegistryLimits {
            max_sessions: self.max_sessions,
            create_per_minute: self.create_per_minute,
            session: SessionLimits {
                subscriber_queue: self.subscriber_queue,
                subscriber_queue_bytes: self.subscriber_queue_bytes,
                max_subscribers: self.max_subscribers,
                max_calls,
                history: self.history,
                history_bytes: self.history_bytes,
                idle_timeout: Some(self.idle_timeout),
                unused_timeout: None,
            },
        }
    }

    /// Checks the bounds and lifetimes that cannot be zero.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        setting::at_least_one("sessions.max_sessions", self.max_sessions)?;
        setting::at_least_one("sessions.create_per_minute", self.create_per_minute)?;
        setting::longer_than_zero("sessions.idle_timeout", self.idle_timeout)?;
        setting::at_least_one("sessions.max_subscribers", self.max_subscribers)?;
        setting::at_least_one("sessions.subscriber_queue", self.subscriber_queue)?;
        setting::at_least_one(
            "sessions.subscriber_queue_bytes",
            self.subscriber_queue_bytes,
        )?;
        setting::at_least_one("sessions.history", self.history)?;
        setting::at_least_one("sessions.history_bytes", self.history_bytes)?;
        setting::longer_than_zero("sessions.retry", self.retry)?;
        setting::at_least_one("sessions.call_queue", self.call_queue)?;
        setting::longer_than_zero("sessions.ticket_ttl", self.ticket_ttl)?;
        setting::at_least_one("sessions.max_tickets", self.max_tickets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `[sessions]` section of `text`, read and checked as the configuration does.
    fn from_toml(text: &str) -> Result<SessionsConfig, InvalidSetting> {
        setting::read_section(text, "sessions", SessionsConfig::validate)
    }

    #[test]
    fn session_lifetimes_and_bounds_must_be_positive() {
        for (text, key) in [
            ("idle_timeout = \"0s\"", "sessions.idle_timeout"),
            ("retry = \"0ms\"", "sessions.retry"),
            ("history = 0", "sessions.history"),
            ("history_bytes = 0", "sessions.history_bytes"),
            (
                "subscriber_queue_bytes = 0",
                "sessions.subscriber_queue_bytes",
            ),
            ("create_per_minute = 0", "sessions.create_per_minute"),
        ] {
            let err = from_toml(&format!("[sessions]\n{text}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(key), "{err}");
        }
    }

    #[test]
    fn stream_tickets_must_live_longer_than_zero() {
        let err = from_toml("[sessions]\nticket_ttl = \"0s\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("sessions.ticket_ttl:"), "{err}");
    }
}
