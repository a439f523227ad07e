//! What the session core tells the daemon's metrics, through the [`metrics`] facade.
//!
//! The facts live here (sessions come and go in the registry, events fan out in the session
//! actor), so they are counted here; how they are exported is the daemon's business, and without
//! an installed recorder (this crate's tests, or metrics turned off) every handle is a no-op.
//! Names are static and the only label (an end reason) is one of two static words; a session
//! takes its handles once, when it is created, so counting an event costs an atomic add, never
//! a lookup or a string.

use metrics::{Counter, Gauge, Unit, counter, describe_counter, describe_gauge, gauge};

use crate::subscriber::EndReason;

/// Gauge: clients' sessions alive now (the daemon's own session is not counted).
pub const SESSIONS_LIVE: &str = "construct_sessions_live";
/// Counter: sessions created by clients.
pub const SESSIONS_CREATED: &str = "construct_sessions_created_total";
/// Counter: session creations refused, by `reason` (`rate_limited`, `too_many_sessions`).
pub const SESSIONS_REFUSED: &str = "construct_sessions_refused_total";
/// Counter: sessions that ended, by `reason` (`closed`, `expired`).
pub const SESSIONS_ENDED: &str = "construct_sessions_ended_total";
/// Gauge: events-stream followers of all sessions now.
pub const SUBSCRIBERS: &str = "construct_subscribers";
/// Counter: progress events published to sessions.
pub const EVENTS_PUBLISHED: &str = "construct_events_published_total";
/// Counter: published events queued for a live follower (one per follower per event).
pub const EVENTS_DELIVERED: &str = "construct_events_delivered_total";
/// Counter: published events not queued for a follower that was lagging (its queue full); each
/// reaches that follower as part of an `event: lagged` count instead.
pub const EVENTS_DROPPED: &str = "construct_events_dropped_total";

/// Registers the help text of every metric above and shows each at zero, so that a scrape lists
/// them before anything happened (values already recorded are left as they are). Call after
/// the daemon installed its recorder.
pub fn describe() {
    describe_gauge!(SESSIONS_LIVE, Unit::Count, "Clients' sessions alive now.");
    describe_counter!(
        SESSIONS_CREATED,
        Unit::Count,
        "Sessions created by clients."
    );
    describe_counter!(
        SESSIONS_REFUSED,
        Unit::Count,
        "Session creations refused, by reason."
    );
    describe_counter!(
        SESSIONS_ENDED,
        Unit::Count,
        "Sessions that ended, by reason: closed (deleted) or expired (idle)."
    );
    describe_gauge!(
        SUBSCRIBERS,
        Unit::Count,
        "Events-stream followers of all sessions now."
    );
    describe_counter!(
        EVENTS_PUBLISHED,
        Unit::Count,
        "Progress events published to sessions."
    );
    describe_counter!(
        EVENTS_DELIVERED,
        Unit::Count,
        "Published events queued for a follower, once per follower."
    );
    describe_counter!(
        EVENTS_DROPPED,
        Unit::Count,
        "Published events not queued for a lagging follower (counted in its lagged notice)."
    );
    gauge!(SESSIONS_LIVE).increment(0.0);
    counter!(SESSIONS_CREATED).increment(0);
    for reason in [RefusedReason::RateLimited, RefusedReason::TooManySessions] {
        counter!(SESSIONS_REFUSED, "reason" => reason.as_str()).increment(0);
    }
    for reason in [EndReason::Closed, EndReason::Expired] {
        counter!(SESSIONS_ENDED, "reason" => reason.as_str()).increment(0);
    }
    gauge!(SUBSCRIBERS).increment(0.0);
    counter!(EVENTS_PUBLISHED).increment(0);
    counter!(EVENTS_DELIVERED).increment(0);
    counter!(EVENTS_DROPPED).increment(0);
}

/// Why a creation was refused, as a label.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RefusedReason {
    RateLimited,
    TooManySessions,
}

impl RefusedReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::RateLimited => "rate_limited",
            Self::TooManySessions => "too_many_sessions",
        }
    }
}

/// The counter of clients' sessions created, for whoever creates them: the registry, or a worker
/// with its allowance (counted where the session is made, so the count never waits for the
/// registry to take the worker's sessions).
pub(crate) fn sessions_created() -> Counter {
    counter!(SESSIONS_CREATED)
}

/// The registry's handles.
pub(crate) struct RegistryMeters {
    pub(crate) live: Gauge,
    pub(crate) created: Counter,
}

impl RegistryMeters {
    pub(crate) fn new() -> Self {
        Self {
            live: gauge!(SESSIONS_LIVE),
            created: sessions_created(),
        }
    }

    /// One refused creation; rare, so the labelled handle is looked up each time.
    pub(crate) fn refused(reason: RefusedReason) {
        counter!(SESSIONS_REFUSED, "reason" => reason.as_str()).increment(1);
    }
}

/// One session's handles, taken when it is created.
#[derive(Clone)]
pub(crate) struct SessionMeters {
    pub(crate) published: Counter,
    pub(crate) delivered: Counter,
    pub(crate) dropped: Counter,
    pub(crate) subscribers: Gauge,
}

impl SessionMeters {
    /// The handles, looked up in the recorder once per thread and cloned for each session after
    /// that: a session is made on every creation, and four lookups in the recorder's registry (a
    /// hash and a lock each) were 2.5% of making one. The recorder is installed before the first
    /// session, so no thread keeps the handles of none.
    pub(crate) fn new() -> Self {
        thread_local! {
            static LOOKED_UP: SessionMeters = SessionMeters {
                published: counter!(EVENTS_PUBLISHED),
                delivered: counter!(EVENTS_DELIVERED),
                dropped: counter!(EVENTS_DROPPED),
                subscribers: gauge!(SUBSCRIBERS),
            };
        }
        LOOKED_UP.with(Self::clone)
    }

    /// `count` followers left the session.
    pub(crate) fn followers_left(&self, count: usize) {
        if count > 0 {
            self.subscribers.decrement(count as f64);
        }
    }

    /// The session ended, once.
    pub(crate) fn ended(reason: EndReason) {
        counter!(SESSIONS_ENDED, "reason" => reason.as_str()).increment(1);
    }
}
