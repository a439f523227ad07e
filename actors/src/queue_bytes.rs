//! [`QueueBytes`]: the bytes waiting in a bounded channel, counted from its sending end alone.
//!
//! Channels here are bounded by a count of items, but items are as large as what a client made a
//! tool say, so a count alone does not bound memory. The receiving ends are plain
//! `tokio::sync::mpsc::Receiver`s owned by HTTP handlers, which know nothing of budgets; so the
//! sender keeps the sizes of what it queued, in order, and learns how many of them were read
//! from the channel's free capacity (`max_capacity - capacity` items are still waiting). Sizes of
//! items read are forgotten from the front. The ledger costs one `usize` per queued item.
//!
//! A sender must settle before each decision (so items read since count no more), must not
//! hold a reserved permit while it settles (a reserved place would look like an unread item; the
//! estimate would then only be too high, never too low), and must record every item it queues.

use std::collections::VecDeque;

/// What is waiting in one channel, in bytes, with the budget it must stay within.
#[derive(Debug)]
pub struct QueueBytes {
    /// Sizes of the items queued and not yet known to be read, oldest first.
    sizes: VecDeque<usize>,
    /// Their sum.
    bytes: usize,
    /// The budget.
    max: usize,
}

impl QueueBytes {
    /// An empty ledger for a queue allowed `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            sizes: VecDeque::new(),
            bytes: 0,
            max,
        }
    }

    /// Forgets what was read: `waiting` items are still in the channel, so every older one
    /// recorded has been taken out.
    pub fn settle(&mut self, waiting: usize) {
        while self.sizes.len() > waiting {
            if let Some(size) = self.sizes.pop_front() {
                self.bytes -= size;
            }
        }
    }

    /// Whether an item of `len` bytes may be queued now: it fits in what is left of the budget,
    /// or the queue is empty (one item larger than the whole budget still gets through alone,
    /// so a queue never wedges; the largest item is bounded where it is made).
    pub fn fits(&self, len: usize) -> bool {
        self.bytes == 0 || self.bytes.saturating_add(len) <= self.max
    }

    /// Records an item of `len` bytes just queued.
    pub fn record(&mut self, len: usize) {
        self.sizes.push_back(len);
        self.bytes += len;
    }

    /// The bytes waiting, as of the last [`settle`](Self::settle).
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Items waiting in a channel whose sending end is `sender`.
pub fn waiting<T>(sender: &tokio::sync::mpsc::Sender<T>) -> usize {
    sender.max_capacity() - sender.capacity()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_free_the_oldest_bytes_first() {
        let mut queue = QueueBytes::new(10);
        assert!(queue.fits(100), "an empty queue takes anything once");
        queue.record(4);
        queue.record(5);
        assert!(queue.fits(1) && !queue.fits(2));
        queue.settle(1); // the 4-byte item was read
        assert_eq!(queue.bytes(), 5);
        assert!(queue.fits(5) && !queue.fits(6));
        queue.settle(0);
        assert_eq!(queue.bytes(), 0);
    }

    #[tokio::test]
    async fn waiting_items_are_read_from_the_channel_capacity() {
        let (sender, mut receiver) = tokio::sync::mpsc::channel(4);
        let mut queue = QueueBytes::new(64);
        for len in [10, 20, 30] {
            sender.try_send(len).unwrap();
            queue.record(len);
        }
        assert_eq!(waiting(&sender), 3);
        assert_eq!(receiver.recv().await, Some(10));
        queue.settle(waiting(&sender));
        assert_eq!(queue.bytes(), 50);
        assert!(!queue.fits(15) && queue.fits(14));
    }
}
