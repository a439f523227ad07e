//! A session's actor in cluster mode: this node's face of a session kept in the shared store.
//!
//! The shared store is the session's truth; the actor keeps only what it needs to serve requests
//! here without asking Redis for more than it must:
//! - **tokens** are checked against the stored digest, here; each authenticated request then
//!   refreshes the session in Redis (one round trip), which is also how an end on another node,
//!   or an expiry, is noticed on the next request;
//! - **events** are published into the session's Redis stream, never handed to local followers
//!   directly: they receive them from one feed per node and session, so every node sees one
//!   order and the same ids, and a follower can resume on any node;
//! - **ending** (`Stop`) writes an end entry that every node's feed turns into `session-ended`
//!   for its own followers.
//!
//! A face left idle here while the session lives on (other nodes use it) is dropped quietly;
//! the next request on this node loads it again.

use std::time::{Duration, Instant};

use actix::fut::wrap_future;
use actix::prelude::*;
use bytestring::ByteString;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::messages::{AuthError, SessionInfo, SubscribeError, UpdateSettings};
use super::{Followed, SessionActor};
use crate::cluster::{
    ClusterStore, EntryKind, FeedItem, SessionFeed, StoreError, StreamEntry, Unavailable,
};
use crate::event::{PublishedEvent, SerializedEvent};
use crate::history::oldest_over_budget;
use crate::subscriber::{EndReason, StreamItem};

/// How long one read of the feed waits in Redis for new entries; also how often it checks that
/// a quiet session still exists.
const FEED_WAIT: Duration = Duration::from_secs(5);

/// First and longest pause between attempts to reach Redis again.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(2));

/// How long a feed keeps trying through an outage before it closes its followers' streams (they
/// reconnect with `Last-Event-ID` and resume once Redis is back), so that no stream hangs forever.
const OUTAGE_LIMIT: Duration = Duration::from_secs(30);

/// While publishing fails, how often one report tries Redis again (the others are dropped at
/// once).
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// How soon an idle face whose check of Redis failed looks again.
const RECHECK: Duration = Duration::from_secs(5);

/// What a session's actor holds in cluster mode.
pub(super) struct Shared {
    store: ClusterStore,
    /// While there are local followers: stops this node's feed when dropped.
    feed: Option<DropGuard>,
    /// The number of the last entry handed to local followers.
    delivered: u64,
    /// When the last publish failed, while publishing fails: an outage is logged once, not
    /// per event, and reports are dropped at once instead of each waiting for Redis.
    failed_at: Option<Instant>,
}

impl Shared {
    pub(super) fn new(store: ClusterStore) -> Self {
        Self {
            store,
            feed: None,
            delivered: 0,
            failed_at: None,
        }
    }
}

/// What a node's feed tells its session's actor.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(super) enum FeedUpdate {
    /// New entries of the session's stream, in order.
    Entries(Vec<StreamEntry>),
    /// The session vanished from the store without an end entry: it expired.
    Gone,
    /// Redis stayed out of reach for [`OUTAGE_LIMIT`].
    Lost(StoreError),
}

impl SessionActor {
    /// The shared store, in cluster mode.
    pub(super) fn shared_store(&self) -> Option<ClusterStore> {
        self.shared.as_ref().map(|shared| shared.store.clone())
    }

    /// After a local token check: refreshes the session in the store, which also tells whether
    /// it still exists (another node may have ended it, or it expired).
    pub(super) fn confirm_shared(
        &mut self,
        store: ClusterStore,
    ) -> ResponseActFuture<Self, Result<SessionInfo, AuthError>> {
        Box::pin(
            wrap_future(self.refresh(store)).map(|found, actor: &mut Self, ctx| match found {
                Ok(true) => Ok(actor.info()),
                Ok(false) => {
                    actor.end(EndReason::Expired, ctx);
                    Err(AuthError::Unauthorized)
                }
                Err(err) => Err(Unavailable::from(err).into()),
            }),
        )
    }

    /// Appends an event to the session's shared stream. An event that cannot be stored is lost
    /// (progress is advisory) and counted; the tool goes on.
    pub(super) fn publish_shared(
        &mut self,
        store: ClusterStore,
        data: SerializedEvent,
    ) -> ResponseActFuture<Self, ()> {
        let failing = self.shared.as_ref().and_then(|shared| shared.failed_at);
        if failing.is_some_and(|at| at.elapsed() < PROBE_EVERY) {
            // Redis failed a moment ago: drop the report now rather than hold the tool up for
            // a timeout per report; one report per PROBE_EVERY tries again.
            self.meters.dropped.increment(1);
            return Box::pin(actix::fut::ready(()));
        }
        let (id, history) = (self.id, self.limits.history);
        let publish = async move { store.publish(id, data.json(), history).await };
        Box::pin(
            wrap_future(publish).map(move |published, actor: &mut Self, ctx| {
                let failed = published.as_ref().err().map(ToString::to_string);
                match published {
                    Ok(Some(_)) => actor.meters.published.increment(1),
                    Ok(None) => actor.end(EndReason::Expired, ctx),
                    Err(_) => actor.meters.dropped.increment(1),
                }
                if let Some(shared) = actor.shared.as_mut() {
                    shared.failed_at = failed.as_ref().map(|_| Instant::now());
                }
                match (failing, failed) {
                    (None, Some(err)) => {
                        tracing::warn!(session = %actor.id, "progress events are being lost: {err}");
                    }
                    (Some(_), None) => {
                        tracing::info!(session = %actor.id, "progress events are stored again");
                    }
                    _ => {}
                }
            }),
        )
    }

