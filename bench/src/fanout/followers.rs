//! The followers of one fan-out run: each a connection reading one session's events stream,
//! counting what it receives, timing it against the event's own timestamp, and checking that
//! its `id:` sequence has no gap that a `lagged` notice does not account for.

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

use crate::client::{self, Conn, Creds, SseEvent, SseParser};

/// How long the followers may stay silent after the publisher is done before the run ends.
const QUIET: Duration = Duration::from_millis(750);

/// Followers connecting at the same time.
const CONNECTING_AT_ONCE: usize = 64;

/// How long all followers together may take to subscribe.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest a run waits for its followers to have the last event.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(120);

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
    /// The id of the last event; a fresh session's (and the ceiling's) first event is id 1.
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
        let Some(id) = event.id.and_then(client::id_number) else {
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
}

/// Reads one follower's stream until told to stop.
async fn follow(
    // Held until the run ends: the connection lives as long as its sender.
    _conn: Conn,
    response: http::Response<hyper::body::Incoming>,
    last_step: u64,
    tally: Tally,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<Follower> {
    let mut body = response.into_body();
    let mut parser = SseParser::default();
    let mut seen = Follower {
        latencies_us: Vec::with_capacity(usize::try_from(last_step).unwrap_or(0).min(1 << 20)),
        ..Follower::default()
    };
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
        parser.feed(chunk, |event| {
            if seen.take(event, now, last_step) {
                count += 1;
            }
        });
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

/// Opens `path`'s events stream at `addr` with `bearer`, once `connecting` lets it.
async fn open_stream(
    addr: SocketAddr,
    path: &str,
    bearer: http::HeaderValue,
    connecting: &Semaphore,
) -> anyhow::Result<(Conn, http::Response<hyper::body::Incoming>)> {
    let _permit = connecting.acquire().await?;
    let mut conn = Conn::connect(addr).await?;
    let request = conn
        .request(Method::GET, path)
        .header(AUTHORIZATION, bearer)
        .header(http::header::ACCEPT, "text/event-stream")
        .body(Full::new(Bytes::new()))?;
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

/// Subscribes `n` followers to `creds`'s events at `addr` (64 connecting at a time) and waits
/// until every one is subscribed; each expects `steps` events.
pub async fn subscribe(
    addr: SocketAddr,
    creds: &Creds,
    n: usize,
    steps: u64,
) -> anyhow::Result<Followers> {
    let path = format!("/session/{}/events", creds.id);
    let tally = Tally::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let connecting = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let (ready_tx, ready_rx) = mpsc::channel::<anyhow::Result<()>>(n.max(1));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let path = path.clone();
        let bearer = creds.bearer.clone();
        let (tally, stop) = (tally.clone(), stop_rx.clone());
        let connecting = Arc::clone(&connecting);
        let ready = ready_tx.clone();
        tasks.push(tokio::spawn(async move {
            match open_stream(addr, &path, bearer, &connecting).await {
                Ok((conn, response)) => {
                    let _ = ready.send(Ok(())).await;
                    follow(conn, response, steps, tally, stop).await
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
