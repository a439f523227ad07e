//! `SessionActor`: one per session on this node, the only owner of that session's state here.
//!
//! It holds the session's identity (id, token digest, cwd, label), its activity times, its
//! followers, its running calls and the [store](super::store) that keeps its events (and, in
//! cluster mode, its record). What it does on each message is in [`handlers`](super::handlers),
//! and how it hands events to its followers in [`followers`](super::followers).
//!
//! A session ends when asked ([`Stop`](super::messages::Stop)) or when nothing has used it for
//! its idle timeout: no authenticated request, no running call and no open events stream that
//! keeps up (a follower that has stopped reading does not count: it shows nobody is there). A
//! session may start on a shorter timeout ([`SessionLimits::unused_timeout`]) that lasts until
//! its first tool call, so that one a client opened only to look (a listing command, an
//! inspector) does not stay for the whole idle timeout. A timer of its own looks only when the
//! session could first have been idle that long, so an idle session costs no work in between.
//! Ending tells every follower, cancels every call, and, however the actor stops, tells the
//! registry to forget it ([`Forget`]).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::messages::{SessionInfo, SubscribeError};
use super::store::{Answer, Published, StoredSession};
use crate::cluster::{SessionRecord, StoreError};
use crate::event::SerializedEvent;
use crate::limits::{ASK_TIMEOUT, SessionLimits};
use crate::session_metrics::SessionMeters;
use crate::settings::SessionSettings;
use crate::subscriber::{EndReason, StreamItem, Subscriber};
use crate::token::TokenDigest;

/// What the session's followers are given as they subscribe.
pub(super) type Followed = Result<mpsc::Receiver<StreamItem>, SubscribeError>;

/// How many messages may wait in a session's mailbox. Publishers await room (backpressure on the
/// tool, not on subscribers), so this bounds memory, not throughput.
const MAILBOX_CAPACITY: usize = 256;

/// While publishing fails, how often one report tries the store again (the others are dropped
/// at once).
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// How soon an idle session whose check of the store failed looks again.
const RECHECK: Duration = Duration::from_secs(5);

/// To the registry, from a session's actor that has stopped, however it ended: forget it.
///
/// Declared here, beside the actor it names, rather than with the registry's other messages:
/// the registry stands above the sessions, and a session needs nothing of it but this.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Forget {
    /// The session.
    pub id: Uuid,
    /// The actor that stopped. In cluster mode a session may get a new actor here while the
    /// old one's word is on its way; only the actor named is forgotten.
    pub session: Addr<SessionActor>,
}

/// One follower of the session's events, as the session tracks it.
pub(super) struct Follower {
    pub(super) id: u64,
    pub(super) queue: Subscriber,
    /// The future that removes this follower when its receiver is dropped.
    pub(super) watcher: SpawnHandle,
    /// While the follower is behind: the future that waits for room to tell it so.
    pub(super) catch_up: Option<SpawnHandle>,
}

/// The actor behind one session.
pub struct SessionActor {
    pub(super) id: Uuid,
    pub(super) token: TokenDigest,
    cwd: Arc<Path>,
    label: Option<Arc<str>>,
    created_at: DateTime<Utc>,
    last_activity: DateTime<Utc>,
    /// `last_activity` on the monotonic clock, which idle expiry measures from.
    active_at: Instant,
    pub(super) limits: SessionLimits,
    pub(super) subscribers: Vec<Follower>,
    pub(super) next_subscriber_id: u64,
    pub(super) calls: HashMap<String, CancellationToken>,
    /// Whether a tool call has begun in the session: from then on `unused_timeout` is over.
    pub(super) worked: bool,
    settings: SessionSettings,
    registry: Recipient<Forget>,
    pub(super) meters: SessionMeters,
    /// Where the session is kept: its events, and in cluster mode its record.
    pub(super) store: Box<dyn StoredSession>,
    /// While publishing fails (the store is out of reach): when it last failed. The outage is
    /// logged once, not per event, and reports are dropped at once instead of each waiting for
    /// the store.
    publish_failed_at: Option<Instant>,
    /// Cancelled when the actor stops, however: what lives only as long as the session here
    /// (its own upstream connections) follows it. Made when first handed out, since a token is
    /// a ~130-byte allocation that an idle session, never asked for it, would carry for nothing.
    ended: Option<CancellationToken>,
}