    /// Records what a standard client established, here and in the store, so that the other
    /// nodes serve the session alike (a node that loaded the session earlier keeps what it
    /// loaded until it loads it again). The reply waits for the store, so that a client's next
    /// request, on any node, finds it there.
    pub(super) fn save_settings_shared(
        &mut self,
        store: ClusterStore,
        msg: UpdateSettings,
    ) -> ResponseActFuture<Self, ()> {
        let id = self.id;
        self.apply(&msg.0);
        let save = async move { store.save_settings(id, &msg.0).await };
        Box::pin(wrap_future(save).map(|saved, actor: &mut Self, _| {
            if let Err(err) = saved {
                tracing::warn!(session = %actor.id, "settings kept on this node only: {err}");
            }
        }))
    }

    /// Adds a local follower: finds where the stream stands (or where this node's feed has got
    /// to), replays what came after `seen`, and starts the feed if it is the first follower.
    /// Runs atomically, so no feed entry is handed out between the replay and the subscription.
    pub(super) fn follow_shared(
        &mut self,
        store: ClusterStore,
        seen: Option<u64>,
    ) -> ResponseActFuture<Self, Followed> {
        if let Err(full) = self.has_room_for_follower() {
            return Box::pin(actix::fut::ready(Err(full)));
        }
        let id = self.id;
        let known = self
            .shared
            .as_ref()
            .and_then(|shared| shared.feed.as_ref().map(|_| shared.delivered));
        let refresh = self.refresh(store.clone());
        let fetch = async move {
            // A follower is activity: every node must see the session in use from now on.
            if !refresh.await.map_err(Unavailable::from)? {
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
            Ok::<_, SubscribeError>((cursor, entries))
        };
        Box::pin(
            wrap_future(fetch).map(move |fetched, actor: &mut Self, ctx| {
                let (cursor, entries) = fetched.inspect_err(|err| {
                    if *err == SubscribeError::Ended {
                        actor.end(EndReason::Expired, ctx);
                    }
                })?;
                if known.is_none() {
                    actor.start_feed(cursor, ctx);
                }
                let budget = actor.limits.history_bytes;
                let replay =
                    seen.map_or_else(Vec::new, |seen| replay(seen, cursor, entries, budget));
                // A follower that saw more than this node's feed has handed out yet (it came
                // from another node) must not get those events again from the feed.
                Ok(actor.subscribe(seen.unwrap_or(0), replay, ctx))
            }),
        )
    }

    /// Ends the session on every node: the end entry reaches every feed, and the record is gone
    /// for every later request. Nothing ends when the store cannot be reached.
    pub(super) fn stop_shared(
        &mut self,
        store: ClusterStore,
    ) -> ResponseActFuture<Self, Result<(), Unavailable>> {
        let id = self.id;
        let end = async move { store.end_session(id, EndReason::Closed).await };
        Box::pin(wrap_future(end).map(|ended, actor: &mut Self, ctx| {
            ended.map_err(Unavailable::from)?;
            actor.end(EndReason::Closed, ctx);
            Ok(())
        }))
    }

    /// The idle check of a face: while in use here, keeps the shared session alive for the
    /// other nodes; once idle here, ends it if the store says it is gone (telling whoever still
    /// follows), and otherwise drops this node's face quietly.
    pub(super) fn shared_idle_check(
        &mut self,
        store: ClusterStore,
        busy: bool,
        timeout: Duration,
        ctx: &mut Context<Self>,
    ) {
        let idle = self.active_at.elapsed();
        if busy || idle < timeout {
            let next = if busy {
                // Touched well before the shared record could lapse.
                self.touch_shared(store, ctx);
                timeout / 2
            } else {
                timeout - idle
            };
            ctx.run_later(next, |actor, ctx| actor.expire_if_idle(ctx));
            return;
        }
        let id = self.id;
        let exists = async move { store.last_seq(id).await };
        ctx.spawn(
            wrap_future(exists).map(move |found, actor: &mut Self, ctx| match found {
                Ok(None) => {
                    tracing::info!(session = %actor.id, "session expired");
                    actor.end(EndReason::Expired, ctx);
                }
                // Used again while Redis was being asked: look again later.
                Ok(Some(_)) if actor.is_busy() || actor.active_at.elapsed() < timeout => {
                    actor.expire_if_idle(ctx);
                }
                Ok(Some(_)) => {
                    // Followers still here have stopped reading; they may resume anywhere.
                    drop(actor.take_followers(ctx));
                    ctx.stop();
                }
                Err(_) => {
                    ctx.run_later(RECHECK, |actor, ctx| actor.expire_if_idle(ctx));
                }
            }),
        );
    }

    /// Refreshing the session in the store: its TTL and last activity, as of this node. `false`
    /// when the store no longer has it.
    fn refresh(
        &self,
        store: ClusterStore,
    ) -> impl Future<Output = Result<bool, StoreError>> + use<> {
        let (id, ttl, now) = (self.id, self.idle_timeout(), self.last_activity);
        async move { store.touch(id, ttl, now).await }
    }

    /// Refreshes the session in the store (its TTL and last activity) without waiting; ends it
    /// here if the store says it is gone.
    pub(super) fn touch_shared(&mut self, store: ClusterStore, ctx: &mut Context<Self>) {
        ctx.spawn(
            wrap_future(self.refresh(store)).map(|found, actor: &mut Self, ctx| {
                if matches!(found, Ok(false)) {
                    actor.end(EndReason::Expired, ctx);
                }
            }),
        );
    }

    /// Starts this node's feed of the session's events, after entry `after`.
    fn start_feed(&mut self, after: u64, ctx: &mut Context<Self>) {
        let Some(shared) = self.shared.as_mut() else {
            return;
        };
        let stop = CancellationToken::new();
        let feed = SessionFeed::open(&shared.store, self.id, after);
        actix::spawn(run_feed(feed, ctx.address(), stop.clone()));
        shared.feed = Some(stop.drop_guard());
        shared.delivered = after;
    }

    /// Stops this node's feed: nobody here follows the session any more.
    pub(super) fn stop_feed(&mut self) {
        if let Some(shared) = self.shared.as_mut() {
            shared.feed = None;
        }
    }
}

impl Handler<FeedUpdate> for SessionActor {
    type Result = ();

