//! Sessions kept in the cluster's Redis, for every node: a session's actor serves, on this node,
//! a session whose truth is in the [`ClusterStore`].
//!
//! The actor keeps only what it needs to serve requests here without asking Redis for more than
//! it must:
//! - **tokens** are checked against the stored digest, here; each authenticated request then
//!   refreshes the session in Redis (one round trip), which is also how an end on another node,
//!   or an expiry, is noticed on the next request;
//! - **events** are published into the session's Redis stream, never handed to local followers
//!   directly: they receive them from one [feed](super::feed) per node and session, so every
//!   node sees one order and the same ids, and a follower can resume on any node;
//! - **ending** ([`Stop`](crate::Stop)) writes an end entry that every node's feed turns into
//!   `session-ended` for its own followers.
//!
//! An actor left idle here while the session lives on (other nodes use it) goes quietly; the
//! next request on this node loads the session again.

use std::time::Duration;

use actix::Recipient;
use chrono::{DateTime, Utc};
use tokio_util::sync::{CancellationToken, DropGuard};
use uuid::Uuid;

use super::feed::{FeedUpdate, run_feed};
use super::messages::SubscribeError;
use super::store::{Answer, Published, Replay, SessionStore, StoredSession};
use crate::cluster::{
    ClusterStore, EntryKind, SessionFeed, SessionRecord, StoreError, StreamEntry, Unavailable,
};
use crate::event::{PublishedEvent, SerializedEvent};
use crate::history::oldest_over_budget;
use crate::limits::SessionLimits;
use crate::settings::SessionSettings;
use crate::subscriber::{EndReason, StreamItem};

impl SessionStore for ClusterStore {
    /// A session must be in Redis, for every node to find, before its client may use it.
    fn creates_here(&self) -> bool {
        false
    }

    fn create(
        &self,
        record: &SessionRecord,
        ttl: Option<Duration>,
    ) -> Answer<Result<(), StoreError>> {
        let (store, record) = (self.clone(), record.clone());
        Answer::later(async move { store.create_session(&record, ttl).await })
    }

    fn load(&self, id: Uuid) -> Answer<Result<Option<SessionRecord>, StoreError>> {
        let store = self.clone();
        Answer::later(async move { store.load_session(id).await })
    }

    fn open(&self, id: Uuid, limits: &SessionLimits) -> Box<dyn StoredSession> {
        Box::new(ClusterSession {
            store: self.clone(),
            id,
            history: limits.history,
            history_bytes: limits.history_bytes,
            feed: None,
            delivered: 0,
        })
    }
}

/// One session kept in Redis, as its actor on this node reaches it.
struct ClusterSession {
    store: ClusterStore,
    id: Uuid,
    /// About how many events the session's stream keeps.
    history: usize,
    /// How many bytes of events a resuming follower is replayed at most.
    history_bytes: usize,
    /// While there are local followers: stops this node's feed when dropped.
    feed: Option<DropGuard>,
    /// The number of the last entry handed to local followers.
    delivered: u64,
}

impl StoredSession for ClusterSession {
    fn refresh(
        &self,
        ttl: Option<Duration>,
        at: DateTime<Utc>,
    ) -> Answer<Result<bool, StoreError>> {
        let (store, id) = (self.store.clone(), self.id);
        Answer::later(async move { store.touch(id, ttl, at).await })
    }

    /// Well before the record in Redis could lapse.
    fn refresh_every(&self, idle_timeout: Duration) -> Duration {
        idle_timeout / 2
    }

    /// Gone only when Redis no longer has it.
    fn survives_idle(&self) -> Answer<Result<bool, StoreError>> {
        let (store, id) = (self.store.clone(), self.id);
        Answer::later(async move { Ok(store.last_seq(id).await?.is_some()) })
    }

    /// It lives in Redis; its followers here resume on any node.
    fn outlives_actor(&self) -> bool {
        true
    }

    /// Followers here and on every other node get it from the session's stream.
    fn publish(&mut self, event: SerializedEvent) -> Answer<Published> {
        let (store, id, history) = (self.store.clone(), self.id, self.history);
        Answer::later(async move {
            match store.publish(id, event.json(), history).await {
                Ok(Some(_)) => Published::Stored,
                Ok(None) => Published::Gone,
                Err(err) => Published::Lost(err),
            }
        })
    }

