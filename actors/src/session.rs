//! `SessionActor`: one per session, the only owner of that session's state.
//!
//! It holds the session's identity (id, token, cwd, label), its activity times and its
//! subscribers. Publishing never blocks: each subscriber has a bounded queue, and an event that
//! does not fit is dropped for that subscriber alone (progress is advisory), so a dashboard that
//! stops reading cannot slow the tool or the other dashboards, nor grow memory. A subscriber whose
//! receiver is dropped (its client went away) is removed as soon as that happens.
//!
//! It also knows which tool calls run in the session, by request id, so that a client's
//! `notifications/cancelled` can reach the right call, a per-session limit on concurrent calls can
//! be enforced, and ending the session cancels everything it started.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::event::PublishedEvent;
use crate::messages::{
    Authenticate, BeginCall, BeginCallError, CancelCall, CloseSubscriptions, EndCall, Publish,
    SessionInfo, SessionSettings, Stop, Subscribe, SubscribeError, Unauthorized, UpdateSettings,
};
use crate::token::Token;

/// How many messages may wait in a session's mailbox. Publishers await room (backpressure on the
/// tool, not on subscribers), so this bounds memory, not throughput.
const MAILBOX_CAPACITY: usize = 256;

/// Per-session bounds, from the daemon's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Events that may wait for one subscriber before further ones are dropped for it.
    pub subscriber_queue: usize,
    /// How many events streams may follow one session at once.
    pub max_subscribers: usize,
    /// How many tool calls may run in one session at once.
    pub max_calls: usize,
}

/// One follower of the session's events.
struct Subscriber {
    id: u64,
    sender: mpsc::Sender<PublishedEvent>,
    /// The future that removes this subscriber when its receiver is dropped. It holds a sender
    /// too, so closing the subscription means cancelling it as well.
    watcher: SpawnHandle,
}

/// The actor behind one session.
pub struct SessionActor {
    id: Uuid,
    token: Token,
    cwd: Arc<Path>,
    label: Option<Arc<str>>,
    created_at: DateTime<Utc>,
    last_activity: DateTime<Utc>,
    limits: SessionLimits,
    subscribers: Vec<Subscriber>,
    next_subscriber_id: u64,
    last_event_id: u64,
    calls: HashMap<String, CancellationToken>,
    settings: SessionSettings,
}

impl SessionActor {
    /// A session that has just been created.
    pub fn new(
        id: Uuid,
        token: Token,
        cwd: Arc<Path>,
        label: Option<String>,
        limits: SessionLimits,
    ) -> Self {
        let now = Utc::now();
        Self {
            id,
            token,
            cwd,
            label: label.map(Arc::from),
            created_at: now,
            last_activity: now,
            limits,
            subscribers: Vec::new(),
            next_subscriber_id: 0,
            last_event_id: 0,
            calls: HashMap::new(),
            settings: SessionSettings::default(),
        }
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
    }
}

impl Handler<Authenticate> for SessionActor {
    type Result = Result<SessionInfo, Unauthorized>;

    fn handle(&mut self, msg: Authenticate, _: &mut Self::Context) -> Self::Result {
        if !self.token.matches(&msg.token) {
            return Err(Unauthorized);
        }
        self.last_activity = Utc::now();
        Ok(self.info())
    }
}

impl Handler<Subscribe> for SessionActor {
    type Result = Result<mpsc::Receiver<PublishedEvent>, SubscribeError>;

    fn handle(&mut self, _: Subscribe, ctx: &mut Self::Context) -> Self::Result {
        if self.subscribers.len() >= self.limits.max_subscribers {
            return Err(SubscribeError::TooManySubscribers(
                self.limits.max_subscribers,
            ));
        }
        let (sender, receiver) = mpsc::channel(self.limits.subscriber_queue);
        let id = self.next_subscriber_id;
        self.next_subscriber_id += 1;

        // Remove the subscriber the moment its receiver is dropped, not at the next publish:
        // an idle session must not keep dead streams' queues alive.
        let closed = sender.clone();
        let watcher = ctx.spawn(
            async move { closed.closed().await }
                .into_actor(self)
                .map(move |(), actor, _| actor.subscribers.retain(|s| s.id != id)),
        );
        self.subscribers.push(Subscriber {
            id,
            sender,
            watcher,
        });
        Ok(receiver)
    }
}

impl Handler<Publish> for SessionActor {
    type Result = ();

    fn handle(&mut self, Publish(data): Publish, _: &mut Self::Context) {
        self.last_event_id += 1;
        let event = PublishedEvent {
            id: self.last_event_id,
            data,
        };
        self.subscribers.retain(
            |subscriber| match subscriber.sender.try_send(event.clone()) {
                Ok(()) | Err(TrySendError::Full(_)) => true,
                Err(TrySendError::Closed(_)) => false,
            },
        );
    }
}

impl Handler<BeginCall> for SessionActor {
    type Result = Result<(), BeginCallError>;

    fn handle(&mut self, msg: BeginCall, _: &mut Self::Context) -> Self::Result {
        if self.calls.contains_key(&msg.key) {
            return Err(BeginCallError::DuplicateId(msg.key));
        }
        if self.calls.len() >= self.limits.max_calls {
            return Err(BeginCallError::TooManyCalls(self.limits.max_calls));
        }
        self.calls.insert(msg.key, msg.cancel);
        Ok(())
    }
}

impl Handler<EndCall> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: EndCall, _: &mut Self::Context) {
        self.calls.remove(&msg.key);
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
    type Result = ();

    fn handle(&mut self, msg: UpdateSettings, _: &mut Self::Context) {
        if let Some(version) = msg.protocol_version {
            self.settings.protocol_version = Some(Arc::from(version));
        }
        if let Some(level) = msg.log_level {
            self.settings.log_level = Some(Arc::from(level));
        }
    }
}

impl Handler<CloseSubscriptions> for SessionActor {
    type Result = ();

    fn handle(&mut self, _: CloseSubscriptions, ctx: &mut Self::Context) {
        for subscriber in self.subscribers.drain(..) {
            ctx.cancel_future(subscriber.watcher);
        }
    }
}

impl Handler<Stop> for SessionActor {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Self::Context) {
        self.subscribers.clear();
        for (_, cancel) in self.calls.drain() {
            cancel.cancel();
        }
        ctx.stop();
    }
}
