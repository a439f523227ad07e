//! The seam between the actors and where sessions are kept: in this process alone, or in the
//! cluster's Redis for every node.
//!
//! The registry asks a [`SessionStore`] to keep new sessions and to find sessions it has no actor
//! of; each session's actor asks its [`StoredSession`] to publish, replay, refresh and end it. Each
//! trait has two implementations, one per file: [`local`](super::local) (the actor is the session)
//! and [`cluster`](super::cluster) (the actor serves, on this node, a session kept in Redis). So
//! the registry's and the actor's handlers read the same in both modes: whatever differs is
//! behind these two traits.
//!
//! A question that may need Redis is answered with an [`Answer`]: at once by the local store
//! (the handler goes on as if it had never asked), later by the cluster's.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix::fut::{self, wrap_future};
use actix::prelude::*;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::feed::FeedUpdate;
use super::messages::SubscribeError;
use crate::cluster::{SessionRecord, StoreError};
use crate::event::{PublishedEvent, SerializedEvent};
use crate::limits::SessionLimits;
use crate::settings::SessionSettings;
use crate::subscriber::StreamItem;

/// A store's answer: known at once (sessions in this process), or once Redis has answered.
pub(crate) enum Answer<T> {
    /// Known now: the caller goes on at once, within the same handler.
    Now(T),
    /// Known when this future ends; it runs on the asking actor's thread.
    Later(Pin<Box<dyn Future<Output = T>>>),
}

impl<T: 'static> Answer<T> {
    /// The answer `future` will give.
    pub(crate) fn later(future: impl Future<Output = T> + 'static) -> Self {
        Self::Later(Box::pin(future))
    }

    /// A handler's reply, made by `then` from the answer: at once when it is known; otherwise
    /// once it is, while the actor handles other messages meanwhile.
    pub(crate) fn reply<A, R>(
        self,
        actor: &mut A,
        ctx: &mut Context<A>,
        then: impl FnOnce(T, &mut A, &mut Context<A>) -> R + 'static,
    ) -> ActorResponse<A, R>
    where
        A: Actor<Context = Context<A>>,
        R: 'static,
    {
        match self {
            Self::Now(value) => ActorResponse::reply(then(value, actor, ctx)),
            Self::Later(future) => ActorResponse::r#async(wrap_future(future).map(then)),
        }
    }

    /// A handler's reply, made by `then` from the answer, with no other message handled before
    /// `then` has run.
    pub(crate) fn reply_atomically<A, R>(
        self,
        then: impl FnOnce(T, &mut A, &mut Context<A>) -> R + 'static,
    ) -> AtomicResponse<A, R>
    where
        A: Actor<Context = Context<A>>,
        R: 'static,
    {
        let answer: ResponseActFuture<A, T> = match self {
            Self::Now(value) => Box::pin(fut::ready(value)),
            Self::Later(future) => Box::pin(wrap_future(future)),
        };
        AtomicResponse::new(Box::pin(answer.map(then)))
    }

    /// Runs `then` on the answer, now or once it is known, replying to no one.
    pub(crate) fn then<A>(
        self,
        actor: &mut A,
        ctx: &mut Context<A>,
        then: impl FnOnce(T, &mut A, &mut Context<A>) + 'static,
    ) where
        A: Actor<Context = Context<A>>,
    {
        match self {
            Self::Now(value) => then(value, actor, ctx),
            Self::Later(future) => {
                ctx.spawn(wrap_future(future).map(then));
            }
        }
    }
}

/// Where a node keeps sessions.
pub(crate) trait SessionStore {
    /// Whether a new session is kept by its actor alone, so that a worker holding an
    /// [`Allowance`](crate::admission::Allowance) may create one itself, writing nothing
    /// elsewhere first.
    fn creates_here(&self) -> bool;

    /// Keeps a new session, to expire after `ttl` unused (`None`: never).
    fn create(
        &self,
        record: &SessionRecord,
        ttl: Option<Duration>,
    ) -> Answer<Result<(), StoreError>>;

    /// Session `id`, which no actor here serves: `None` when the store does not have it.
    fn load(&self, id: Uuid) -> Answer<Result<Option<SessionRecord>, StoreError>>;

    /// What the actor of session `id` keeps it in.
    fn open(&self, id: Uuid, limits: &SessionLimits) -> Box<dyn StoredSession>;
}

/// One session as its actor keeps it: its events and, in cluster mode, its record in Redis.
///
/// Activity is reported as the session's time to live from now (`ttl`, `None`: for ever) and the
/// time of its last use (`at`).
pub(crate) trait StoredSession: Send {
    /// Records that the session was used at `at`, for `ttl` more; `false` when the store no
    /// longer has it (it ended on another node, or expired).
    fn refresh(&self, ttl: Option<Duration>, at: DateTime<Utc>)
    -> Answer<Result<bool, StoreError>>;

    /// How soon a session in use without requests (a call runs, a follower keeps up) is looked
    /// at again, given its idle timeout.
    fn refresh_every(&self, idle_timeout: Duration) -> Duration;

    /// Whether a session idle here for its whole timeout goes on all the same (other nodes may
    /// be using it), so that only this node's actor of it should go.
    fn survives_idle(&self) -> Answer<Result<bool, StoreError>>;

    /// Whether the session goes on when its actor is dropped unended.
    fn outlives_actor(&self) -> bool;

    /// Numbers and keeps an event.
    fn publish(&mut self, event: SerializedEvent) -> Answer<Published>;

    /// What a new follower, which last saw event `seen` if any, is owed before live events. Its
    /// asking counts as activity (`ttl`, `at`).
    fn follow(
        &self,
        seen: Option<u64>,
        ttl: Option<Duration>,
        at: DateTime<Utc>,
    ) -> Answer<Result<Replay, SubscribeError>>;

    /// Starts handing the actor, through `to`, the session's events numbered after `after`, as
    /// [`Replay::feed_from`] asked.
    fn start_feed(&mut self, after: u64, to: Recipient<FeedUpdate>);

    /// Stops handing the actor events: nobody here follows the session any more.
    fn stop_feed(&mut self);

    /// Moves the feed's place to event `seq`, just arrived; the place before, or `None` when
    /// `seq` was handed out already (a stopped feed's last entries may still arrive).
    fn advance(&mut self, seq: u64) -> Option<u64>;

    /// Records what the client established (`None` fields: unchanged); `false` when the store
    /// no longer has the session.
    fn save_settings(&self, update: &SessionSettings) -> Answer<Result<bool, StoreError>>;

    /// Ends the session where it is kept, because it was asked to ([`Stop`](crate::Stop)).
    fn close(&self) -> Answer<Result<(), StoreError>>;
}

/// What became of a published event.
pub(crate) enum Published {
    /// Numbered and kept by the session's actor, which hands it to its followers itself.
    Here(PublishedEvent),
    /// Appended to the session's stream in Redis; the followers get it from their node's feed.
    Stored,
    /// The store no longer has the session: it ended on another node, or expired.
    Gone,
    /// The store could not be reached: the event is lost (progress is advisory).
    Lost(StoreError),
}

/// What a new follower gets before live events.
pub(crate) struct Replay {
    /// The last event the follower already has; the session does not send it those again.
    pub(crate) seen: u64,
    /// What it missed and the store still holds, oldest first, opening with a lag count for
    /// what it no longer holds.
    pub(crate) items: Vec<StreamItem>,
    /// Where the feed of live events must start ([`StoredSession::start_feed`]), when none runs
    /// yet; `None` when none is needed.
    pub(crate) feed_from: Option<u64>,
}
