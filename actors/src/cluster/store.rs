//! The cluster store: every short call a daemon makes to Redis, on one connection it shares.
//!
//! All calls go through one [`ConnectionManager`]: a multiplexed connection that many tasks use
//! at once and that replaces itself when it breaks. It is created without connecting, so a
//! daemon starts while Redis is down. It speaks RESP3 (Redis 6 or later), on which it hears at
//! once that its connection closed, so it starts connecting again right then rather than on the
//! next call; it keeps trying in the background, waiting 100 ms, then twice as long each time up
//! to about a second, and never gives up.
//!
//! Each call is bounded by the configured timeout: while Redis is away it ends with
//! [`StoreError::Unavailable`] after at most that long (calls in flight when the connection
//! breaks end at once); within about a second of Redis coming back, calls succeed again, with
//! nothing to reset. A call that times out may still have been carried out by Redis; none here
//! is harmful to repeat except [`ClusterStore::publish`], which would number the event twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::StreamRangeReply;
use redis::{Client, IntoConnectionInfo as _, ProtocolVersion, RedisResult};
use uuid::Uuid;

use super::entry::entry_id;
use super::keys::SessionKeys;
use super::record::{settings_fields, timestamp};
use super::{ClusterConfig, SessionRecord, StoreError, StreamEntry, scripts};
use crate::settings::SessionSettings;
use crate::subscriber::EndReason;

/// How long the events of an ended session stay readable, so that followers on every node read
/// its [`EntryKind::End`](super::EntryKind::End) before it goes.
pub const END_GRACE: Duration = Duration::from_secs(60);

/// The first pause between attempts to reach Redis again.
const RECONNECT_MIN_DELAY: Duration = Duration::from_millis(100);
/// The longest pause between attempts to reach Redis again (before up to as much jitter).
const RECONNECT_MAX_DELAY: Duration = Duration::from_secs(1);

/// A handle on the cluster store; clones share one connection.
#[derive(Clone)]
pub struct ClusterStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ClusterStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterStore")
            .field("prefix", &self.inner.prefix)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