    /// Finds where the stream stands (or where this node's feed has got to) and what came after
    /// `seen`; the feed starts with the first follower.
    fn follow(
        &self,
        seen: Option<u64>,
        ttl: Option<Duration>,
        at: DateTime<Utc>,
    ) -> Answer<Result<Replay, SubscribeError>> {
        let (store, id, budget) = (self.store.clone(), self.id, self.history_bytes);
        let known = self.feed.as_ref().map(|_| self.delivered);
        Answer::later(async move {
            // A follower is activity: every node must see the session in use from now on.
            if !store.touch(id, ttl, at).await.map_err(Unavailable::from)? {
                return Err(SubscribeError::Ended);
            }
            let cursor = match known {
                Some(cursor) => cursor,
                None => store
                    .last_seq(id)
                    .await
                    .map_err(Unavailable::from)?
                    .ok_or(SubscribeError::Ended)?,
            };
            let entries = match seen {
                Some(seen) if seen < cursor => store
                    .range_after(
                        id,
                        seen,
                        usize::try_from(cursor - seen).unwrap_or(usize::MAX),
                    )
                    .await
                    .map_err(Unavailable::from)?,
                _ => Vec::new(),
            };
            Ok(Replay {
                // A follower that saw more than this node's feed has handed out yet (it came
                // from another node) must not get those events again from the feed.
                seen: seen.unwrap_or(0),
                items: seen.map_or_else(Vec::new, |seen| replay(seen, cursor, entries, budget)),
                feed_from: known.is_none().then_some(cursor),
            })
        })
    }

    fn start_feed(&mut self, after: u64, to: Recipient<FeedUpdate>) {
        let stop = CancellationToken::new();
        let feed = SessionFeed::open(&self.store, self.id, after);
        actix::spawn(run_feed(feed, to, stop.clone()));
        self.feed = Some(stop.drop_guard());
        self.delivered = after;
    }

    fn stop_feed(&mut self) {
        self.feed = None;
    }

    fn advance(&mut self, seq: u64) -> Option<u64> {
        (seq > self.delivered).then(|| std::mem::replace(&mut self.delivered, seq))
    }

    /// In Redis too, so that the other nodes serve the session alike (a node that loaded the
    /// session earlier keeps what it loaded until it loads it again).
    fn save_settings(&self, update: &SessionSettings) -> Answer<Result<bool, StoreError>> {
        let (store, id, update) = (self.store.clone(), self.id, update.clone());
        Answer::later(async move { store.save_settings(id, &update).await })
    }

    /// On every node: the end entry reaches every feed, and the record is gone for every later
    /// request. Nothing ends when Redis cannot be reached.
    fn close(&self) -> Answer<Result<(), StoreError>> {
        let (store, id) = (self.store.clone(), self.id);
        Answer::later(async move { store.end_session(id, EndReason::Closed).await.map(drop) })
    }
}

/// What a follower that last saw `seen` is owed of `entries` (those after `seen`, up to the
/// feed's place `cursor`): a lag count for any no longer kept, then the events, the newest of
/// them that fit in `max_bytes` (the history's byte budget, as a session alone keeps it; the
/// stream in Redis is capped by count).
fn replay(seen: u64, cursor: u64, entries: Vec<StreamEntry>, max_bytes: usize) -> Vec<StreamItem> {
    let mut events: Vec<PublishedEvent> = entries
        .into_iter()
        .filter(|entry| entry.seq <= cursor)
        .filter_map(|entry| match entry.kind {
            EntryKind::Event(json) => Some(PublishedEvent::from_stream(entry.seq, json)),
            EntryKind::End(_) => None,
        })
        .collect();
    events.drain(..oldest_over_budget(&events, max_bytes));
    let first = events
        .first()
        .map_or(cursor.saturating_add(1), |event| event.id);
    let lost = first.saturating_sub(seen.saturating_add(1));
    (lost > 0)
        .then_some(StreamItem::Lagged { missed: lost })
        .into_iter()
        .chain(events.into_iter().map(StreamItem::Event))
        .collect()
}
