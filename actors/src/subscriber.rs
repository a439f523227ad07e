//! One follower of a session's events: what it receives ([`StreamItem`]) and the session's end of
//! its queue (`Subscriber`).
//!
//! Nothing a follower misses goes unsaid. Each follower has its own queue, bounded in events and
//! in bytes (see [`QueueBytes`]); when the queue is full the session stops queueing for that
//! follower and only counts what it drops, and as soon as the follower has read something the
//! count arrives as one [`StreamItem::Lagged`], before any later event. A slow follower therefore costs the session a counter, never a wait,
//! and never slows the others. When the session ends, each follower is sent what it is still
//! owed (a last lag count, then [`StreamItem::SessionEnded`]), and then its stream closes.

use std::time::Duration;

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::{self, OwnedPermit};

use crate::event::PublishedEvent;
use crate::queue_bytes::{self, QueueBytes};

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
    /// It was asked to end ([`Stop`](crate::Stop)), e.g. by its client.
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
    /// The bytes of the events queued for the follower and not yet read.
    bytes: QueueBytes,
}

/// How much may wait for one follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueLimits {
    /// Items, besides the replay.
    pub(crate) items: usize,
    /// Bytes of event JSON, besides the replay (which the session's history bounds).
    pub(crate) bytes: usize,
}

impl Subscriber {
    /// A follower that already has the events up to `seen`, first receives `replay`, then has
    /// room for what `limits` allow.
    pub(crate) fn new(
        limits: QueueLimits,
        seen: u64,
        replay: Vec<StreamItem>,
    ) -> (Self, mpsc::Receiver<StreamItem>) {
        let (sender, receiver) = mpsc::channel(limits.items + replay.len());
        let mut bytes = QueueBytes::new(limits.bytes);
        for item in replay {
            // The channel was sized for the replay, so this always fits. The replay is bounded
            // by the history's own budget, so it does not count against the queue's.
            let _ = sender.try_send(item);
            bytes.record(0);
        }
        let follower = Self {
            sender,
            missed: 0,
            seen,
            bytes,
        };
        (follower, receiver)
    }

    /// Queues `item` of `len` bytes if the follower's queue has room for it, in items and bytes.
    fn try_queue(&mut self, item: StreamItem, len: usize) -> Result<(), TrySendError<()>> {
        self.bytes.settle(queue_bytes::waiting(&self.sender));
        if !self.bytes.fits(len) {
            return Err(TrySendError::Full(()));
        }
        match self.sender.try_send(item) {
            Ok(()) => {
                self.bytes.record(len);
                Ok(())
            }
            Err(TrySendError::Full(_)) => Err(TrySendError::Full(())),
            Err(TrySendError::Closed(_)) => Err(TrySendError::Closed(())),
        }
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
        match self.try_queue(StreamItem::Event(event.clone()), event.data.len()) {
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
        match self.try_queue(StreamItem::Lagged { missed }, 0) {
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
        self.bytes.record(0);
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

    /// Room for `items` events, whatever their size.
    fn items(items: usize) -> QueueLimits {
        QueueLimits {
            items,
            bytes: usize::MAX,
        }
    }

    /// An event `id` of `len` bytes.
    fn sized(id: u64, len: usize) -> PublishedEvent {
        PublishedEvent {
            id,
            data: SerializedEvent::from_json("x".repeat(len).into()),
        }
    }

    #[test]
    fn a_queue_over_its_bytes_overflows_and_reads_make_room() {
        let limits = QueueLimits {
            items: 100,
            bytes: 1000,
        };
        let (mut follower, mut receiver) = Subscriber::new(limits, 0, Vec::new());
        for id in 1..=3 {
            assert!(matches!(follower.offer(&sized(id, 300)), Offer::Queued));
        }
        // 900 bytes wait; 300 more would pass the budget though the count has room.
        assert!(matches!(follower.offer(&sized(4, 300)), Offer::Overflowed));
        assert!(matches!(follower.offer(&sized(5, 10)), Offer::Missed));
        assert_eq!(
            receiver.try_recv().unwrap(),
            StreamItem::Event(sized(1, 300))
        );
        follower.catch_up(receiver_permit(&follower));
        assert!(matches!(follower.offer(&sized(6, 300)), Offer::Queued));
        let read: Vec<_> = std::iter::from_fn(|| receiver.try_recv().ok()).collect();
        assert_eq!(
            read,
            [
                StreamItem::Event(sized(2, 300)),
                StreamItem::Event(sized(3, 300)),
                StreamItem::Lagged { missed: 2 },
                StreamItem::Event(sized(6, 300)),
            ]
        );
        // All read: one event larger than the whole budget still gets through, alone.
        assert!(matches!(follower.offer(&sized(7, 5000)), Offer::Queued));
        assert!(matches!(follower.offer(&sized(8, 1)), Offer::Overflowed));
    }

    #[test]
    fn the_replay_does_not_count_against_the_byte_budget() {
        let limits = QueueLimits {
            items: 4,
            bytes: 100,
        };
        let replay = vec![
            StreamItem::Event(sized(1, 500)),
            StreamItem::Event(sized(2, 500)),
        ];
        let (mut follower, mut receiver) = Subscriber::new(limits, 0, replay);
        assert!(matches!(follower.offer(&sized(3, 60)), Offer::Queued));
        assert!(matches!(follower.offer(&sized(4, 60)), Offer::Overflowed));
        assert_eq!(
            receiver.try_recv().unwrap(),
            StreamItem::Event(sized(1, 500))
        );
    }

    #[test]
    fn a_follower_that_resumed_ahead_is_not_sent_what_it_has() {
        let (mut follower, mut receiver) = Subscriber::new(items(8), 5, Vec::new());
        for id in 4..=7 {
            follower.offer(&event(id));
        }
        assert_eq!(receiver.try_recv().unwrap(), StreamItem::Event(event(6)));
        assert_eq!(receiver.try_recv().unwrap(), StreamItem::Event(event(7)));
        assert!(receiver.try_recv().is_err());
    }

    #[test]
    fn lost_events_are_counted_from_what_the_follower_has() {
        let (mut follower, mut receiver) = Subscriber::new(items(8), 3, Vec::new());
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
        let (mut follower, mut receiver) = Subscriber::new(items(1), 0, Vec::new());
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
