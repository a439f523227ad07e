//! `fanout`: many followers of one session's events stream, one tool publishing progress as fast
//! as it can (`sleep` with `duration_ms: 0` publishes one event per step). Measures deliveries per
//! second, publish→receive latency (the event's RFC 3339 `timestamp` against the receive time),
//! server CPU per delivery, and loss: every follower checks that its `id:` sequence has no gap
//! that a `lagged` notice does not account for.
//!
//! The measuring machinery ([`Setup`], [`measure`], [`Variant`]) is shared with `cluster-fanout`,
//! which publishes on one daemon and follows on another.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{Method, StatusCode};
use http_body_util::{BodyExt as _, Full};
use serde_json::json;
use tokio::sync::{Semaphore, watch};

use crate::client::{self, Conn, Creds, SseParser};
use crate::load;
use crate::procfs;
use crate::report::{ScenarioReport, Table, Target, fmt, ratio};
use crate::servers::{self, Kind, Server};
use crate::settings::Settings;
use crate::stats;

/// How long the followers may stay silent after the publisher is done before the run ends.
const QUIET: Duration = Duration::from_millis(750);

/// What one follower saw.
#[derive(Debug, Default)]
struct Follower {
    events: u64,
    lag_notices: u64,
    missed: u64,
    /// Events missing from the id sequence that no lag notice accounted for.
    unexplained: u64,
    saw_last: bool,
    last_receive: Option<Instant>,
    latencies_us: Vec<u32>,
}

/// What one run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FanoutRun {
    subscribers: usize,
    events_published: u64,
    /// How long the publishing `tools/call` took, s.
    publish_secs: f64,
    deliveries: u64,
    secs: f64,
    pub deliveries_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Each measured server process, in the order of [`Setup::measured`].
    pub servers: Vec<ServerCpu>,
    pub client_cpu_us_per_delivery: f64,
    /// Followers that received every event.
    pub complete: usize,
    /// Followers told they lagged.
    pub lagged: usize,
    pub missed: u64,
    pub unexplained_gaps: u64,
    /// CPU used by everything else on the machine, cores.
    pub other_cores: f64,
}

/// One measured server process's share of a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServerCpu {
    /// Its label in [`Setup::measured`].
    pub label: &'static str,
    pub cpu_us_per_delivery: f64,
    /// Cores busy per kind of thread, busiest first.
    pub threads: Vec<(String, f64)>,
}

impl FanoutRun {
    /// Events the publisher produced per second.
    pub fn published_per_sec(&self) -> f64 {
        self.events_published as f64 / self.publish_secs
    }

    /// CPU per delivery of all measured server processes together, µs.
    pub fn servers_cpu_us_per_delivery(&self) -> f64 {
        self.servers.iter().map(|s| s.cpu_us_per_delivery).sum()
    }

    /// The median of each field over `r` (all of one variant and setup); any unexplained gap
    /// in any run counts.
    fn median(r: &[FanoutRun]) -> FanoutRun {
        let servers = r[0]
            .servers
            .iter()
            .enumerate()
            .map(|(i, first)| ServerCpu {
                label: first.label,
                cpu_us_per_delivery: stats::median_of(r, |x| x.servers[i].cpu_us_per_delivery),
                threads: load::median_threads(r.iter().map(|x| x.servers[i].threads.as_slice())),
            })
            .collect();
        FanoutRun {
            subscribers: r[0].subscribers,
            events_published: r[0].events_published,
            publish_secs: stats::median_of(r, |x| x.publish_secs),
            deliveries: stats::median_of(r, |x| x.deliveries as f64) as u64,
            secs: stats::median_of(r, |x| x.secs),
            deliveries_per_sec: stats::median_of(r, |x| x.deliveries_per_sec),
            p50_ms: stats::median_of(r, |x| x.p50_ms),
            p99_ms: stats::median_of(r, |x| x.p99_ms),
            servers,
            client_cpu_us_per_delivery: stats::median_of(r, |x| x.client_cpu_us_per_delivery),
            complete: stats::median_of(r, |x| x.complete as f64) as usize,
            lagged: stats::median_of(r, |x| x.lagged as f64) as usize,
            missed: stats::median_of(r, |x| x.missed as f64) as u64,
            unexplained_gaps: r.iter().map(|x| x.unexplained_gaps).sum(),
            other_cores: stats::median_of(r, |x| x.other_cores),
        }
    }