struct Inner {
    /// How to open more connections: [`SessionFeed`](super::SessionFeed)s need their own.
    client: Client,
    manager: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

impl ClusterStore {
    /// A store for `config`, which starts connecting on its first call; Redis need not be up.
    ///
    /// Must be called within a Tokio runtime (actix's is one): the connection's background
    /// tasks run on it.
    ///
    /// # Errors
    /// [`StoreError::InvalidConfig`] when the URL cannot be a Redis URL; never because Redis is
    /// down.
    pub fn connect(config: &ClusterConfig) -> Result<Self, StoreError> {
        let invalid = |err: redis::RedisError| {
            StoreError::InvalidConfig(format!("cannot use the Redis URL: {err}"))
        };
        let info = config
            .url
            .as_str()
            .into_connection_info()
            .map_err(invalid)?;
        // RESP3 whatever the URL says: see the module documentation.
        let redis = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client = Client::open(info.set_redis_settings(redis)).map_err(invalid)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout))
            .set_min_delay(RECONNECT_MIN_DELAY)
            .set_max_delay(RECONNECT_MAX_DELAY)
            .set_number_of_retries(usize::MAX);
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)
            .map_err(invalid)?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                manager,
                prefix: config.prefix.clone(),
                timeout: config.timeout,
            }),
        })
    }

    /// Whether Redis answers at all: for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut con = self.connection();
        self.bounded(redis::cmd("PING").query_async(&mut con)).await
    }

    /// Stores a new session's record, expiring after `ttl` unused (`None`: never).
    pub async fn create_session(
        &self,
        record: &SessionRecord,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        let keys = self.keys(record.id);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(&keys.session, &record.to_fields())
            .ignore();
        match ttl {
            Some(ttl) => pipe.pexpire(&keys.session, millis(ttl)).ignore(),
            None => pipe.persist(&keys.session).ignore(),
        };
        let mut con = self.connection();
        self.bounded(pipe.query_async(&mut con)).await
    }

    /// The record of session `id`, or `None` when it ended, expired or never was.
    pub async fn load_session(&self, id: Uuid) -> Result<Option<SessionRecord>, StoreError> {
        let keys = self.keys(id);
        let mut con = self.connection();
        let fields: HashMap<String, Vec<u8>> = self
            .bounded(
                redis::cmd("HGETALL")
                    .arg(&keys.session)
                    .query_async(&mut con),
            )
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        SessionRecord::from_fields(id, fields).map(Some)
    }

    /// Records that session `id` was used at `now`, and gives both its keys a fresh `ttl`
    /// (`None`: never expire). `false` when the session is gone.
    pub async fn touch(
        &self,
        id: Uuid,
        ttl: Option<Duration>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let keys = self.keys(id);
        let ttl = ttl.map(|ttl| millis(ttl).to_string()).unwrap_or_default();
        let mut invocation = scripts::TOUCH.prepare_invoke();
        invocation
            .key(&keys.session)
            .key(&keys.events)
            .arg(timestamp(now))
            .arg(ttl);
        let mut con = self.connection();
        self.bounded(invocation.invoke_async(&mut con)).await
    }

    /// Records what a standard client established for session `id` (`None`: unchanged).
    /// `false` when the session is gone.
    pub async fn save_settings(
        &self,
        id: Uuid,
        update: &SessionSettings,
    ) -> Result<bool, StoreError> {
        let keys = self.keys(id);
        let mut invocation = scripts::SETTINGS.prepare_invoke();
        invocation.key(&keys.session);
        for (name, value) in settings_fields(update) {
            invocation.arg(name).arg(value);
        }
        let mut con = self.connection();
        self.bounded(invocation.invoke_async(&mut con)).await
    }

    /// The number of session `id`'s last event (0 before the first), or `None` when it is gone.
    pub async fn last_seq(&self, id: Uuid) -> Result<Option<u64>, StoreError> {
        let keys = self.keys(id);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .exists(&keys.session)
            .cmd("HGET")
            .arg(&keys.session)
            .arg("seq");
        let mut con = self.connection();
        let (exists, seq): (bool, Option<u64>) = self.bounded(pipe.query_async(&mut con)).await?;
        Ok(exists.then(|| seq.unwrap_or(0)))
    }

    /// Appends `json` as session `id`'s next event, keeping about the last `history` events
    /// (at least 1; Redis trims in whole blocks, so somewhat more may stay). Returns its number,
    /// or `None` when the session is gone.
    pub async fn publish(
        &self,
        id: Uuid,
        json: &str,
        history: usize,
    ) -> Result<Option<u64>, StoreError> {
        let keys = self.keys(id);
        let mut invocation = scripts::PUBLISH.prepare_invoke();
        invocation
            .key(&keys.session)
            .key(&keys.events)
            .arg(json)
            .arg(history.max(1));
        let mut con = self.connection();
        self.bounded(invocation.invoke_async(&mut con)).await
    }

    /// Ends session `id`: appends an [`EntryKind::End`](super::EntryKind::End) entry for
    /// `reason`, deletes the record and keeps the events [`END_GRACE`] longer. Returns the end
    /// entry's number, or `None` when the session was already gone.
    pub async fn end_session(
        &self,
        id: Uuid,
        reason: EndReason,
    ) -> Result<Option<u64>, StoreError> {
        let keys = self.keys(id);
        let mut invocation = scripts::END.prepare_invoke();
        invocation
            .key(&keys.session)
            .key(&keys.events)
            .arg(reason.as_str())
            .arg(millis(END_GRACE));
        let mut con = self.connection();
        self.bounded(invocation.invoke_async(&mut con)).await
    }

    /// Up to `count` entries of session `id` numbered after `after`, oldest first. Entries older
    /// than the kept history are gone: the first returned may be numbered above `after + 1`.
    pub async fn range_after(
        &self,
        id: Uuid,
        after: u64,
        count: usize,
    ) -> Result<Vec<StreamEntry>, StoreError> {
        let Some(first) = after.checked_add(1).filter(|_| count > 0) else {
            return Ok(Vec::new());
        };
        let keys = self.keys(id);
        let mut con = self.connection();
        let reply: StreamRangeReply = self
            .bounded(
                redis::cmd("XRANGE")
                    .arg(&keys.events)
                    .arg(entry_id(first))
                    .arg("+")
                    .arg("COUNT")
                    .arg(count)
                    .query_async(&mut con),
            )
            .await?;
        reply
            .ids
            .into_iter()
            .map(|entry| StreamEntry::parse(&keys.events, entry))
            .collect()
    }

    /// The keys of session `id`.
    pub(crate) fn keys(&self, id: Uuid) -> SessionKeys {
        SessionKeys::new(&self.inner.prefix, id)
    }

    /// What a [`SessionFeed`](super::SessionFeed) connects with.
    pub(crate) fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The configured bound on any one call.
    pub(crate) fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    fn connection(&self) -> ConnectionManager {
        self.inner.manager.clone()
    }

    /// Runs `call`, giving up with [`StoreError::Unavailable`] after the configured timeout.
    async fn bounded<T>(
        &self,
        call: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, StoreError> {
        bounded(self.inner.timeout, call).await
    }
}

/// Runs `call`, giving up with [`StoreError::Unavailable`] after `timeout`.
pub(crate) async fn bounded<T>(
    timeout: Duration,
    call: impl Future<Output = RedisResult<T>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result.map_err(StoreError::from),
        Err(_) => Err(StoreError::timed_out(timeout)),
    }
}

/// `duration` in whole milliseconds for Redis: at least 1, since 0 would expire a key at once.
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis())
        .unwrap_or(i64::MAX)
        .max(1)
}
