//! Sessions kept in this process alone: the actor is the session.
//!
//! Nothing is written anywhere else, so every answer is known at once. The session's events are
//! numbered and kept in its [`History`], bounded in events and in bytes, and its actor hands each
//! one to its followers as it is published; a follower that resumes is replayed from the history.
//! A session idle for its timeout ends, and one whose actor is dropped ends with it.
//!
//! A node of a cluster keeps its own daemon session here too: it serves that node alone.

use std::time::Duration;

use actix::Recipient;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::feed::FeedUpdate;
use super::messages::SubscribeError;
use super::store::{Answer, Published, Replay, SessionStore, StoredSession};
use crate::cluster::{SessionRecord, StoreError};
use crate::event::SerializedEvent;
use crate::history::History;
use crate::limits::SessionLimits;
use crate::settings::SessionSettings;

/// Where a daemon alone keeps sessions: in their actors.
pub(crate) struct LocalStore;

impl SessionStore for LocalStore {
    fn creates_here(&self) -> bool {
        true
    }

    /// Nothing to write: the actor about to start is the session.
    fn create(&self, _: &SessionRecord, _: Option<Duration>) -> Answer<Result<(), StoreError>> {
        Answer::Now(Ok(()))
    }

    /// A session with no actor here does not exist.
    fn load(&self, _: Uuid) -> Answer<Result<Option<SessionRecord>, StoreError>> {
        Answer::Now(Ok(None))
    }

    fn open(&self, _: Uuid, limits: &SessionLimits) -> Box<dyn StoredSession> {
        Box::new(LocalSession {
            history: History::new(limits.history, limits.history_bytes),
        })
    }
}

/// A session kept in this process: the recent events its followers may be replayed.
struct LocalSession {
    history: History,
}

impl StoredSession for LocalSession {
    /// The actor's own record of activity is the only one.
    fn refresh(&self, _: Option<Duration>, _: DateTime<Utc>) -> Answer<Result<bool, StoreError>> {
        Answer::Now(Ok(true))
    }

    /// Nothing lapses meanwhile: look when the session could first have been idle that long.
    fn refresh_every(&self, idle_timeout: Duration) -> Duration {
        idle_timeout
    }

    /// Nobody else uses it: idle here is idle.
    fn survives_idle(&self) -> Answer<Result<bool, StoreError>> {
        Answer::Now(Ok(false))
    }

    fn outlives_actor(&self) -> bool {
        false
    }

    fn publish(&mut self, event: SerializedEvent) -> Answer<Published> {
        Answer::Now(Published::Here(self.history.record(event)))
    }

    fn follow(
        &self,
        seen: Option<u64>,
        _: Option<Duration>,
        _: DateTime<Utc>,
    ) -> Answer<Result<Replay, SubscribeError>> {
        Answer::Now(Ok(Replay {
            // The history holds every id handed out: nothing to hold back.
            seen: 0,
            items: seen.map_or_else(Vec::new, |seen| self.history.since(seen)),
            // Events reach the followers as they are published.
            feed_from: None,
        }))
    }

    fn start_feed(&mut self, _: u64, _: Recipient<FeedUpdate>) {}

    fn stop_feed(&mut self) {}

    fn advance(&mut self, _: u64) -> Option<u64> {
        None
    }

    /// The actor's copy is the only one.
    fn save_settings(&self, _: &SessionSettings) -> Answer<Result<bool, StoreError>> {
        Answer::Now(Ok(true))
    }

    /// Nothing to delete: the session ends with its actor.
    fn close(&self) -> Answer<Result<(), StoreError>> {
        Answer::Now(Ok(()))
    }
}