    /// One line for the progress log.
    fn summary(&self) -> String {
        let cpu: Vec<String> = self
            .servers
            .iter()
            .map(|s| format!("{} {:.2}", s.label, s.cpu_us_per_delivery))
            .collect();
        format!(
            "{} deliveries, {:.0}/s, published in {:.2} s, p50 {:.2} ms, p99 {:.2} ms, µs CPU/delivery: {}, {} complete, {} lagged, {} unexplained",
            self.deliveries,
            self.deliveries_per_sec,
            self.publish_secs,
            self.p50_ms,
            self.p99_ms,
            cpu.join(", "),
            self.complete,
            self.lagged,
            self.unexplained_gaps
        )
    }
}

/// Where a fan-out run publishes and follows, and whose CPU time it measures, as indexes into
/// the scenario's servers.
#[derive(Debug)]
pub struct Setup {
    /// For tables, logs and JSON.
    pub label: &'static str,
    /// The server the session is created on and the publishing `tools/call` goes to.
    pub publisher: usize,
    /// The server every follower subscribes to.
    pub followers: usize,
    /// The server processes whose CPU time is measured, with their labels.
    pub measured: Vec<(&'static str, usize)>,
}

impl Setup {
    /// Everything on server `index`.
    pub fn single(label: &'static str, index: usize) -> Self {
        Self {
            label,
            publisher: index,
            followers: index,
            measured: vec![(label, index)],
        }
    }
}

fn now_unix_nanos() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// Reads one follower's stream until told to stop.
async fn follow(
    // Held until the run ends: the connection lives as long as its sender.
    _conn: Conn,
    response: http::Response<hyper::body::Incoming>,
    last_step: u64,
    received: Arc<AtomicU64>,
    done: Arc<AtomicUsize>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<Follower> {
    let mut body = response.into_body();
    let mut parser = SseParser::default();
    let mut seen = Follower {
        latencies_us: Vec::with_capacity(usize::try_from(last_step).unwrap_or(0).min(1 << 20)),
        ..Follower::default()
    };
    // A fresh session's (and the ceiling's) first event is id 1.
    let mut previous: u64 = 0;
    let mut excused: u64 = 0;
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
            if let Some(name) = event.event.filter(|n| !n.is_empty() && *n != b"message") {
                if client::contains(name, b"lag") {
                    seen.lag_notices += 1;
                    let missed = client::number_after(&event.data, b"\"missed\":").unwrap_or(0);
                    seen.missed += missed;
                    excused += missed;
                }
                return;
            }
            let Some(id) = event.id.and_then(client::id_number) else {
                return;
            };
            let gap = id.saturating_sub(previous + 1);
            let explained = gap.min(excused);
            seen.unexplained += gap - explained;
            previous = id;
            excused = 0;
            seen.events += 1;
            count += 1;
            if let Some(stamp) = client::string_after(&event.data, b"\"timestamp\":\"")
                .and_then(|s| std::str::from_utf8(s).ok())
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .and_then(|t| t.timestamp_nanos_opt())
            {
                let micros = ((now - i128::from(stamp)) / 1000).clamp(0, i128::from(u32::MAX));
                seen.latencies_us.push(micros as u32);
            }
            if client::number_after(&event.data, b"\"progress\":") == Some(last_step) {
                seen.saw_last = true;
            }
        });
        if count > 0 {
            seen.last_receive = Some(Instant::now());
            received.fetch_add(count, Ordering::Relaxed);
            if seen.saw_last {
                done.fetch_add(1, Ordering::Relaxed);
                // Keep the connection open (and quiet) until the run ends.
                let _ = stop.changed().await;
                break;
            }
        }
    }
    Ok(seen)
}

/// The followers of one run, subscribed and reading.
struct Followers {
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<Follower>>>,
    /// Events received so far, all followers.
    received: Arc<AtomicU64>,
    /// Followers that have the last event.
    done: Arc<AtomicUsize>,
    stop: watch::Sender<bool>,
}