impl SessionActor {
    /// The actor of the session `record` describes, kept in `store`. `registry` is told when it
    /// stops.
    pub(crate) fn new(
        record: SessionRecord,
        store: Box<dyn StoredSession>,
        limits: SessionLimits,
        registry: Recipient<Forget>,
    ) -> Self {
        let SessionRecord {
            id,
            token_digest,
            cwd,
            label,
            created_at,
            last_activity,
            settings,
        } = record;
        Self {
            id,
            token: token_digest,
            cwd,
            label: label.map(Arc::from),
            created_at,
            last_activity,
            active_at: Instant::now(),
            limits,
            subscribers: Vec::new(),
            next_subscriber_id: 0,
            calls: HashMap::new(),
            worked: false,
            settings,
            registry,
            meters: SessionMeters::new(),
            store,
            publish_failed_at: None,
            ended: None,
        }
    }

    /// Records that the session is in use now.
    pub(super) fn touch(&mut self) {
        self.last_activity = Utc::now();
        self.active_at = Instant::now();
    }

    /// How long the session may go unused now: `unused_timeout` until its first tool call
    /// (when shorter), `idle_timeout` after; `None`: it never expires.
    fn idle_timeout(&self) -> Option<Duration> {
        if self.worked {
            self.limits.idle_timeout
        } else {
            self.limits.first_idle_timeout()
        }
    }

    /// Refreshes the session where it is kept, as of its last use; `false` when it is gone.
    pub(super) fn refresh(&self) -> Answer<Result<bool, StoreError>> {
        self.store.refresh(self.idle_timeout(), self.last_activity)
    }

    /// Refreshes the session where it is kept, without waiting; ends it here if it is gone.
    pub(super) fn keep_alive(&mut self, ctx: &mut Context<Self>) {
        self.refresh().then(self, ctx, |found, actor, ctx| {
            if matches!(found, Ok(false)) {
                actor.end(EndReason::Expired, ctx);
            }
        });
    }

    /// Ends the session if nothing has used it for its idle timeout; otherwise looks again when
    /// it could have been idle that long. A running call keeps it in use, and so does a follower
    /// that keeps up; one that has stopped reading (events are being dropped for it) shows
    /// nobody is there, and is told the session ended should it read again.
    fn expire_if_idle(&mut self, ctx: &mut Context<Self>) {
        let Some(timeout) = self.idle_timeout() else {
            return;
        };
        let busy = self.is_busy();
        let idle = if busy {
            Duration::ZERO
        } else {
            self.active_at.elapsed()
        };
        if idle < timeout {
            let next = if busy {
                self.keep_alive(ctx);
                self.store.refresh_every(timeout)
            } else {
                timeout - idle
            };
            ctx.run_later(next, |actor, ctx| actor.expire_if_idle(ctx));
            return;
        }
        self.store
            .survives_idle()
            .then(self, ctx, move |survives, actor, ctx| {
                match survives {
                    Ok(false) => {
                        tracing::info!(session = %actor.id, "session expired");
                        actor.end(EndReason::Expired, ctx);
                    }
                    // Used again while the store was being asked: look again later.
                    Ok(true) if actor.is_busy() || actor.active_at.elapsed() < timeout => {
                        actor.expire_if_idle(ctx);
                    }
                    Ok(true) => {
                        // Only this node's actor goes. Followers still here have stopped reading;
                        // they may resume anywhere.
                        drop(actor.take_followers(ctx));
                        ctx.stop();
                    }
                    Err(_) => {
                        ctx.run_later(RECHECK, |actor, ctx| actor.expire_if_idle(ctx));
                    }
                }
            });
    }

    /// Whether the session is in use without requests: a call runs, or a follower keeps up.
    fn is_busy(&self) -> bool {
        !self.calls.is_empty() || self.subscribers.iter().any(|f| !f.queue.is_behind())
    }

    /// Adds a follower: from now on alone, or first receiving what came after event `seen`.
    /// Atomic, so that no event is handed out between the replay and the subscription.
    pub(super) fn follow(&mut self, seen: Option<u64>) -> AtomicResponse<Self, Followed> {
        if self.subscribers.len() >= self.limits.max_subscribers {
            let full = SubscribeError::TooManySubscribers(self.limits.max_subscribers);
            return AtomicResponse::new(Box::pin(actix::fut::ready(Err(full))));
        }
        let replay = self
            .store
            .follow(seen, self.idle_timeout(), self.last_activity);
        replay.reply_atomically(|replay, actor: &mut Self, ctx| {
            let replay = replay.inspect_err(|err| {
                if *err == SubscribeError::Ended {
                    actor.end(EndReason::Expired, ctx);
                }
            })?;
            if let Some(after) = replay.feed_from {
                actor.store.start_feed(after, ctx.address().recipient());
            }
            Ok(actor.subscribe(replay.seen, replay.items, ctx))
        })
    }

