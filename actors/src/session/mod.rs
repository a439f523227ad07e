//! `SessionActor`: one per session, the only owner of that session's state.
//!
//! It holds the session's identity (id, token, cwd, label), its activity times, its subscribers
//! and the history of its events, bounded in events and in bytes. Publishing never blocks: each
//! subscriber has a queue bounded in events and in bytes, and an event that does not fit is
//! dropped for that subscriber alone and counted, the count reaching it as soon as it reads again
//! (see [`crate::subscriber`]), so a dashboard that stops reading cannot slow the tool or the
//! other dashboards, nor grow memory, nor lose events without being told. A subscriber whose receiver is dropped (its client went away) is removed as
//! soon as that happens. A follower that reconnects names the last event it saw and is replayed
//! what followed from the history, in the same handler that subscribes it, so nothing can slip
//! between the replay and the live events.
//!
//! It also knows which tool calls run in the session, by request id, so that a client's
//! `notifications/cancelled` can reach the right call, a per-session limit on concurrent calls can
//! be enforced, and ending the session cancels everything it started.
//!
//! A session ends when asked ([`Stop`]) or when nothing has used it for its idle timeout: no
//! authenticated request, no running call and no open events stream that keeps up (a follower
//! that has stopped reading does not count: it shows nobody is there). A session may start on a
//! shorter timeout ([`SessionLimits::unused_timeout`]) that lasts until its first tool call, so
//! that one a client opened only to look (a listing command, an inspector) does not stay for the
//! whole idle timeout. A timer of its own looks only when the session could first have been idle
//! that long, so an idle session costs no work in between. Ending tells every follower, cancels every call, and, however the actor stops,
//! tells the registry to forget it.
//!
//! In cluster mode (see [`shared`]) the session itself lives in the shared store, and the actor is
//! only this node's face of it: it checks tokens against the stored digest, publishes into the
//! shared stream of events, and feeds its local followers from that stream.

mod messages;
mod shared;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::fut::wrap_future;
use actix::prelude::*;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio::sync::mpsc::OwnedPermit;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::cluster::{ClusterStore, SessionRecord, Unavailable};
use crate::event::PublishedEvent;
use crate::history::History;
use crate::limits::{ASK_TIMEOUT, SessionLimits};
use crate::session_metrics::SessionMeters;
use crate::settings::SessionSettings;
use crate::subscriber::{EndReason, Offer, QueueLimits, StreamItem, Subscriber};
use crate::token::TokenDigest;
pub use messages::{
    AuthError, Authenticate, BeginCall, BeginCallError, CancelCall, CloseSubscriptions, Describe,
    EndCall, Publish, SessionInfo, Stop, Subscribe, SubscribeAfter, SubscribeError, UpdateSettings,
};
use shared::Shared;

/// What the session's followers are given as they subscribe.
type Followed = Result<mpsc::Receiver<StreamItem>, SubscribeError>;

/// How many messages may wait in a session's mailbox. Publishers await room (backpressure on the
/// tool, not on subscribers), so this bounds memory, not throughput.
const MAILBOX_CAPACITY: usize = 256;

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
struct Follower {
    id: u64,
    queue: Subscriber,
    /// The future that removes this follower when its receiver is dropped.
    watcher: SpawnHandle,
    /// While the follower is behind: the future that waits for room to tell it so.
    catch_up: Option<SpawnHandle>,
}

/// The actor behind one session.
pub struct SessionActor {
    id: Uuid,
    token: TokenDigest,
    cwd: Arc<Path>,
    label: Option<Arc<str>>,
    created_at: DateTime<Utc>,
    last_activity: DateTime<Utc>,
    /// `last_activity` on the monotonic clock, which idle expiry measures from.
    active_at: Instant,
    limits: SessionLimits,
    subscribers: Vec<Follower>,
    next_subscriber_id: u64,
    history: History,
    calls: HashMap<String, CancellationToken>,
    /// Whether a tool call has begun in the session: from then on `unused_timeout` is over.
    worked: bool,
    settings: SessionSettings,
    registry: Recipient<Forget>,
    meters: SessionMeters,
    /// Cluster mode: the shared store and this node's feed from it. `None` alone.
    shared: Option<Box<Shared>>,
}