/// Subscribes `n` followers to `creds`'s events at `addr` (64 connecting at a time) and waits
/// until every one is subscribed; each expects `steps` events.
async fn subscribe(
    addr: SocketAddr,
    creds: &Creds,
    n: usize,
    steps: u64,
) -> anyhow::Result<Followers> {
    let path = format!("/session/{}/events", creds.id);
    let received = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let connecting = Arc::new(Semaphore::new(64));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<anyhow::Result<()>>(n.max(1));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let path = path.clone();
        let bearer = creds.bearer.clone();
        let (received, done, stop) = (Arc::clone(&received), Arc::clone(&done), stop_rx.clone());
        let connecting = Arc::clone(&connecting);
        let ready = ready_tx.clone();
        tasks.push(tokio::spawn(async move {
            let opened = async {
                let _permit = connecting.acquire().await?;
                let mut conn = Conn::connect(addr).await?;
                let request = conn
                    .request(Method::GET, &path)
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
                anyhow::Ok((conn, response))
            }
            .await;
            match opened {
                Ok((conn, response)) => {
                    let _ = ready.send(Ok(())).await;
                    follow(conn, response, steps, received, done, stop).await
                }
                Err(err) => {
                    let _ = ready.send(Err(anyhow::anyhow!("{err:#}"))).await;
                    Err(err)
                }
            }
        }));
    }
    drop(ready_tx);
    for _ in 0..n {
        let outcome = tokio::time::timeout(Duration::from_secs(60), ready_rx.recv())
            .await
            .context("followers did not connect within 60 s")?
            .context("a follower task vanished")?;
        outcome.context("a follower could not subscribe")?;
    }
    Ok(Followers {
        tasks,
        received,
        done,
        stop: stop_tx,
    })
}

/// Publishes `steps` events over `duration_ms` in session `creds` (`tools/call sleep`, with a
/// progress token); returns how long the call took, s.
async fn publish(
    control: &mut Conn,
    creds: &Creds,
    steps: u64,
    duration_ms: u64,
) -> anyhow::Result<f64> {
    let start = Instant::now();
    let call = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "sleep", "arguments": {"duration_ms": duration_ms, "steps": steps},
                   "_meta": {"progressToken": 5}}
    });
    let request = control.mcp(creds, Bytes::from(call.to_string()))?;
    let (status, body) = control.exchange(request).await?;
    let secs = start.elapsed().as_secs_f64();
    if status != StatusCode::OK || !client::contains(&body, b"\"result\"") {
        bail!(
            "the publishing tools/call answered {status}: {}",
            String::from_utf8_lossy(&body[body.len().saturating_sub(300)..])
        );
    }
    Ok(secs)
}

/// Waits (up to 120 s) for every follower to have the last event, or for the streams to go
/// quiet for [`QUIET`].
async fn wait_for_followers(followers: &Followers, n: usize) {
    let mut last_count = followers.received.load(Ordering::Relaxed);
    let mut quiet_since = Instant::now();
    let hard_stop = Instant::now() + Duration::from_secs(120);
    while followers.done.load(Ordering::Relaxed) < n && Instant::now() < hard_stop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let count = followers.received.load(Ordering::Relaxed);
        if count != last_count {
            last_count = count;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= QUIET {
            break;
        }
    }
}

