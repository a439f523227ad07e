//! This node's feed of one cluster session's events: a task reading the session's Redis stream
//! and handing what it reads to the session's actor, while anyone here follows the session.
//!
//! Every node reads the one stream, so every node hands out the same events, in one order, with
//! the same ids, whichever node published them. The task rides out Redis outages, trying again
//! with backoff, up to [`OUTAGE_LIMIT`].

use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio_util::sync::CancellationToken;

use crate::cluster::{EntryKind, FeedItem, SessionFeed, StoreError, StreamEntry};

/// How long one read of the feed waits in Redis for new entries; also how often it checks that
/// a quiet session still exists.
const FEED_WAIT: Duration = Duration::from_secs(5);

/// First and longest pause between attempts to reach Redis again.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(2));

/// How long a feed keeps trying through an outage before it closes its followers' streams (they
/// reconnect with `Last-Event-ID` and resume once Redis is back), so that no stream hangs forever.
const OUTAGE_LIMIT: Duration = Duration::from_secs(30);

/// What a node's feed tells its session's actor.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) enum FeedUpdate {
    /// New entries of the session's stream, in order.
    Entries(Vec<StreamEntry>),
    /// The session vanished from the store without an end entry: it expired.
    Gone,
    /// Redis stayed out of reach for [`OUTAGE_LIMIT`].
    Lost(StoreError),
}

/// Reads one session's stream for one node until stopped, handing entries to `session` in
/// order, until the session's end or its actor's.
pub(crate) async fn run_feed(
    mut feed: SessionFeed,
    session: Recipient<FeedUpdate>,
    stop: CancellationToken,
) {
    let mut backoff = BACKOFF.0;
    let mut down_since: Option<Instant> = None;
    loop {
        let read = tokio::select! {
            () = stop.cancelled() => return,
            read = feed.next(FEED_WAIT) => read,
        };
        let update = match read {
            Ok(FeedItem::Entries(entries)) => FeedUpdate::Entries(entries),
            Ok(FeedItem::Gone) => FeedUpdate::Gone,
            Ok(FeedItem::Idle) => {
                (backoff, down_since) = (BACKOFF.0, None);
                continue;
            }
            Err(err) => {
                let since = *down_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= OUTAGE_LIMIT {
                    FeedUpdate::Lost(err)
                } else {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(BACKOFF.1);
                    continue;
                }
            }
        };
        (backoff, down_since) = (BACKOFF.0, None);
        let last = match &update {
            FeedUpdate::Entries(entries) => entries
                .iter()
                .any(|entry| matches!(entry.kind, EntryKind::End(_))),
            FeedUpdate::Gone | FeedUpdate::Lost(_) => true,
        };
        if session.send(update).await.is_err() || last {
            return;
        }
    }
}