impl SessionActor {
    /// The actor of the session `record` describes: one just created, or, given the cluster's
    /// shared `store` that keeps it, this node's face of it. `registry` is told when it stops.
    pub fn new(
        record: SessionRecord,
        store: Option<ClusterStore>,
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
            cwd: Arc::from(cwd),
            label: label.map(Arc::from),
            created_at,
            last_activity,
            active_at: Instant::now(),
            limits,
            subscribers: Vec::new(),
            next_subscriber_id: 0,
            history: History::new(limits.history, limits.history_bytes),
            calls: HashMap::new(),
            worked: false,
            settings,
            registry,
            meters: SessionMeters::new(),
            shared: store.map(|store| Box::new(Shared::new(store))),
        }
    }

    /// Records that the session is in use now.
    fn touch(&mut self) {
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

    /// Ends the session if nothing has used it for its idle timeout; otherwise looks again when
    /// it could have been idle that long. A running call keeps it in use, and so does a follower
    /// that keeps up; one that has stopped reading (events are being dropped for it) shows
    /// nobody is there, and is told the session ended should it read again.
    fn expire_if_idle(&mut self, ctx: &mut Context<Self>) {
        let Some(timeout) = self.idle_timeout() else {
            return;
        };
        let busy = self.is_busy();
        if let Some(store) = self.shared_store() {
            return self.shared_idle_check(store, busy, timeout, ctx);
        }
        let idle = if busy {
            Duration::ZERO
        } else {
            self.active_at.elapsed()
        };
        if idle >= timeout {
            tracing::info!(session = %self.id, "session expired");
            self.end(EndReason::Expired, ctx);
        } else {
            ctx.run_later(timeout - idle, |actor, ctx| actor.expire_if_idle(ctx));
        }
    }

    /// Whether the session is in use without requests: a call runs, or a follower keeps up.
    fn is_busy(&self) -> bool {
        !self.calls.is_empty() || self.subscribers.iter().any(|f| !f.queue.is_behind())
    }

    /// Refuses a follower beyond the session's limit.
    fn has_room_for_follower(&self) -> Result<(), SubscribeError> {
        if self.subscribers.len() >= self.limits.max_subscribers {
            return Err(SubscribeError::TooManySubscribers(
                self.limits.max_subscribers,
            ));
        }
        Ok(())
    }

    /// Adds a follower: from now on alone, or first receiving what came after event `seen`.
    fn follow(
        &mut self,
        seen: Option<u64>,
        ctx: &mut Context<Self>,
    ) -> AtomicResponse<Self, Followed> {
        if let Some(store) = self.shared_store() {
            return AtomicResponse::new(self.follow_shared(store, seen));
        }
        let followed = self.has_room_for_follower().map(|()| {
            let replay = seen.map_or_else(Vec::new, |seen| self.history.since(seen));
            // Alone, the history holds every id handed out: nothing to hold back.
            self.subscribe(0, replay, ctx)
        });
        AtomicResponse::new(Box::pin(actix::fut::ready(followed)))
    }

    /// Adds a follower that first receives `replay`; the caller checked there is room.
    fn subscribe(
        &mut self,
        seen: u64,
        replay: Vec<StreamItem>,
        ctx: &mut Context<Self>,
    ) -> mpsc::Receiver<StreamItem> {
        let limits = QueueLimits {
            items: self.limits.subscriber_queue,
            bytes: self.limits.subscriber_queue_bytes,
        };
        let (queue, receiver) = Subscriber::new(limits, seen, replay);
        let id = self.next_subscriber_id;
        self.next_subscriber_id += 1;

        // Remove the follower the moment its receiver is dropped, not at the next publish:
        // an idle session must not keep dead streams' queues alive.
        let watcher = ctx.spawn(
            wrap_future(queue.gone()).map(move |(), actor: &mut Self, _| {
                let before = actor.subscribers.len();
                actor.subscribers.retain(|follower| follower.id != id);
                actor
                    .meters
                    .followers_left(before - actor.subscribers.len());
                actor.touch();
                if actor.subscribers.is_empty() {
                    actor.stop_feed();
                }
            }),
        );
        self.subscribers.push(Follower {
            id,
            queue,
            watcher,
            catch_up: None,
        });
        self.meters.subscribers.increment(1.0);
        receiver
    }

    /// Hands `event` to every follower, never waiting for one.
    fn deliver(&mut self, event: &PublishedEvent, ctx: &mut Context<Self>) {
        let (delivered, dropped) = self.offer_all(ctx, |queue| queue.offer(event));
        self.meters.delivered.increment(delivered);
        self.meters.dropped.increment(dropped);
    }

    /// Offers each follower something with `offer`, never waiting; a follower whose queue has
    /// just filled up is told what it missed once it has room. Counts the followers it was
    /// queued for and those it was dropped for.
    fn offer_all(
        &mut self,
        ctx: &mut Context<Self>,
        offer: impl Fn(&mut Subscriber) -> Offer,
    ) -> (u64, u64) {
        let (mut queued, mut dropped) = (0, 0);
        for follower in &mut self.subscribers {
            match offer(&mut follower.queue) {
                Offer::Queued => queued += 1,
                Offer::Missed => dropped += 1,
                Offer::Gone | Offer::Skipped => {}
                Offer::Overflowed => {
                    dropped += 1;
                    let id = follower.id;
                    let room = wrap_future(follower.queue.room());
                    follower.catch_up = Some(ctx.spawn(
                        room.map(move |permit, actor: &mut Self, _| actor.catch_up(id, permit)),
                    ));
                }
            }
        }
        (queued, dropped)
    }

    /// Tells follower `id` how many events it missed, now that `permit` holds room for it.
    fn catch_up(&mut self, id: u64, permit: Option<OwnedPermit<StreamItem>>) {
        if let Some(follower) = self.subscribers.iter_mut().find(|f| f.id == id) {
            follower.catch_up = None;
            // No permit: the follower has gone, and its watcher removes it.
            if let Some(permit) = permit {
                follower.queue.catch_up(permit);
            }
        }
    }

    /// Takes every follower out, with the futures watching it cancelled (they hold senders too),
    /// so that dropping a returned queue closes that follower's stream.
    fn take_followers(&mut self, ctx: &mut Context<Self>) -> Vec<Subscriber> {
        self.meters.followers_left(self.subscribers.len());
        self.subscribers
            .drain(..)
            .map(|follower| {
                ctx.cancel_future(follower.watcher);
                if let Some(catch_up) = follower.catch_up {
                    ctx.cancel_future(catch_up);
                }
                follower.queue
            })
            .collect()
    }

    /// Ends the session here: followers are told, calls cancelled, the actor stopped. (In cluster
    /// mode, ending it everywhere is [`Stop`]'s work.)
    fn end(&mut self, reason: EndReason, ctx: &mut Context<Self>) {
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
    fn apply(&mut self, update: &SessionSettings) {
        self.settings = std::mem::take(&mut self.settings).merged(update);
    }

    fn info(&self) -> SessionInfo {
        SessionInfo {
            id: self.id,
            cwd: Arc::clone(&self.cwd),
            label: self.label.clone(),
            created_at: self.created_at,
            last_activity: self.last_activity,
            subscribers: self.subscribers.len(),
            running_calls: self.calls.len(),
            settings: self.settings.clone(),
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
    /// A session ends through [`SessionActor::end`] (or, in cluster mode, a face is unloaded),
    /// which leaves no calls and no followers. An actor dropped with some left has panicked, or
    /// its arbiter stopped under it. Its calls are cancelled, so none runs on unowned. Its
    /// followers, alone, hear the end `Stop` would have given them, as far as that can be done
    /// without waiting; in cluster mode the session lives on in the store, so their streams just
    /// close, and they resume on any node.
    fn drop(&mut self) {
        for (_, cancel) in self.calls.drain() {
            cancel.cancel();
        }
        let followers = std::mem::take(&mut self.subscribers);
        if self.shared.is_none() {
            for follower in followers {
                follower.queue.end_now(EndReason::Closed);
            }
        }
    }
}

impl Handler<Authenticate> for SessionActor {
    type Result = ActorResponse<Self, Result<SessionInfo, AuthError>>;

    fn handle(&mut self, msg: Authenticate, _: &mut Self::Context) -> Self::Result {
        if !self.token.matches(&msg.token) {
            return ActorResponse::reply(Err(AuthError::Unauthorized));
        }
        self.touch();
        if let Some(store) = self.shared_store() {
            return ActorResponse::r#async(self.confirm_shared(store));
        }
        ActorResponse::reply(Ok(self.info()))
    }
}

impl Handler<Describe> for SessionActor {
    type Result = MessageResult<Describe>;

    fn handle(&mut self, _: Describe, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.info())
    }
}

impl Handler<Subscribe> for SessionActor {
    type Result = AtomicResponse<Self, Followed>;

    fn handle(&mut self, _: Subscribe, ctx: &mut Self::Context) -> Self::Result {
        self.follow(None, ctx)
    }
}

impl Handler<SubscribeAfter> for SessionActor {
    type Result = AtomicResponse<Self, Followed>;

    fn handle(
        &mut self,
        SubscribeAfter(seen): SubscribeAfter,
        ctx: &mut Self::Context,
    ) -> Self::Result {
        self.follow(Some(seen), ctx)
    }
}

impl Handler<Publish> for SessionActor {
    type Result = ActorResponse<Self, ()>;

    fn handle(&mut self, Publish(data): Publish, ctx: &mut Self::Context) -> Self::Result {
        if let Some(store) = self.shared_store() {
            // Followers here and on every other node get it from the shared stream.
            return ActorResponse::r#async(self.publish_shared(store, data));
        }
        let event = self.history.record(data);
        self.deliver(&event, ctx);
        self.meters.published.increment(1);
        ActorResponse::reply(())
    }
}

impl Handler<BeginCall> for SessionActor {
    type Result = Result<(), BeginCallError>;

    fn handle(&mut self, msg: BeginCall, ctx: &mut Self::Context) -> Self::Result {
        if self.calls.contains_key(&msg.key) {
            return Err(BeginCallError::DuplicateId(msg.key));
        }
        if self.calls.len() >= self.limits.max_calls {
            return Err(BeginCallError::TooManyCalls(self.limits.max_calls));
        }
        self.calls.insert(msg.key, msg.cancel);
        if !std::mem::replace(&mut self.worked, true)
            && let Some(store) = self.shared_store()
        {
            // Put to work: the shared record now lives as long as the idle timeout says.
            self.touch_shared(store, ctx);
        }
        Ok(())
    }
}

impl Handler<EndCall> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: EndCall, ctx: &mut Self::Context) {
        if self.calls.remove(&msg.key).is_some() {
            self.touch();
            // A long call kept the session in use here; the other nodes must see that too,
            // counting the idle time from its end.
            if let Some(store) = self.shared_store() {
                self.touch_shared(store, ctx);
            }
        }
    }
}