/// One fan-out run on `setup` of `servers`: a fresh session on the publisher's server, `n`
/// followers on the followers' server, `variant`'s events.
async fn run_once(
    servers: &[Server],
    setup: &Setup,
    n: usize,
    variant: &Variant,
) -> anyhow::Result<FanoutRun> {
    let steps = variant.steps;
    let mut control = Conn::connect(servers[setup.publisher].addr).await?;
    let creds: Creds = control.create_session().await?;
    let followers = subscribe(servers[setup.followers].addr, &creds, n, steps).await?;
    // Let the last subscriptions settle before measuring.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let pids: Vec<u32> = setup
        .measured
        .iter()
        .map(|&(_, i)| servers[i].pid)
        .collect();
    let snapshots = || {
        pids.iter()
            .map(|&pid| procfs::Snapshot::take(pid))
            .collect::<anyhow::Result<Vec<_>>>()
    };
    let machine_before = procfs::machine_busy_us()?;
    let servers_before = snapshots()?;
    let client_before = procfs::Snapshot::take(std::process::id())?;
    let start = Instant::now();
    let publish_secs = publish(&mut control, &creds, steps, variant.duration_ms).await?;
    wait_for_followers(&followers, n).await;
    let servers_after = snapshots()?;
    let client_after = procfs::Snapshot::take(std::process::id())?;
    let machine_after = procfs::machine_busy_us()?;
    let wall = start.elapsed().as_secs_f64();
    let server_cpu: Vec<f64> = servers_after
        .iter()
        .zip(&servers_before)
        .map(|(after, before)| after.cpu_since(before))
        .collect();
    let client_cpu = client_after.cpu_since(&client_before);
    let other_cores =
        ((machine_after - machine_before - server_cpu.iter().sum::<f64>() - client_cpu)
            / 1e6
            / wall)
            .max(0.0);
    let _ = followers.stop.send(true);
    let mut seen = Vec::with_capacity(n);
    for task in followers.tasks {
        seen.push(task.await??);
    }
    let end = seen
        .iter()
        .filter_map(|f| f.last_receive)
        .max()
        .unwrap_or(start);
    let secs = (end - start).as_secs_f64().max(1e-6);
    let deliveries: u64 = seen.iter().map(|f| f.events).sum();
    let mut latencies: Vec<u32> = seen
        .iter_mut()
        .flat_map(|f| std::mem::take(&mut f.latencies_us))
        .collect();
    if deliveries == 0 {
        bail!("no event reached any follower");
    }
    let servers = setup
        .measured
        .iter()
        .zip(servers_after.iter().zip(&servers_before))
        .zip(&server_cpu)
        .map(|((&(label, _), (after, before)), &cpu)| ServerCpu {
            label,
            cpu_us_per_delivery: cpu / deliveries as f64,
            threads: after.utilization_since(before, wall),
        })
        .collect();
    Ok(FanoutRun {
        subscribers: n,
        events_published: steps,
        publish_secs,
        deliveries,
        secs,
        deliveries_per_sec: deliveries as f64 / secs,
        p50_ms: stats::percentile_ms(&mut latencies, 50.0),
        p99_ms: stats::percentile_ms(&mut latencies, 99.0),
        servers,
        client_cpu_us_per_delivery: client_cpu / deliveries as f64,
        complete: seen.iter().filter(|f| f.events == steps).count(),
        lagged: seen.iter().filter(|f| f.lag_notices > 0).count(),
        missed: seen.iter().map(|f| f.missed).sum(),
        unexplained_gaps: seen.iter().map(|f| f.unexplained).sum(),
        other_cores,
    })
}

/// How a fan-out variant publishes.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    pub name: &'static str,
    pub steps: u64,
    pub duration_ms: u64,
}

impl Variant {
    /// A burst (as fast as the publisher can) and a paced stream (one event per
    /// `settings.fanout_interval_ms`).
    pub fn both(settings: &Settings) -> [Variant; 2] {
        [
            Variant {
                name: "burst",
                steps: settings.events,
                duration_ms: 0,
            },
            Variant {
                name: "paced",
                steps: settings.paced_events,
                duration_ms: settings.paced_events * settings.fanout_interval_ms,
            },
        ]
    }

    /// Whether the publisher goes as fast as it can.
    pub fn is_burst(&self) -> bool {
        self.duration_ms == 0
    }
}

/// What [`measure`] found.
pub struct Measured {
    /// The median of each variant on each setup: `medians[variant][setup]`.
    pub medians: Vec<Vec<FanoutRun>>,
    /// Every run, as measured.
    pub runs: serde_json::Value,
}

/// Runs every variant on every setup `settings.runs` times, alternating run by run so that
/// drift on a noisy machine hits all setups alike, with `n` followers; checks after each run
/// that every server is still up.
pub async fn measure(
    scenario: &str,
    settings: &Settings,
    servers: &mut [Server],
    setups: &[Setup],
    variants: &[Variant],
    n: usize,
) -> anyhow::Result<Measured> {
    let mut runs: Vec<Vec<Vec<FanoutRun>>> =
        vec![vec![Vec::with_capacity(settings.runs); setups.len()]; variants.len()];
    let mut all_runs = Vec::new();
    for _ in 0..settings.runs {
        for (v, variant) in variants.iter().enumerate() {
            for (s, setup) in setups.iter().enumerate() {
                let run = run_once(servers, setup, n, variant).await?;
                for server in servers.iter_mut() {
                    server.check_alive()?;
                }
                eprintln!(
                    "  {scenario} {} {}: {}",
                    variant.name,
                    setup.label,
                    run.summary()
                );
                all_runs.push(json!({"variant": variant.name, "setup": setup.label, "run": run}));
                runs[v][s].push(run);
            }
        }
    }
    Ok(Measured {
        medians: runs
            .iter()
            .map(|per_setup| per_setup.iter().map(|r| FanoutRun::median(r)).collect())
            .collect(),
        runs: serde_json::Value::Array(all_runs),
    })
}

