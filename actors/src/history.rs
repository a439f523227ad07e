//! The bounded history of a session's events: where their ids come from, and what a follower
//! reconnecting with `Last-Event-ID` is replayed.
//!
//! Ids increase by one with every event a session publishes, so the history can tell exactly
//! which events lie after the one a follower names. It keeps only the most recent events, at
//! most `capacity` of them and at most `max_bytes` of their JSON (the newest event is always
//! kept, whatever its size; how large one can be is bounded where events are made), so memory
//! stays bounded however long a session runs and however large what a client made its tools
//! report; when the named event is older than what is kept, the replay opens with an explicit
//! count of what can no longer be replayed, never with silence. A session that never publishes
//! allocates nothing here.

use std::collections::VecDeque;

use crate::event::{PublishedEvent, SerializedEvent};
use crate::subscriber::StreamItem;

/// The recent events of one session, oldest first.
pub struct History {
    events: VecDeque<PublishedEvent>,
    capacity: usize,
    /// The JSON of `events`, in bytes.
    bytes: usize,
    max_bytes: usize,
    last_id: u64,
}

impl History {
    /// An empty history keeping at most `capacity` events and `max_bytes` of their JSON.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            events: VecDeque::new(),
            capacity,
            bytes: 0,
            max_bytes,
            last_id: 0,
        }
    }

    /// Gives `data` the next id and keeps it, forgetting the oldest events until it fits.
    pub fn record(&mut self, data: SerializedEvent) -> PublishedEvent {
        self.last_id += 1;
        let event = PublishedEvent {
            id: self.last_id,
            data,
        };
        let len = event.data.len();
        while self.events.len() >= self.capacity
            || (!self.events.is_empty() && self.bytes + len > self.max_bytes)
        {
            let Some(oldest) = self.events.pop_front() else {
                break;
            };
            self.bytes -= oldest.data.len();
        }
        self.bytes += len;
        self.events.push_back(event.clone());
        event
    }

    /// What a follower that last saw event `seen` has missed: a [`StreamItem::Lagged`] counting
    /// the events no longer kept, when there are any, then every kept event after `seen`.
    /// An id the session never reached means the follower missed nothing.
    pub fn since(&self, seen: u64) -> Vec<StreamItem> {
        // The history holds ids first_kept..=last_id, consecutive.
        let first_kept = self.last_id + 1 - self.events.len() as u64;
        let first_wanted = seen.saturating_add(1);
        let lost = first_kept.saturating_sub(first_wanted);
        let skip = first_wanted.saturating_sub(first_kept);
        let lagged = (lost > 0).then_some(StreamItem::Lagged { missed: lost });
        lagged
            .into_iter()
            .chain(
                self.events
                    .iter()
                    .skip(usize::try_from(skip).unwrap_or(usize::MAX))
                    .cloned()
                    .map(StreamItem::Event),
            )
            .collect()
    }
}

/// How many of `events` (oldest first) must go for the rest to fit in `max_bytes`; the newest
/// always stays.
pub(crate) fn oldest_over_budget(events: &[PublishedEvent], max_bytes: usize) -> usize {
    let mut bytes = 0usize;
    let kept = events
        .iter()
        .rev()
        .take_while(|event| {
            bytes = bytes.saturating_add(event.data.len());
            bytes <= max_bytes
        })
        .count();
    events.len() - kept.max(1.min(events.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ProgressEvent, ProgressToken};

    fn data(progress: u64) -> SerializedEvent {
        ProgressEvent {
            token: ProgressToken::Text("t".into()),
            progress,
            total: None,
            message: None,
            tool: None,
            timestamp: chrono::Utc::now(),
        }
        .serialize()
    }

    fn history(capacity: usize, published: u64) -> History {
        let mut history = History::new(capacity, usize::MAX);
        for n in 1..=published {
            let id = history.record(data(n)).id;
            assert_eq!(id, n);
        }
        history
    }

    /// The replay as text: `L<n>` for a lag notice, the id for an event.
    fn replay(history: &History, seen: u64) -> Vec<String> {
        history
            .since(seen)
            .into_iter()
            .map(|item| match item {
                StreamItem::Lagged { missed } => format!("L{missed}"),
                StreamItem::Event(event) => event.id.to_string(),
                StreamItem::SessionEnded(_) => unreachable!("a history never ends a session"),
            })
            .collect()
    }

    #[test]
    fn a_history_that_was_never_written_allocates_nothing() {
        let history = History::new(1024, 1 << 20);
        assert_eq!(history.events.capacity(), 0);
        assert!(history.since(0).is_empty());
    }

    #[test]
    fn everything_after_the_seen_id_is_replayed_in_order() {
        let history = history(8, 5);
        assert_eq!(replay(&history, 0), ["1", "2", "3", "4", "5"]);
        assert_eq!(replay(&history, 3), ["4", "5"]);
        assert!(replay(&history, 5).is_empty());
        assert!(replay(&history, 99).is_empty(), "an id from the future");
        assert!(replay(&history, u64::MAX).is_empty());
    }

    #[test]
    fn events_older_than_the_history_are_counted_as_missed() {
        let history = history(4, 10);
        assert_eq!(history.events.len(), 4);
        assert_eq!(replay(&history, 0), ["L6", "7", "8", "9", "10"]);
        assert_eq!(replay(&history, 2), ["L4", "7", "8", "9", "10"]);
        assert_eq!(replay(&history, 6), ["7", "8", "9", "10"]);
        assert_eq!(replay(&history, 8), ["9", "10"]);
    }

    /// An event of `len` bytes of JSON.
    fn sized(len: usize) -> SerializedEvent {
        SerializedEvent::from_json("x".repeat(len).into())
    }

    #[test]
    fn the_byte_budget_drops_the_oldest_and_replays_count_them_exactly() {
        let mut history = History::new(100, 1000);
        for _ in 0..10 {
            history.record(sized(300));
        }
        // Three of 300 bytes fit in 1000; the seven before them are counted, not kept.
        assert_eq!(history.events.len(), 3);
        assert_eq!(history.bytes, 900);
        assert_eq!(replay(&history, 0), ["L7", "8", "9", "10"]);
        assert_eq!(replay(&history, 5), ["L2", "8", "9", "10"]);
        // A large event pushes out as many small ones as it needs.
        history.record(sized(950));
        assert_eq!(replay(&history, 9), ["L1", "11"]);
        assert_eq!(history.bytes, 950);
    }

    #[test]
    fn an_event_larger_than_the_budget_is_kept_alone() {
        let mut history = History::new(100, 10);
        history.record(sized(4));
        history.record(sized(50));
        assert_eq!(replay(&history, 0), ["L1", "2"]);
        history.record(sized(4));
        assert_eq!(replay(&history, 0), ["L2", "3"]);
        assert_eq!(history.bytes, 4);
    }

    #[test]
    fn a_replay_from_elsewhere_keeps_the_newest_that_fit() {
        let events: Vec<_> = [5, 5, 5, 20]
            .into_iter()
            .zip(1..)
            .map(|(len, id)| PublishedEvent {
                id,
                data: sized(len),
            })
            .collect();
        assert_eq!(oldest_over_budget(&events, 30), 1);
        assert_eq!(oldest_over_budget(&events, 1000), 0);
        assert_eq!(oldest_over_budget(&events, 3), 3, "the newest stays");
        assert_eq!(oldest_over_budget(&[], 3), 0);
    }
}