    fn handle(&mut self, update: FeedUpdate, ctx: &mut Self::Context) {
        match update {
            FeedUpdate::Entries(entries) => {
                for entry in entries {
                    let Some(shared) = self.shared.as_mut() else {
                        return;
                    };
                    // A stopped feed's last entries may still arrive: never hand one out twice.
                    if entry.seq <= shared.delivered {
                        continue;
                    }
                    let after = std::mem::replace(&mut shared.delivered, entry.seq);
                    if entry.seq > after + 1 {
                        // The stream no longer held the ones in between (this node read it
                        // too late): every follower is told how many it will never get.
                        self.offer_all(ctx, |queue| queue.lost(after, entry.seq));
                    }
                    match entry.kind {
                        EntryKind::Event(json) => self.deliver(&event(entry.seq, json), ctx),
                        EntryKind::End(reason) => return self.end(reason, ctx),
                    }
                }
            }
            FeedUpdate::Gone => self.end(EndReason::Expired, ctx),
            FeedUpdate::Lost(err) => {
                tracing::warn!(session = %self.id, "closing this node's event streams: {err}");
                drop(self.take_followers(ctx));
                self.stop_feed();
            }
        }
    }
}

/// Event `seq` of the shared stream, as local followers receive it.
fn event(seq: u64, json: ByteString) -> PublishedEvent {
    PublishedEvent {
        id: seq,
        data: SerializedEvent::from_json(json),
    }
}

/// What a follower that last saw `seen` is owed of `entries` (those after `seen`, up to the
/// feed's place `cursor`): a lag count for any no longer kept, then the events, the newest of
/// them that fit in `max_bytes` (the history's byte budget, as a session alone keeps it; the
/// shared stream is capped by count).
fn replay(seen: u64, cursor: u64, entries: Vec<StreamEntry>, max_bytes: usize) -> Vec<StreamItem> {
    let mut events: Vec<PublishedEvent> = entries
        .into_iter()
        .filter(|entry| entry.seq <= cursor)
        .filter_map(|entry| match entry.kind {
            EntryKind::Event(json) => Some(event(entry.seq, json)),
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

/// Reads one session's stream for one node until stopped, handing entries to its actor in
/// order; rides out Redis outages up to [`OUTAGE_LIMIT`], trying again with backoff.
async fn run_feed(mut feed: SessionFeed, session: Addr<SessionActor>, stop: CancellationToken) {
    let mut backoff = BACKOFF.0;
    let mut down_since: Option<Instant> = None;
    loop {
        let read = tokio::select! {
            () = stop.cancelled() => return,
            read = feed.next(FEED_WAIT) => read,
        };
        let update = match read {
            Ok(FeedItem::Entries(entries)) => FeedUpdate::Entries(entries),
            Ok(FeedItem::Gone) => FeedUpdate::Gone,
            Ok(FeedItem::Idle) => {
                (backoff, down_since) = (BACKOFF.0, None);
                continue;
            }
            Err(err) => {
                let since = *down_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= OUTAGE_LIMIT {
                    FeedUpdate::Lost(err)
                } else {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(BACKOFF.1);
                    continue;
                }
            }
        };
        (backoff, down_since) = (BACKOFF.0, None);
        let last = match &update {
            FeedUpdate::Entries(entries) => entries
                .iter()
                .any(|entry| matches!(entry.kind, EntryKind::End(_))),
            FeedUpdate::Gone | FeedUpdate::Lost(_) => true,
        };
        if session.send(update).await.is_err() || last {
            return;
        }
    }
}
