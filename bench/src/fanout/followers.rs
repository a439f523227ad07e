//! The followers of one fan-out run: each a connection reading one events stream (a session's,
//! or an nchan channel's), counting what it receives, timing it against the event's own
//! timestamp, and checking that the events' numbers have no gap that a `lagged` notice does not
//! account for.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{Method, StatusCode};
use http_body_util::{BodyExt as _, Full};
use tokio::sync::{Semaphore, mpsc, watch};

use crate::client::{self, Conn, SseEvent, SseParser};

/// How long the followers may stay silent after the publisher is done before the run ends.
const QUIET: Duration = Duration::from_millis(750);

/// Followers connecting at the same time.
const CONNECTING_AT_ONCE: usize = 64;

/// How long all followers together may take to subscribe.
pub const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest a run waits for its followers to have the last event.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(120);

/// Where an event's number is, which says whether an event is missing.
#[derive(Debug, Clone, Copy, Default)]
pub enum Numbering {
    /// In its `id:` (the daemon's and the ceiling's streams; `stream-17` counts as 17).
    #[default]
    EventId,
    /// In its data's `"progress"` (nchan, whose `id:` is `time:tag`, not a counter).
    Progress,
}

/// The events stream the followers of a run read.
#[derive(Debug, Clone)]
pub struct Stream {
    /// The server.
    pub addr: SocketAddr,
    /// Its path there.
    pub path: String,
    /// `Authorization`, when the stream needs one.
    pub bearer: Option<http::HeaderValue>,
    /// Where its events' numbers are.
    pub numbering: Numbering,
}

/// What one follower saw.
#[derive(Debug, Default)]
pub struct Follower {
    /// Progress events received.
    pub events: u64,
    /// `lagged` notices received.
    pub lag_notices: u64,
    /// Events the lag notices said were missed.
    pub missed: u64,
    /// Events missing from the id sequence that no lag notice accounted for.
    pub unexplained: u64,
    /// Whether the publisher's last event arrived.
    pub saw_last: bool,
    /// When the last events arrived.
    pub last_receive: Option<Instant>,
    /// Publish→receive latency of each event, µs.
    pub latencies_us: Vec<u32>,
    /// Where the events' numbers are.
    numbering: Numbering,
    /// The number of the last event; each stream's first event is number 1.
    previous: u64,
    /// Events announced missed since the last event: a gap up to this many is no loss.
    excused: u64,
}

impl Follower {
    /// Takes one event, parsed at `now` (Unix ns); `true` when it is one of the publisher's
    /// events (the last one has progress `last_step`).
    fn take(&mut self, event: SseEvent<'_>, now: i128, last_step: u64) -> bool {
        if let Some(name) = event.event.filter(|n| !n.is_empty() && *n != b"message") {
            if client::contains(name, b"lag") {
                self.lag_notices += 1;
                let missed = client::number_after(&event.data, b"\"missed\":").unwrap_or(0);
                self.missed += missed;
                self.excused += missed;
            }
            return false;
        }
        let number = match self.numbering {
            Numbering::EventId => event.id.and_then(client::id_number),
            Numbering::Progress => client::number_after(&event.data, b"\"progress\":"),
        };
        let Some(id) = number else {
            return false;
        };
        let gap = id.saturating_sub(self.previous + 1);
        let explained = gap.min(self.excused);
        self.unexplained += gap - explained;
        self.previous = id;
        self.excused = 0;
        self.events += 1;
        if let Some(stamp) = client::string_after(&event.data, b"\"timestamp\":\"")
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .and_then(|t| t.timestamp_nanos_opt())
        {
            let micros = ((now - i128::from(stamp)) / 1000).clamp(0, i128::from(u32::MAX));
            self.latencies_us.push(micros as u32);
        }
        if client::number_after(&event.data, b"\"progress\":") == Some(last_step) {
            self.saw_last = true;
        }
        true
    }
}

fn now_unix_nanos() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// What all followers of a run count together.
#[derive(Debug, Clone, Default)]
struct Tally {
    /// Events received so far, all followers.
    received: Arc<AtomicU64>,
    /// Followers that have the last event.
    done: Arc<AtomicUsize>,
    /// Followers that have received an event of any kind.
    heard: Arc<AtomicUsize>,
}