/// The scenario: a burst and a paced stream, daemon and ceiling alternating, `settings.runs`
/// times.
pub async fn fanout(settings: &Settings) -> anyhow::Result<ScenarioReport> {
    let n = settings.subscribers;
    let variants = Variant::both(settings);
    let mut config = settings.fanout_daemon_config(n);
    let daemon = servers::start_daemon(&settings.daemon, &mut config)?;
    let ceiling = servers::start_ceiling(settings.subscriber_queue)?;
    let mut servers = [daemon, ceiling];
    let setups = [
        Setup::single(Kind::Daemon.label(), 0),
        Setup::single(Kind::Ceiling.label(), 1),
    ];
    let measured = measure("fanout", settings, &mut servers, &setups, &variants, n).await?;
    for server in servers {
        server.stop();
    }
    let mut table = Table::new(
        format!(
            "{n} followers of one session; burst: {} events as fast as the publisher goes; paced: \
             {} events, one per {} ms; median of {} runs",
            settings.events, settings.paced_events, settings.fanout_interval_ms, settings.runs
        ),
        &[
            "variant",
            "server",
            "events published/s",
            "deliveries/s",
            "vs ceiling",
            "publish→receive p50 / p99 ms",
            "CPU µs/delivery",
            "client CPU µs/delivery",
            "followers complete / lagged",
            "events missed (announced)",
            "unexplained gaps",
            "threads (cores busy)",
            "other load (cores)",
        ],
    );
    let mut targets = Vec::new();
    let mut unexplained = 0;
    for (variant, medians) in variants.iter().zip(&measured.medians) {
        let [daemon, ceiling] = [&medians[0], &medians[1]];
        for (setup, run) in setups.iter().zip([daemon, ceiling]) {
            table.row(vec![
                variant.name.into(),
                setup.label.into(),
                fmt(run.published_per_sec()),
                fmt(run.deliveries_per_sec),
                ratio(run.deliveries_per_sec, ceiling.deliveries_per_sec),
                format!("{} / {}", fmt(run.p50_ms), fmt(run.p99_ms)),
                fmt(run.servers_cpu_us_per_delivery()),
                fmt(run.client_cpu_us_per_delivery),
                format!("{} / {}", run.complete, run.lagged),
                run.missed.to_string(),
                run.unexplained_gaps.to_string(),
                load::describe_threads(&run.servers[0].threads),
                fmt(run.other_cores),
            ]);
        }
        // The target is for a publisher going as fast as it can; the paced stream (one write
        // per follower per event, no batching possible) measures latency.
        if variant.is_burst() {
            targets.push(Target::at_most(
                format!("fanout: daemon CPU per delivery, {}", variant.name),
                daemon.servers_cpu_us_per_delivery(),
                2.0,
                "µs",
            ));
        }
        unexplained += daemon.unexplained_gaps;
    }
    targets.push(Target::at_most(
        "fanout: events lost without a lag notice (all runs)",
        unexplained as f64,
        0.0,
        "events",
    ));
    let notes = vec![
        LOSS_NOTE.to_owned(),
        format!(
            "{LATENCY_NOTE}; in the burst the publisher outruns what one load-generator process \
             can read, so this is mostly time spent queued in socket buffers"
        ),
        "the ceiling broadcasts pre-formatted events through one tokio broadcast channel of the \
         same capacity as the daemon's subscriber queue, yielding after each (burst) or sleeping \
         like the `sleep` tool (paced); the daemon also streams each progress notification back \
         to the publishing call"
            .to_owned(),
    ];
    Ok(ScenarioReport {
        name: "fanout",
        tables: vec![table],
        targets,
        notes,
        runs: measured.runs,
    })
}

/// How a follower's losses are counted, for the notes of both fan-out scenarios.
pub const LOSS_NOTE: &str = "a follower is complete when it received all events; one that fell \
     more than the subscriber queue behind is sent `event: lagged` with the count it missed \
     (counted above); an id gap no lag notice accounts for is an unexplained gap (a loss)";

/// How latency is measured, for the notes of both fan-out scenarios.
pub const LATENCY_NOTE: &str = "publish→receive is the event's own `timestamp` (taken when the \
     tool reports) against the time the load generator parsed it";
