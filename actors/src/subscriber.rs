//! One follower of a session's events: what it receives ([`StreamItem`]) and the session's end of
//! its queue ([`Subscriber`]).
//!
//! Nothing a follower misses goes unsaid. Each follower has its own bounded queue; when the queue
//! is full the session stops queueing for that follower and only counts what it drops, and as
//! soon as the follower has read something the count arrives as one [`StreamItem::Lagged`],
//! before any later event. A slow follower therefore costs the session a counter, never a wait,
//! and never slows the others. When the session ends, each follower is sent what it is still
//! owed (a last lag count, then [`StreamItem::SessionEnded`]), and then its stream closes.

use std::time::Duration;

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::{self, OwnedPermit};

use crate::event::PublishedEvent;

/// How long the notices owed to a follower when its session ends may wait for room in its queue.
/// A follower that reads nothing for that long has its stream closed without them.
const END_NOTICE_WAIT: Duration = Duration::from_secs(10);

/// What a follower of a session receives, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// A progress event.
    Event(PublishedEvent),
    /// `missed` events were published that this follower will never receive: its queue was
    /// full, or it resumed after an event older than the session's history.
    Lagged {
        /// How many.
        missed: u64,
    },
    /// The session ended; the stream closes after this.
    SessionEnded(EndReason),
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Nothing used it for its idle timeout.
    Expired,
    /// It was asked to end ([`Stop`](crate::messages::Stop)), e.g. by its client.
    Closed,
}

impl EndReason {
    /// The reason as one word for the wire: `expired` or `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Closed => "closed",
        }
    }
}

/// What became of an event offered to a follower.
pub(crate) enum Offer {
    /// Queued for the follower.
    Queued,
    /// Counted as missed by a follower that is already behind.
    Missed,
    /// The follower's queue has just filled up: the event is counted as missed, and the count
    /// must reach the follower once it has room ([`Subscriber::room`], [`Subscriber::catch_up`]).
    Overflowed,
    /// The follower has gone; the session removes it.
    Gone,
    /// Nothing to do: the follower already has the event (it resumed past it).
    Skipped,
}

/// The session's end of one follower's queue.
pub(crate) struct Subscriber {
    sender: mpsc::Sender<StreamItem>,
    /// Events dropped for the follower since it was last told.
    missed: u64,
    /// The last event the follower already has: it resumed after it, ahead of what the session
    /// had handed out (in cluster mode, from another node), so events up to it are not sent.
    seen: u64,
}

impl Subscriber {
    /// A follower that already has the events up to `seen`, first receives `replay`, then has
    /// room for `queue` more items.
    pub(crate) fn new(
        queue: usize,
        seen: u64,
        replay: Vec<StreamItem>,
    ) -> (Self, mpsc::Receiver<StreamItem>) {
        let (sender, receiver) = mpsc::channel(queue + replay.len());
        for item in replay {
            // The channel was sized for the replay, so this always fits.
            let _ = sender.try_send(item);
        }
        let follower = Self {
            sender,
            missed: 0,
            seen,
        };
        (follower, receiver)
    }

    /// Resolves when the follower has gone (its receiver was dropped).
    pub(crate) fn gone(&self) -> impl Future<Output = ()> + use<> {
        let sender = self.sender.clone();
        async move { sender.closed().await }
    }

    /// Resolves with a place in the follower's queue once it has read something; `None` when it
    /// has gone.
    pub(crate) fn room(&self) -> impl Future<Output = Option<OwnedPermit<StreamItem>>> + use<> {
        let sender = self.sender.clone();
        async move { sender.reserve_owned().await.ok() }
    }

    /// Whether the follower has stopped keeping up: events were dropped for it and it has not
    /// read since.
    pub(crate) fn is_behind(&self) -> bool {
        self.missed > 0
    }

    /// Queues `event` for the follower, or counts it as missed. Never waits.
    pub(crate) fn offer(&mut self, event: &PublishedEvent) -> Offer {
        if event.id <= self.seen {
            return Offer::Skipped;
        }
        if self.missed > 0 {
            // Nothing overtakes the lag notice still owed.
            self.missed += 1;
            return Offer::Missed;
        }
        match self.sender.try_send(StreamItem::Event(event.clone())) {
            Ok(()) => Offer::Queued,
            // A follower that has gone is removed by the session, which watches for it.
            Err(TrySendError::Closed(_)) => Offer::Gone,
            Err(TrySendError::Full(_)) => {
                self.missed = 1;
                Offer::Overflowed
            }
        }
    }