/// Reads one follower's stream until told to stop.
async fn follow(
    // Held until the run ends: the connection lives as long as its sender.
    _conn: Conn,
    response: http::Response<hyper::body::Incoming>,
    numbering: Numbering,
    last_step: u64,
    tally: Tally,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<Follower> {
    let mut body = response.into_body();
    let mut parser = SseParser::default();
    let mut seen = Follower {
        latencies_us: Vec::with_capacity(usize::try_from(last_step).unwrap_or(0).min(1 << 20)),
        numbering,
        ..Follower::default()
    };
    let mut heard = false;
    loop {
        let frame = tokio::select! {
            frame = body.frame() => frame,
            _ = stop.changed() => break,
        };
        let Some(frame) = frame else { break };
        let frame = frame?;
        let Some(chunk) = frame.data_ref() else {
            continue;
        };
        let now = now_unix_nanos();
        let mut count = 0;
        let mut any = false;
        parser.feed(chunk, |event| {
            any = true;
            if seen.take(event, now, last_step) {
                count += 1;
            }
        });
        if any && !heard {
            heard = true;
            tally.heard.fetch_add(1, Ordering::Relaxed);
        }
        if count > 0 {
            seen.last_receive = Some(Instant::now());
            tally.received.fetch_add(count, Ordering::Relaxed);
            if seen.saw_last {
                tally.done.fetch_add(1, Ordering::Relaxed);
                // Keep the connection open (and quiet) until the run ends.
                let _ = stop.changed().await;
                break;
            }
        }
    }
    Ok(seen)
}

/// The followers of one run, subscribed and reading.
pub struct Followers {
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<Follower>>>,
    tally: Tally,
    stop: watch::Sender<bool>,
}

/// Opens `stream`, once `connecting` lets it.
async fn open_stream(
    stream: &Stream,
    connecting: &Semaphore,
) -> anyhow::Result<(Conn, http::Response<hyper::body::Incoming>)> {
    let _permit = connecting.acquire().await?;
    let mut conn = Conn::connect(stream.addr).await?;
    let mut request = conn
        .request(Method::GET, &stream.path)
        .header(http::header::ACCEPT, "text/event-stream");
    if let Some(bearer) = &stream.bearer {
        request = request.header(AUTHORIZATION, bearer.clone());
    }
    let request = request.body(Full::new(Bytes::new()))?;
    let response = conn.send(request).await?;
    if response.status() != StatusCode::OK {
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        bail!(
            "GET events answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok((conn, response))
}

/// Subscribes `n` followers to `stream` (64 connecting at a time) and waits until every one is
/// subscribed; each expects `steps` events.
pub async fn subscribe(stream: &Stream, n: usize, steps: u64) -> anyhow::Result<Followers> {
    let tally = Tally::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let connecting = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let (ready_tx, ready_rx) = mpsc::channel::<anyhow::Result<()>>(n.max(1));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let stream = stream.clone();
        let (tally, stop) = (tally.clone(), stop_rx.clone());
        let connecting = Arc::clone(&connecting);
        let ready = ready_tx.clone();
        tasks.push(tokio::spawn(async move {
            match open_stream(&stream, &connecting).await {
                Ok((conn, response)) => {
                    let _ = ready.send(Ok(())).await;
                    follow(conn, response, stream.numbering, steps, tally, stop).await
                }
                Err(err) => {
                    let _ = ready.send(Err(anyhow::anyhow!("{err:#}"))).await;
                    Err(err)
                }
            }
        }));
    }
    drop(ready_tx);
    all_subscribed(ready_rx, n).await?;
    Ok(Followers {
        tasks,
        tally,
        stop: stop_tx,
    })
}

/// Waits for `n` followers to say they are subscribed; the first that could not is the error.
async fn all_subscribed(
    mut ready: mpsc::Receiver<anyhow::Result<()>>,
    n: usize,
) -> anyhow::Result<()> {
    for _ in 0..n {
        let outcome = tokio::time::timeout(SUBSCRIBE_TIMEOUT, ready.recv())
            .await
            .with_context(|| {
                format!(
                    "followers did not connect within {} s",
                    SUBSCRIBE_TIMEOUT.as_secs()
                )
            })?
            .context("a follower task vanished")?;
        outcome.context("a follower could not subscribe")?;
    }
    Ok(())
}

impl Followers {
    /// How many followers have received an event of any kind (a publisher's, or one it sent
    /// to check that every follower is reached).
    pub fn heard(&self) -> usize {
        self.tally.heard.load(Ordering::Relaxed)
    }

    /// Waits (up to [`DELIVERY_TIMEOUT`]) for all `n` followers to have the last event, or for
    /// the streams to go quiet for [`QUIET`].
    pub async fn wait(&self, n: usize) {
        let mut last_count = self.tally.received.load(Ordering::Relaxed);
        let mut quiet_since = Instant::now();
        let hard_stop = Instant::now() + DELIVERY_TIMEOUT;
        while self.tally.done.load(Ordering::Relaxed) < n && Instant::now() < hard_stop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let count = self.tally.received.load(Ordering::Relaxed);
            if count != last_count {
                last_count = count;
                quiet_since = Instant::now();
            } else if quiet_since.elapsed() >= QUIET {
                break;
            }
        }
    }

    /// Stops every follower: what each saw.
    pub async fn finish(self) -> anyhow::Result<Vec<Follower>> {
        let _ = self.stop.send(true);
        let mut seen = Vec::with_capacity(self.tasks.len());
        for task in self.tasks {
            seen.push(task.await??);
        }
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn event<'a>(id: Option<&'a [u8]>, data: &'a [u8]) -> SseEvent<'a> {
        SseEvent {
            id,
            event: None,
            data: Cow::Borrowed(data),
        }
    }

    #[test]
    fn nchan_events_are_numbered_by_their_progress_not_their_time_tag_id() {
        let mut follower = Follower {
            numbering: Numbering::Progress,
            ..Follower::default()
        };
        let stamp = r#""timestamp":"2026-01-02T03:04:05Z""#;
        assert!(!follower.take(event(Some(b"1796646767:0"), br#"{"priming":true}"#), 0, 4));
        for (id, progress) in [
            ("1796646767:1", 1),
            ("1796646767:2", 2),
            ("1796646768:0", 4),
        ] {
            let data = format!(r#"{{"progress":{progress},{stamp}}}"#);
            assert!(follower.take(event(Some(id.as_bytes()), data.as_bytes()), 0, 4));
        }
        assert_eq!(follower.events, 3);
        assert_eq!(follower.unexplained, 1, "3 is missing");
        assert!(follower.saw_last);
        assert_eq!(follower.latencies_us.len(), 3);
    }

    #[test]
    fn the_daemons_events_are_numbered_by_their_id() {
        let mut follower = Follower::default();
        assert!(follower.take(event(Some(b"1"), br#"{"progress":9}"#), 0, 9));
        assert!(follower.take(event(Some(b"2"), br#"{"progress":9}"#), 0, 9));
        assert_eq!(follower.unexplained, 0);
    }
}
