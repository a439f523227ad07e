//! The bounded history of a session's events: where their ids come from, and what a follower
//! reconnecting with `Last-Event-ID` is replayed.
//!
//! Ids increase by one with every event a session publishes, so the history can tell exactly
//! which events lie after the one a follower names. It keeps only the most recent `capacity`
//! events, so memory stays bounded however long a session runs; when the named event is older
//! than that, the replay opens with an explicit count of what can no longer be replayed, never
//! with silence. A session that never publishes allocates nothing here.

use std::collections::VecDeque;

use crate::event::{PublishedEvent, SerializedEvent};
use crate::subscriber::StreamItem;

/// The recent events of one session, oldest first.
pub struct History {
    events: VecDeque<PublishedEvent>,
    capacity: usize,
    last_id: u64,
}

impl History {
    /// An empty history keeping at most `capacity` events.
    pub fn new(capacity: usize) -> Self {
        Self {
            events: VecDeque::new(),
            capacity,
            last_id: 0,
        }
    }

    /// Gives `data` the next id and keeps it, forgetting the oldest event when full.
    pub fn record(&mut self, data: SerializedEvent) -> PublishedEvent {
        self.last_id += 1;
        let event = PublishedEvent {
            id: self.last_id,
            data,
        };
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
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
        let mut history = History::new(capacity);
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
        let history = History::new(1024);
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
}
