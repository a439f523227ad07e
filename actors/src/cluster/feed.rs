//! One follower's live read of a session's events, from wherever they were published.
//!
//! A follower waits with a blocking `XREAD`, which holds its connection for the whole wait; on
//! the store's shared connection that would stall every other call, so each feed opens a
//! connection of its own, on its first read. A feed keeps its place (the number of the last
//! entry it returned), so when Redis goes away it reports [`StoreError::Unavailable`], drops the
//! connection, and its next read connects again and carries on after that entry.
//!
//! A session that expires (or whose record is deleted without an end entry) leaves no entry to
//! read, so a wait that ends with nothing new checks that the session is still there.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::streams::{StreamRangeReply, StreamReadReply};
use redis::{AsyncConnectionConfig, Client};
use uuid::Uuid;

use super::entry::entry_id;
use super::keys::SessionKeys;
use super::store::{bounded, millis};
use super::{ClusterStore, StoreError, StreamEntry};

/// The most entries one read returns.
const BATCH: usize = 256;

/// What one read of a feed found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedItem {
    /// Entries after the feed's place, oldest first; the feed's place is now the last of them.
    /// An [`EntryKind::End`](super::EntryKind::End) is the session's last: stop reading.
    /// The first may be numbered above the previous place plus one when the entries in between
    /// fell out of the kept history.
    Entries(Vec<StreamEntry>),
    /// Nothing new within the wait; the session is still there.
    Idle,
    /// The session is gone without an end entry: it expired, or its record was deleted.
    Gone,
}

/// A live reader of one session's events, on a connection of its own.
pub struct SessionFeed {
    client: Client,
    keys: SessionKeys,
    timeout: Duration,
    cursor: u64,
    connection: Option<MultiplexedConnection>,
}

impl SessionFeed {
    /// A reader of session `id`'s events numbered after `after` (0: from the first kept).
    /// It connects on its first [`SessionFeed::next`].
    pub fn open(store: &ClusterStore, id: Uuid, after: u64) -> Self {
        Self {
            client: store.client().clone(),
            keys: store.keys(id),
            timeout: store.timeout(),
            cursor: after,
            connection: None,
        }
    }

    /// The number of the last entry returned (or the `after` it was opened with).
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Waits up to `block` for entries after the feed's place.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when Redis cannot be reached, within about `block` plus the
    /// store's timeout; the feed keeps its place, and calling again later connects again.
    /// [`StoreError::Corrupt`] when an entry is malformed; reading again meets it again.
    ///
    /// Dropping the returned future midway is safe: the feed keeps its place and its next read
    /// opens a new connection.
    pub async fn next(&mut self, block: Duration) -> Result<FeedItem, StoreError> {
        let mut connection = match self.connection.take() {
            Some(connection) => connection,
            None => self.connect().await?,
        };
        let item = self.read(&mut connection, block).await;
        if !matches!(item, Err(StoreError::Unavailable(_))) {
            self.connection = Some(connection);
        }
        let item = item?;
        if let FeedItem::Entries(entries) = &item
            && let Some(last) = entries.last()
        {
            self.cursor = last.seq;
        }
        Ok(item)
    }

    async fn connect(&self) -> Result<MultiplexedConnection, StoreError> {
        // No response timeout: a blocking read answers only when its wait is over, and each
        // read below is bounded by its own wait instead.
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(None);
        bounded(
            self.timeout,
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await
    }

    async fn read(
        &self,
        connection: &mut MultiplexedConnection,
        block: Duration,
    ) -> Result<FeedItem, StoreError> {
        let reply: Option<StreamReadReply> = bounded(
            block.saturating_add(self.timeout),
            redis::cmd("XREAD")
                .arg("COUNT")
                .arg(BATCH)
                .arg("BLOCK")
                .arg(millis(block))
                .arg("STREAMS")
                .arg(&self.keys.events)
                .arg(entry_id(self.cursor))
                .query_async(connection),
        )
        .await?;
        let entries = self.parse(
            reply
                .into_iter()
                .flat_map(|reply| reply.keys)
                .flat_map(|key| key.ids),
        )?;
        if !entries.is_empty() {
            return Ok(FeedItem::Entries(entries));
        }
        self.after_idle(connection).await
    }

    /// Whether the session is still there after a wait found nothing. Read together with any
    /// entries appended since, in one transaction: a session that ended just after the wait
    /// has an end entry, and must not be taken for one that expired.
    async fn after_idle(
        &self,
        connection: &mut MultiplexedConnection,
    ) -> Result<FeedItem, StoreError> {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .exists(&self.keys.session)
            .cmd("XRANGE")
            .arg(&self.keys.events)
            .arg(entry_id(self.cursor.saturating_add(1)))
            .arg("+")
            .arg("COUNT")
            .arg(BATCH);
        let (exists, range): (bool, StreamRangeReply) =
            bounded(self.timeout, pipe.query_async(connection)).await?;
        let entries = self.parse(range.ids)?;
        Ok(if !entries.is_empty() {
            FeedItem::Entries(entries)
        } else if exists {
            FeedItem::Idle
        } else {
            FeedItem::Gone
        })
    }

    fn parse(
        &self,
        entries: impl IntoIterator<Item = redis::streams::StreamId>,
    ) -> Result<Vec<StreamEntry>, StoreError> {
        entries
            .into_iter()
            .map(|entry| StreamEntry::parse(&self.keys.events, entry))
            .collect()
    }
}
