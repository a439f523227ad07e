//! A fan-out run's channel on nchan: named afresh for each run, as each run on the daemon has a
//! fresh session, so that no message of an earlier run is in its buffer. The bench is its
//! publisher: one `POST` per event on one keep-alive connection, the next as soon as nginx has
//! accepted the last (burst) or after the same pause as the daemon's `sleep` tool (paced), each
//! message the same JSON as the ceiling's events, with its step and an RFC 3339 timestamp. nchan
//! numbers events `time:tag`, so followers find each event's number in its `"progress"`. Before
//! the first event, the bench checks that every follower's subscription reaches it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use bytes::Bytes;
use http::Method;
use http::header::CONTENT_TYPE;
use http_body_util::Full;

use super::followers::{Followers, Numbering, SUBSCRIBE_TIMEOUT, Stream};
use crate::client::Conn;
use crate::{nchan, progress};

/// How often a message without a number is posted until every follower has one.
const PRIME_EVERY: Duration = Duration::from_millis(50);

/// That message: followers count and time only events with a `"progress"`.
const PRIMING: &str = r#"{"priming":true}"#;

/// Channels opened so far by this process: each run's channel is named after its number.
static OPENED: AtomicU64 = AtomicU64::new(0);

/// A fresh channel, and the publisher's connection to it.
pub struct NchanChannel {
    conn: Conn,
    /// Where messages are posted (and the channel's info read).
    publish_path: String,
    /// Where followers read it.
    subscribe_path: String,
}

impl NchanChannel {
    /// A channel no run has used, on the nginx at `addr`.
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let name = format!("fanout{}", OPENED.fetch_add(1, Ordering::Relaxed));
        Ok(Self {
            conn: Conn::connect(addr).await?,
            publish_path: nchan::publish_path(&name),
            subscribe_path: nchan::subscribe_path(&name),
        })
    }

    /// Its events stream on the nginx at `addr`.
    pub fn stream(&self, addr: SocketAddr) -> Stream {
        Stream {
            addr,
            path: self.subscribe_path.clone(),
            bearer: None,
            numbering: Numbering::Progress,
        }
    }

    /// Posts a message without a number every [`PRIME_EVERY`] until each of the `n` `followers`
    /// has received one (up to [`SUBSCRIBE_TIMEOUT`]): only then is every subscription known to
    /// reach its follower. (The subscriber count of nchan's channel info, asked of the worker
    /// that owns the channel, can stay short of those subscribed on the other worker.)
    pub async fn reach(&mut self, followers: &Followers, n: usize) -> anyhow::Result<()> {
        let deadline = Instant::now() + SUBSCRIBE_TIMEOUT;
        while followers.heard() < n {
            if Instant::now() >= deadline {
                bail!(
                    "{} of {n} nchan subscribers received a message within {} s",
                    followers.heard(),
                    SUBSCRIBE_TIMEOUT.as_secs()
                );
            }
            self.post(Bytes::from_static(PRIMING.as_bytes())).await?;
            tokio::time::sleep(PRIME_EVERY).await;
        }
        Ok(())
    }

    /// Posts `steps` messages over `duration_ms` (0: each as soon as the last was accepted);
    /// returns how long that took, s.
    pub async fn publish(&mut self, steps: u64, duration_ms: u64) -> anyhow::Result<f64> {
        let pause = progress::pause(steps, duration_ms);
        let start = Instant::now();
        for step in 1..=steps {
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            self.post(Bytes::from(progress::event_data(step, steps)))
                .await?;
        }
        Ok(start.elapsed().as_secs_f64())
    }

    /// Publishes one message with `data`, and waits until nginx accepted it.
    async fn post(&mut self, data: Bytes) -> anyhow::Result<()> {
        let request = self
            .conn
            .request(Method::POST, &self.publish_path)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(data))?;
        let (status, body) = self.conn.exchange(request).await?;
        // 201 with subscribers, 202 without.
        if !status.is_success() {
            bail!(
                "POST {} answered {status}: {}",
                self.publish_path,
                String::from_utf8_lossy(&body)
            );
        }
        Ok(())
    }
}