    /// Has the store number and keep an event, which reaches every follower. An event the store
    /// cannot keep is lost (progress is advisory) and counted; the tool goes on.
    pub(super) fn publish(
        &mut self,
        event: SerializedEvent,
        ctx: &mut Context<Self>,
    ) -> ActorResponse<Self, ()> {
        let failing = self.publish_failed_at;
        if failing.is_some_and(|at| at.elapsed() < PROBE_EVERY) {
            // The store failed a moment ago: drop the report now rather than hold the tool up
            // for a timeout per report; one report per PROBE_EVERY tries again.
            self.meters.dropped.increment(1);
            return ActorResponse::reply(());
        }
        let published = self.store.publish(event);
        published.reply(self, ctx, move |published, actor, ctx| {
            actor.published(published, failing, ctx);
        })
    }

    /// Counts and hands out what became of a published event; logs an outage of the store once,
    /// when publishing starts failing (`failing` is when it last failed before) and when it
    /// works again.
    fn published(
        &mut self,
        published: Published,
        failing: Option<Instant>,
        ctx: &mut Context<Self>,
    ) {
        let failed = match published {
            Published::Here(event) => {
                self.deliver(&event, ctx);
                self.meters.published.increment(1);
                None
            }
            Published::Stored => {
                self.meters.published.increment(1);
                None
            }
            Published::Gone => {
                self.end(EndReason::Expired, ctx);
                None
            }
            Published::Lost(err) => {
                self.meters.dropped.increment(1);
                Some(err)
            }
        };
        self.publish_failed_at = failed.as_ref().map(|_| Instant::now());
        match (failing, failed) {
            (None, Some(err)) => {
                tracing::warn!(session = %self.id, "progress events are being lost: {err}");
            }
            (Some(_), None) => {
                tracing::info!(session = %self.id, "progress events are stored again");
            }
            _ => {}
        }
    }

    /// Ends the session here: followers are told, calls cancelled, the actor stopped. (In cluster
    /// mode, ending it everywhere is [`Stop`](super::messages::Stop)'s work.)
    pub(super) fn end(&mut self, reason: EndReason, ctx: &mut Context<Self>) {
        if ctx.state() == ActorState::Running {
            // Counted once, however many ways it is asked to end before it has stopped.
            SessionMeters::ended(reason);
        }
        for queue in self.take_followers(ctx) {
            // Outside the actor, which is stopping, and bounded in time by the subscriber.
            actix::spawn(queue.end(reason));
        }
        for (_, cancel) in self.calls.drain() {
            cancel.cancel();
        }
        ctx.stop();
    }

    /// Records what the client established.
    pub(super) fn apply(&mut self, update: &SessionSettings) {
        self.settings = std::mem::take(&mut self.settings).merged(update);
    }

    /// Tells whoever holds the session's `ended` token that it has ended.
    fn cancel_ended(&self) {
        if let Some(ended) = &self.ended {
            ended.cancel();
        }
    }

    pub(super) fn info(&mut self) -> SessionInfo {
        SessionInfo {
            id: self.id,
            cwd: Arc::clone(&self.cwd),
            label: self.label.clone(),
            created_at: self.created_at,
            last_activity: self.last_activity,
            subscribers: self.subscribers.len(),
            running_calls: self.calls.len(),
            settings: self.settings.clone(),
            ended: self
                .ended
                .get_or_insert_with(CancellationToken::new)
                .clone(),
        }
    }
}

impl Actor for SessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        self.expire_if_idle(ctx);
    }

    fn stopped(&mut self, ctx: &mut Self::Context) {
        self.cancel_ended();
        // Followers still here (the actor stopped without ending) leave with it.
        self.meters.followers_left(self.subscribers.len());
        // However the session ended, the registry must forget it. Asked from a task of its own,
        // since the actor is gone; the registry also drops dead sessions it comes across.
        let forget = self.registry.send(Forget {
            id: self.id,
            session: ctx.address(),
        });
        actix::spawn(async move {
            let _ = tokio::time::timeout(ASK_TIMEOUT, forget).await;
        });
    }
}

impl Drop for SessionActor {
    /// A session ends through `SessionActor::end` (or, in cluster mode, an idle actor goes),
    /// which leaves no calls and no followers. An actor dropped with some left has panicked, or
    /// its arbiter stopped under it. Its calls are cancelled, so none runs on unowned. Its
    /// followers hear the end `Stop` would have given them, as far as that can be done without
    /// waiting, when the session ends with its actor; in cluster mode the session lives on in
    /// the store, so their streams just close, and they resume on any node.
    fn drop(&mut self) {
        self.cancel_ended();
        for (_, cancel) in self.calls.drain() {
            cancel.cancel();
        }
        let followers = std::mem::take(&mut self.subscribers);
        if !self.store.outlives_actor() {
            for follower in followers {
                follower.queue.end_now(EndReason::Closed);
            }
        }
    }
}
