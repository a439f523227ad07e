//! How a session's actor hands events to its followers, never waiting for one.
//!
//! Each follower has a queue bounded in events and in bytes; an event that does not fit is
//! dropped for that follower alone and counted, the count reaching it as soon as it reads again
//! (see [`crate::subscriber`]), so a dashboard that stops reading cannot slow the tool or the
//! other dashboards, nor grow memory, nor lose events without being told. A follower whose
//! receiver is dropped (its client went away) is removed as soon as that happens. A follower
//! that reconnects names the last event it saw and is replayed what followed before it is
//! subscribed, in one atomic step, so nothing can slip between the replay and the live events.

use actix::fut::wrap_future;
use actix::prelude::*;
use tokio::sync::mpsc;
use tokio::sync::mpsc::OwnedPermit;

use super::actor::{Follower, SessionActor};
use crate::event::PublishedEvent;
use crate::subscriber::{Offer, QueueLimits, StreamItem, Subscriber};

impl SessionActor {
    /// Adds a follower that already has the events up to `seen` and first receives `replay`;
    /// the caller checked there is room.
    pub(super) fn subscribe(
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
                    actor.store.stop_feed();
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
    pub(super) fn deliver(&mut self, event: &PublishedEvent, ctx: &mut Context<Self>) {
        let (delivered, dropped) = self.offer_all(ctx, |queue| queue.offer(event));
        self.meters.delivered.increment(delivered);
        self.meters.dropped.increment(dropped);
    }

    /// Offers each follower something with `offer`, never waiting; a follower whose queue has
    /// just filled up is told what it missed once it has room. Counts the followers it was
    /// queued for and those it was dropped for.
    pub(super) fn offer_all(
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
    pub(super) fn take_followers(&mut self, ctx: &mut Context<Self>) -> Vec<Subscriber> {
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
}