impl Handler<CancelCall> for SessionActor {
    type Result = bool;

    fn handle(&mut self, msg: CancelCall, _: &mut Self::Context) -> bool {
        match self.calls.get(&msg.key) {
            Some(cancel) => {
                cancel.cancel();
                true
            }
            None => false,
        }
    }
}

impl Handler<UpdateSettings> for SessionActor {
    type Result = ActorResponse<Self, ()>;

    fn handle(&mut self, msg: UpdateSettings, _: &mut Self::Context) -> Self::Result {
        if let Some(store) = self.shared_store() {
            return ActorResponse::r#async(self.save_settings_shared(store, msg));
        }
        self.apply(&msg.0);
        ActorResponse::reply(())
    }
}

impl Handler<CloseSubscriptions> for SessionActor {
    type Result = ();

    fn handle(&mut self, _: CloseSubscriptions, ctx: &mut Self::Context) {
        drop(self.take_followers(ctx));
        self.touch();
    }
}

impl Handler<Stop> for SessionActor {
    type Result = AtomicResponse<Self, Result<(), Unavailable>>;

    fn handle(&mut self, _: Stop, _: &mut Self::Context) -> Self::Result {
        // Atomic, so that nothing (such as this node's feed bringing the end entry back) ends
        // the actor before the reply is sent; the actor ends as the reply goes.
        if let Some(store) = self.shared_store() {
            return AtomicResponse::new(self.stop_shared(store));
        }
        AtomicResponse::new(Box::pin(actix::fut::ready(()).map(
            |(), actor: &mut Self, ctx| {
                actor.end(EndReason::Closed, ctx);
                Ok(())
            },
        )))
    }
}