    /// Events numbered after `after` and before `before` will never come (a cluster's stream no
    /// longer held them when this node read it): the follower is told how many it misses, with
    /// the same care as for events dropped for it. Never waits.
    pub(crate) fn lost(&mut self, after: u64, before: u64) -> Offer {
        let missed = before
            .saturating_sub(1)
            .saturating_sub(after.max(self.seen));
        if missed == 0 {
            return Offer::Skipped;
        }
        if self.missed > 0 {
            self.missed += missed;
            return Offer::Missed;
        }
        match self.sender.try_send(StreamItem::Lagged { missed }) {
            Ok(()) => Offer::Queued,
            Err(TrySendError::Closed(_)) => Offer::Gone,
            Err(TrySendError::Full(_)) => {
                self.missed = missed;
                Offer::Overflowed
            }
        }
    }

    /// Tells the follower, in the place `permit` holds, how many events it missed.
    pub(crate) fn catch_up(&mut self, permit: OwnedPermit<StreamItem>) {
        let missed = std::mem::take(&mut self.missed);
        permit.send(StreamItem::Lagged { missed });
    }

    /// The session's actor was dropped without ending (it panicked): tells the follower the
    /// session ended, if its queue has room right now, and closes its stream. Never waits, as it
    /// runs while the actor is being torn down.
    pub(crate) fn end_now(self, reason: EndReason) {
        if self.missed == 0
            || self
                .sender
                .try_send(StreamItem::Lagged {
                    missed: self.missed,
                })
                .is_ok()
        {
            let _ = self.sender.try_send(StreamItem::SessionEnded(reason));
        }
    }

    /// The session ended: the returned task delivers what the follower is owed (within
    /// [`END_NOTICE_WAIT`]) and then, dropping the queue, closes the follower's stream.
    pub(crate) fn end(self, reason: EndReason) -> impl Future<Output = ()> + use<> {
        let Self { sender, missed, .. } = self;
        async move {
            let owed = async {
                if missed > 0 {
                    sender.send(StreamItem::Lagged { missed }).await?;
                }
                sender.send(StreamItem::SessionEnded(reason)).await
            };
            let _ = tokio::time::timeout(END_NOTICE_WAIT, owed).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::SerializedEvent;

    fn event(id: u64) -> PublishedEvent {
        PublishedEvent {
            id,
            data: SerializedEvent::from_json(format!("{{\"n\":{id}}}").into()),
        }
    }

    #[test]
    fn a_follower_that_resumed_ahead_is_not_sent_what_it_has() {
        let (mut follower, mut receiver) = Subscriber::new(8, 5, Vec::new());
        for id in 4..=7 {
            follower.offer(&event(id));
        }
        assert_eq!(receiver.try_recv().unwrap(), StreamItem::Event(event(6)));
        assert_eq!(receiver.try_recv().unwrap(), StreamItem::Event(event(7)));
        assert!(receiver.try_recv().is_err());
    }

    #[test]
    fn lost_events_are_counted_from_what_the_follower_has() {
        let (mut follower, mut receiver) = Subscriber::new(8, 3, Vec::new());
        // 2..=9 are gone; the follower already has up to 3, so it misses 4..=9.
        assert!(matches!(follower.lost(1, 10), Offer::Queued));
        assert_eq!(
            receiver.try_recv().unwrap(),
            StreamItem::Lagged { missed: 6 }
        );
        // Nothing it lacks: nothing to say.
        assert!(matches!(follower.lost(1, 3), Offer::Skipped));
        assert!(receiver.try_recv().is_err());
    }

    #[test]
    fn lost_events_wait_behind_a_full_queue_and_add_up() {
        let (mut follower, mut receiver) = Subscriber::new(1, 0, Vec::new());
        assert!(matches!(follower.offer(&event(1)), Offer::Queued));
        assert!(matches!(follower.lost(1, 5), Offer::Overflowed));
        assert!(matches!(follower.offer(&event(5)), Offer::Missed));
        assert_eq!(receiver.try_recv().unwrap(), StreamItem::Event(event(1)));
        let permit = receiver_permit(&follower);
        follower.catch_up(permit);
        assert_eq!(
            receiver.try_recv().unwrap(),
            StreamItem::Lagged { missed: 4 }
        );
    }

    fn receiver_permit(follower: &Subscriber) -> OwnedPermit<StreamItem> {
        follower.sender.clone().try_reserve_owned().unwrap()
    }
}
